import { describe, expect, it } from 'vitest';
import type { UserClaims } from './auth.ts';
import type { Sql } from './db.ts';
import { HttpError, retryAfterSeconds } from './errors.ts';
import { errorResponse } from './http.ts';
import { pull, push } from './sync-service.ts';

const claims = { sub: '5b0c2d3e-8f1a-4b6c-9d2e-0f1a2b3c4d5e', role: 'authenticated', exp: 4102444800 } as UserClaims;
/** A database whose every transaction fails with this SQLSTATE. */
const failingWith = (code: string) =>
  ({ begin: async () => Promise.reject(Object.assign(new Error(`failed with ${code}`), { code })) }) as unknown as Sql;
const caught = (work: Promise<unknown>) =>
  work.then(
    () => undefined,
    (error: unknown) => error,
  );

describe('pull', () => {
  it('answers invalid_cursor when the database cannot read a cursor that passed the checks here', async () => {
    // As sync_pull answers a snapshot pg_snapshot refuses: invalid input syntax (22P02).
    const error = await caught(pull(failingWith('22P02'), claims, { since: '1:2:' }, 10));
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).code).toBe('invalid_cursor');
  });

  it('answers a statement timeout with a 503, not as the cursor', async () => {
    const error = await caught(pull(failingWith('57014'), claims, { since: '1:2:' }, 10));
    expect((error as HttpError).status).toBe(503);
  });
});

describe('push', () => {
  it('is answered 503 with Retry-After after a statement timeout or a lock wait, without running it again', async () => {
    for (const code of ['57014', '55P03']) {
      let calls = 0;
      const sql = {
        begin: async () => ((calls += 1), Promise.reject(Object.assign(new Error(code), { code }))),
      } as unknown as Sql;
      const item = {
        table: 'conversations',
        op: 'upsert',
        local_id: 'c',
        change_id: claims.sub,
        client_updated_at: '2026-11-25T10:00:00Z',
      } as const;
      const response = errorResponse(await caught(push(sql, claims, [item])), () => {});
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe(String(retryAfterSeconds.busy));
      expect(((await response.json()) as { error: string }).error).toBe('service_unavailable');
      expect(calls).toBe(1);
    }
  });
});
