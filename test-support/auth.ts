/**
 * Signing in through the local Auth service (/auth/v1) with the real supabase-js, as an app does:
 * the publishable key, a session kept in memory, and helpers to make a fresh account per test.
 */
import type { AddressInfo } from 'node:net';
import { createClient, type Session, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { authService } from '../stack/auth/service.ts';
import { loadConfig, type StackConfig } from '../stack/config.ts';
import { createServiceServer } from '../stack/gateway/server.ts';

const required = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through \`npm test\`, or export the stack variables`);
  return value;
};

/** The seeded people's password (supabase/seed.sql). */
export const seededPassword = 'virgil-demo-password';
export const seeded = { ada: 'ada@virgil.test', ben: 'ben@virgil.test' } as const;

/** A supabase-js client with the publishable key (or `key`), its session in memory only. */
export function authClient(key = required('PUBLISHABLE_KEY')): SupabaseClient {
  return createClient(required('API_URL'), key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: WebSocket as never, logger: () => undefined },
  });
}

export interface SignedIn {
  client: SupabaseClient;
  session: Session;
  userId: string;
}

export async function signIn(email: string, password = seededPassword, client = authClient()): Promise<SignedIn> {
  const { data, error } = await client.auth.signInWithPassword({ email, password });
  if (error || !data.session) throw new Error(`sign-in of ${email} failed: ${error?.message ?? 'no session'}`);
  return { client, session: data.session, userId: data.session.user.id };
}

/** Signs up a new account with a unique address; returns it signed in. */
export async function signUpFresh(
  label: string,
  password = 'a-good-password-1',
): Promise<SignedIn & { email: string; password: string }> {
  const email = `${label}-${crypto.randomUUID().slice(0, 8)}@auth.test`;
  const client = authClient();
  const { data, error } = await client.auth.signUp({ email, password });
  if (error || !data.session) throw new Error(`sign-up of ${email} failed: ${error?.message ?? 'no session'}`);
  return { client, session: data.session, userId: data.session.user.id, email, password };
}

export interface OwnAuthService {
  /** Base URL: `<url>/auth/v1/...` as behind the gateway. */
  url: string;
  config: StackConfig;
  close(): Promise<void>;
}

/**
 * An Auth service of a test's own, in the test's process, on the stack's database and key set but
 * with settings the test names (environment overrides such as VIRGIL_AUTH_JWT_EXPIRY, or a change
 * to the resolved settings), so its tokens are good everywhere in the stack.
 */
export async function startOwnAuthService(
  env: Record<string, string> = {},
  change: (config: StackConfig) => StackConfig = (config) => config,
): Promise<OwnAuthService> {
  const config = change(loadConfig({ ...process.env, ...env }));
  const service = await authService(config);
  const server = createServiceServer([service], () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    config,
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      await service.close();
    },
  };
}
