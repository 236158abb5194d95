/**
 * `sync` pull: everything changed since a cursor, deletions included, in pages, and never a row
 * skipped, even when transactions commit in another order than they started.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userClaims } from '../../../../test-support/as-user.ts';
import type { LocalUser } from '../../../../test-support/users.ts';
import { connectDb, device, invoke, item, pullAll, push, sync, userPool } from './support.ts';

const sql = connectDb(6);
const users = userPool(sql);
let ada: LocalUser;

beforeAll(async () => {
  ada = await users.create('ada');
});
afterAll(async () => {
  await users.dropAll();
  await sql.end({ timeout: 5 });
});

const keyOf = (change: { table: string; local_id: string | null; op: string }) =>
  `${change.table}:${change.local_id}:${change.op}`;

describe('pull', () => {
  it('a first pull returns the current rows and no tombstones', async () => {
    const laptop = device(ada);
    await push(laptop, [
      item.conversation('p-c', { title: 'kept' }),
      item.conversation('p-gone', { title: 'deleted' }),
    ]);
    await push(laptop, [item.remove('conversations', 'p-gone')]);
    const { changes } = await pullAll(device(ada));
    expect(changes.map(keyOf)).toContain('conversations:p-c:upsert');
    expect(changes.some((c) => c.local_id === 'p-gone')).toBe(false);
    expect(changes.find((c) => c.local_id === 'p-c')?.row).toMatchObject({ title: 'kept', version: 1 });
  });

  it('a device that was offline during a delete learns of it, with its cascade', async () => {
    const laptop = device(ada);
    const phone = device(ada);
    await push(laptop, [
      item.conversation('d-c', { title: 'to delete' }),
      item.message('d-m1', 'd-c', 'a'),
      item.message('d-m2', 'd-c', 'b'),
    ]);
    const { cursor } = await pullAll(phone);
    await push(laptop, [item.remove('conversations', 'd-c')]);
    const { changes } = await pullAll(phone, cursor);
    expect(changes.map(keyOf).sort()).toEqual([
      'conversations:d-c:delete',
      'messages:d-m1:delete',
      'messages:d-m2:delete',
    ]);
    expect(changes.every((c) => c.row === null)).toBe(true);
  });

  it('pages cover every change exactly once, and a change made while paging comes in the next pull', async () => {
    const phone = device(ada);
    const { cursor: start } = await pullAll(phone);
    const items = Array.from({ length: 250 }, (_, i) =>
      item.memory(`page-${i}`, { content: `memory number ${i}`, importance_score: 0.5 }),
    );
    await push(device(ada), items);

    const first = (await sync(phone, { pull: { cursor: start, limit: 40 } })).pull!;
    expect(first.has_more).toBe(true);
    // While the phone pages: an edit of a row it already has, and a new row.
    await push(device(ada), [
      item.memory('page-0', { content: 'edited while paging' }),
      item.memory('page-new', { content: 'new while paging' }),
    ]);
    const rest = await pullAll(phone, first.cursor, 40);
    const seen = [...first.changes, ...rest.changes].map((c) => c.local_id);
    expect(new Set(seen).size).toBe(seen.length);
    expect(rest.pages).toBe(6);

    // Rows changed again during the pull are left for the next one (page-0, unless it came in the
    // first page), so the two pulls together hold every row, each in its latest state.
    const next = await pullAll(phone, rest.cursor);
    const nextIds = next.changes.map((c) => c.local_id);
    expect(nextIds.sort()).toEqual(['page-0', 'page-new']);
    expect(new Set([...seen, ...nextIds])).toEqual(new Set([...items.map((i) => i.local_id), 'page-new']));
    expect(seen.filter((id) => id !== 'page-0')).toHaveLength(249);
    expect(next.changes.find((c) => c.local_id === 'page-0')?.row).toMatchObject({
      content: 'edited while paging',
      version: 2,
    });
    expect((await pullAll(phone, next.cursor)).changes).toEqual([]);
  });

  it('never skips a row whose transaction committed after a later one', async () => {
    const phone = device(ada);
    const { cursor: before } = await pullAll(phone);

    // A slow writer starts first and holds its transaction open...
    const slow = await sql.reserve();
    try {
      await slow`begin`;
      await slow`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${JSON.stringify(userClaims(ada.id))}, true)`;
      await slow`insert into public.memories (local_id, content) values ('slow', 'written first, committed last')`;
      // ...while a fast one starts later and commits first.
      await push(device(ada), [
        item.memory('fast', { content: 'written second, committed first', importance_score: 0.5 }),
      ]);

      const during = await pullAll(phone, before);
      expect(during.changes.map((c) => c.local_id)).toEqual(['fast']);
      await slow`commit`;

      const after = await pullAll(phone, during.cursor);
      expect(after.changes.map((c) => c.local_id)).toEqual(['slow']);
    } finally {
      slow.release();
    }
    // The slow row is older by its timestamp: a cursor on updated_at would have moved past it.
    const [order] = await sql<{ slow_first: boolean }[]>`
      select (select updated_at from public.memories where user_id = ${ada.id} and local_id = 'slow')
           < (select updated_at from public.memories where user_id = ${ada.id} and local_id = 'fast') as slow_first`;
    expect(order!.slow_first).toBe(true);
  });

  it('a cursor that is not one of ours is a 400', async () => {
    for (const cursor of [
      'garbage',
      'v1.eyJzaW5jZSI6IjE6MTpkcm9wIHRhYmxlIn0',
      'v1.' + Buffer.from('{"since":"5:1:"; drop table"}').toString('base64url'),
    ]) {
      const answer = await invoke<{ error: string }>(device(ada), 'sync', { pull: { cursor } });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_cursor');
    }
  });
});
