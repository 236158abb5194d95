/**
 * Signing in through the local Auth service (/auth/v1) with the real supabase-js, as an app does:
 * the publishable key, a session kept in memory, and helpers to make a fresh account per test.
 */
import { createClient, type Session, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';

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
