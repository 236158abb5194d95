/**
 * A database too busy to finish a request in time: the request waits for a row lock another
 * transaction holds until the statement timeout (8 s, supabase/functions/_shared/db.ts) cancels it.
 * The answer is the retryable `503 service_unavailable` with `Retry-After`, never a 500; the push
 * was one transaction, so nothing of it is written; and the very same request, sent again once the
 * lock is gone, is applied once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalUser } from '../../../../test-support/users.ts';
import { retryAfterSeconds } from '../../../functions/_shared/errors.ts';
import type { SyncItem } from '../../../functions/_shared/sync-protocol.ts';
import { connectDb, device, footprint, functionsUrl, item, push, userPool } from './support.ts';

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

async function post(fn: string, body: unknown) {
  const response = await fetch(`${functionsUrl}/${fn}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ada.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: (await response.json()) as Record<string, unknown>,
  };
}

/** Runs `work` while another transaction holds `for update` on the rows `lock` selects. */
async function whileLocked<T>(lock: (tx: typeof sql) => Promise<unknown>, work: () => Promise<T>): Promise<T> {
  const holder = await sql.reserve();
  try {
    await holder`begin`;
    await lock(holder as unknown as typeof sql);
    return await work();
  } finally {
    await holder`rollback`;
    holder.release();
  }
}

describe('a database too busy to answer in time', () => {
  it('answers a push and a scoring that wait out the statement timeout with 503 and Retry-After, writing nothing', async () => {
    const [conversation, memory] = await push(device(ada), [
      item.conversation('held', { title: 'before' }),
      item.memory('held-memory', { content: 'Remember: I am allergic to peanuts', importance_score: 0.2 }),
    ]);
    const batch: SyncItem[] = [
      item.conversation('held', { title: 'after' }),
      item.message('held-m1', 'held', 'written only with the rest'),
      item.conversation('fresh', { title: 'new' }),
    ];
    const before = await footprint(sql, ada.id);

    const [pushed, scored] = await whileLocked(
      (tx) =>
        tx`select 1 from public.conversations c, public.memories m where c.id = ${conversation!.id!} and m.id = ${memory!.id!} for update`,
      () => Promise.all([post('sync', { push: batch }), post('score-memory', { memory_id: memory!.id })]),
    );

    for (const answer of [pushed, scored]) {
      expect(answer.status).toBe(503);
      expect(answer.retryAfter).toBe(String(retryAfterSeconds.busy));
      expect(answer.body.error).toBe('service_unavailable');
    }
    expect(await footprint(sql, ada.id)).toEqual(before);

    // The same request again, lock gone: applied, each item once.
    const again = await post('sync', { push: batch });
    expect(again.status).toBe(200);
    expect((again.body.push as { results: { status: string }[] }).results.map((r) => r.status)).toEqual([
      'applied',
      'applied',
      'applied',
    ]);
    const [row] = await sql<{ title: string; message_count: number }[]>`
      select title, message_count from public.conversations where id = ${conversation!.id!}`;
    expect(row).toEqual({ title: 'after', message_count: 1 });
  });
});
