/**
 * Auth's per-IP limits from `[auth.rate_limit]`, on a service of its own in this process (the test
 * stack raises them, since every test signs in from one address), and the settings that only a
 * service of its own can change: anonymous sign-ins switched on.
 */
import type { AddressInfo } from 'node:net';
import { createClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config.ts';
import { createServiceServer, type GatewayService } from '../../gateway/server.ts';
import { authService } from '../service.ts';
import { seeded, seededPassword } from '../../../test-support/auth.ts';

const base = loadConfig({
  ...process.env,
  VIRGIL_AUTH_RATE_LIMIT_SIGN_IN_SIGN_UPS: '3',
  VIRGIL_AUTH_RATE_LIMIT_TOKEN_REFRESH: '100',
});
let service: GatewayService;
let server: ReturnType<typeof createServiceServer>;
let url: string;

beforeAll(async () => {
  service = await authService({ ...base, auth: { ...base.auth, enableAnonymousSignIns: true } });
  server = createServiceServer([service], () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await service.close();
});

// The service's own server stands where the gateway would; the anon key is what the gateway forwards.
const client = () => createClient(url, base.keys.anonKey, { auth: { persistSession: false, autoRefreshToken: false } });

describe('Auth rate limits and anonymous sign-ins', () => {
  it('admits sign_in_sign_ups requests per 5 minutes per IP, then answers 429 over_request_rate_limit', async () => {
    const answers = [];
    for (let i = 0; i < 5; i++)
      answers.push(await client().auth.signInWithPassword({ email: seeded.ada, password: seededPassword }));
    expect(answers.map((answer) => answer.error?.status ?? 200)).toEqual([200, 200, 200, 429, 429]);
    expect(answers[4]!.error?.code).toBe('over_request_rate_limit');
  });

  it('signs in anonymously when enabled: an authenticated user marked is_anonymous', async () => {
    const { data, error } = await client().auth.signInAnonymously();
    expect(error).toBeNull();
    expect(data.user).toMatchObject({
      is_anonymous: true,
      role: 'authenticated',
      app_metadata: { provider: 'anonymous' },
    });
  });
});
