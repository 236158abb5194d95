/**
 * Bad requests to the functions: each gets a JSON error with a stable code and the right status,
 * never a 500, and nothing is written.
 */
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintUserToken } from '../../../../test-support/identity.ts';
import type { LocalUser } from '../../../../test-support/users.ts';
import { syncLimits } from '../../../functions/_shared/sync-protocol.ts';
import { anonKey, apiUrl, connectDb, device, footprint, functionsUrl, invoke, item, userPool } from './support.ts';

const sql = connectDb();
const users = userPool(sql);
let ada: LocalUser;

beforeAll(async () => {
  ada = await users.create('ada');
});
afterAll(async () => {
  await users.dropAll();
  await sql.end({ timeout: 5 });
});

/** A client that sends exactly this Authorization header. */
function clientWith(authorization: string) {
  return createClient(apiUrl, anonKey || 'anon', {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: WebSocket as never },
    global: { headers: { Authorization: authorization } },
  });
}

const goodBatch = () => [item.conversation('should-not-exist', { title: 'x' })];

async function expectNothingWritten(work: () => Promise<void>) {
  const before = await footprint(sql, ada.id);
  await work();
  expect(await footprint(sql, ada.id)).toEqual(before);
}

describe('bad input', () => {
  it.each([
    ['invalid JSON', '{"push": [', 'invalid_json'],
    ['an empty body', '', 'invalid_json'],
    ['JSON that is not an object', '[1, 2, 3]', 'invalid_request'],
    ['neither push nor pull', '{}', 'invalid_request'],
  ])('%s is a 400', async (_name, body, code) => {
    await expectNothingWritten(async () => {
      const response = await fetch(`${functionsUrl}/sync`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ada.token}`, 'content-type': 'application/json' },
        body,
      });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toBe(code);
    });
  });

  it.each([
    ['an unknown table', { table: 'auth.users' }],
    ['an unknown column', { fields: { title: 'x', user_id: '00000000-0000-0000-0000-000000000000' } }],
    ['a column of another table', { fields: { content: 'x' } }],
    ['a wrong type', { fields: { title: 42 } }],
    ['a missing change_id', { change_id: undefined }],
    ['an edit time that is not a time', { client_updated_at: 'yesterday' }],
    ['a negative base_version', { base_version: -1 }],
    ['an unknown mode', { mode: 'force' }],
    ['a delete with fields', { op: 'delete' }],
  ])('%s makes the whole batch a 400, good items included', async (_name, change) => {
    await expectNothingWritten(async () => {
      const bad = { ...item.conversation('bad', { title: 'x' }), ...change };
      const answer = await invoke<{ error: string; details: unknown[] }>(device(ada), 'sync', {
        push: [...goodBatch(), bad],
      });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_request');
      expect(answer.body.details.length).toBeGreaterThan(0);
    });
  });

  it('a batch with more items than allowed is a 413', async () => {
    await expectNothingWritten(async () => {
      const items = Array.from({ length: syncLimits.maxItems + 1 }, (_, i) => item.conversation(`many-${i}`));
      const answer = await invoke<{ error: string }>(device(ada), 'sync', { push: items });
      expect(answer).toMatchObject({ status: 413, body: { error: 'batch_too_large' } });
    });
  });

  it('a body larger than allowed is a 413', async () => {
    await expectNothingWritten(async () => {
      const content = 'x'.repeat(90_000);
      const items = Array.from({ length: 50 }, (_, i) => item.message(`big-${i}`, 'nowhere', content));
      const answer = await invoke<{ error: string }>(device(ada), 'sync', { push: items });
      expect(answer).toMatchObject({ status: 413, body: { error: 'payload_too_large' } });
    });
  });

  it('a method other than POST is a 405', async () => {
    for (const method of ['GET', 'PUT', 'DELETE'] as const) {
      const { error } = await device(ada).functions.invoke('sync', { method });
      const response = (error as { context: Response }).context;
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('POST, OPTIONS');
      expect(((await response.json()) as { error: string }).error).toBe('method_not_allowed');
    }
  });
});

describe('bad tokens', () => {
  it('no Authorization header is a 401 from the gateway', async () => {
    await expectNothingWritten(async () => {
      // supabase-js always sends the anon key at least, so this is what a bare HTTP client sends.
      const response = await fetch(`${functionsUrl}/sync`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ push: goodBatch() }),
      });
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({
        code: 'UNAUTHORIZED_NO_AUTH_HEADER',
        message: 'Missing authorization header',
      });
    });
  });

  it.each([
    ['an expired token', async () => mintUserToken(ada.id, { expiresIn: -60 })],
    [
      'a token signed with another secret',
      async () => mintUserToken(ada.id, { secret: 'not-the-project-secret-but-long-enough-for-hs256' }),
    ],
    ['a token that is not a JWT', async () => 'not-a-jwt'],
    [
      'a token whose payload was changed',
      async () => {
        const [header, , signature] = ada.token.split('.');
        const payload = Buffer.from(JSON.stringify({ sub: ada.id, role: 'service_role', exp: 4102444800 })).toString(
          'base64url',
        );
        return `${header}.${payload}.${signature}`;
      },
    ],
  ])('%s is a 401 from the gateway', async (_name, token) => {
    await expectNothingWritten(async () => {
      const answer = await invoke<{ code: string }>(clientWith(`Bearer ${await token()}`), 'sync', {
        push: goodBatch(),
      });
      expect(answer).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED_INVALID_JWT_FORMAT' } });
    });
  });

  it.each([
    ['the anon key', () => process.env.ANON_KEY ?? ''],
    ['the service_role key', () => process.env.SERVICE_ROLE_KEY ?? ''],
  ])('%s is a 401 from the function: sync acts only as a signed-in user', async (_name, key) => {
    expect(key()).not.toBe('');
    await expectNothingWritten(async () => {
      const answer = await invoke<{ error: string }>(clientWith(`Bearer ${key()}`), 'sync', { push: goodBatch() });
      expect(answer).toMatchObject({ status: 401, body: { error: 'user_token_required' } });
    });
  });

  it('an unknown function is a 404', async () => {
    const answer = await invoke<{ code: string }>(device(ada), 'no-such-function', {});
    expect(answer).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
  });
});
