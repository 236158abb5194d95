/**
 * `sync` push over HTTP with supabase-js: per-item results, order, idempotent replays, conflict
 * rules (last-write-wins by default, compare-and-set on request), tombstones and memory scoring.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalUser } from '../../../../test-support/users.ts';
import { connectDb, device, editTime, footprint, item, push, userPool } from './support.ts';

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

async function row(table: string, userId: string, localId: string) {
  const rows = await sql.unsafe(`select * from public.${table} where user_id = $1 and local_id = $2`, [
    userId,
    localId,
  ]);
  return rows[0] as Record<string, unknown> | undefined;
}

describe('push', () => {
  it('creates a conversation and its first message in one batch, in order', async () => {
    const laptop = device(ada);
    const results = await push(laptop, [item.conversation('c1', { title: 'Trip' }), item.message('m1', 'c1', 'Hello')]);
    expect(results.map((r) => r.status)).toEqual(['applied', 'applied']);
    expect(results[0]).toMatchObject({ index: 0, table: 'conversations', local_id: 'c1', version: 1 });
    const conversation = await row('conversations', ada.id, 'c1');
    const message = await row('messages', ada.id, 'm1');
    expect(message?.conversation_id).toBe(conversation?.id);
    expect(conversation?.message_count).toBe(1);
  });

  it('rejects a bad item with a reason and still applies the others', async () => {
    const results = await push(device(ada), [
      item.message('m-orphan', 'no-such-conversation', 'lost'),
      item.conversation('c2', { title: 'ok' }),
      item.message('m-big', 'c2', 'big', {
        fields: { conversation_local_id: 'c2', role: 'user', content: 'big', metadata: { blob: 'x'.repeat(70_000) } },
      } as never),
      item.message('m2', 'c2', 'fine'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'applied', 'rejected', 'applied']);
    expect(results[0]!.reason).toBe('reference_not_found');
    expect(results[2]).toMatchObject({ reason: 'constraint_violated', constraint: 'messages_metadata_size' });
    expect(await row('messages', ada.id, 'm-orphan')).toBeUndefined();
    expect((await row('conversations', ada.id, 'c2'))?.message_count).toBe(1);
  });

  it('a batch of new rows with one bad value still applies the rest, item by item', async () => {
    const results = await push(device(ada), [
      item.conversation('bulk-c', { title: 'new' }),
      item.message('bulk-m1', 'bulk-c', 'fine'),
      item.message('bulk-m2', 'bulk-c', 'big', {
        fields: {
          conversation_local_id: 'bulk-c',
          role: 'user',
          content: 'big',
          metadata: { blob: 'x'.repeat(70_000) },
        },
      } as never),
      item.memory('bulk-mem', { content: 'fine too' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['applied', 'applied', 'rejected', 'applied']);
    expect((await row('conversations', ada.id, 'bulk-c'))?.message_count).toBe(1);
  });

  it('order inside a batch is honoured: a message sent before its conversation is rejected', async () => {
    const results = await push(device(ada), [
      item.message('m3', 'c3', 'too early'),
      item.conversation('c3', { title: 'late' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'applied']);
  });

  it('replaying a whole batch returns the same results and changes nothing', async () => {
    const phone = device(ada);
    const batch = [
      item.conversation('r-c', { title: 'Replay' }),
      item.message('r-m1', 'r-c', 'one'),
      item.message('r-m2', 'r-c', 'two'),
      item.memory('r-mem', { content: 'Ada likes figs' }),
    ];
    const first = await push(phone, batch);
    const before = await footprint(sql, ada.id);
    const conversationBefore = await row('conversations', ada.id, 'r-c');
    const again = await push(phone, batch);
    const andAgain = await push(device(ada), batch.slice(1, 3));
    expect(again).toEqual(first);
    expect(andAgain).toEqual(first.slice(1, 3).map((r, i) => ({ ...r, index: i })));
    expect(await footprint(sql, ada.id)).toEqual(before);
    const conversationAfter = await row('conversations', ada.id, 'r-c');
    expect(conversationAfter?.version).toBe(conversationBefore?.version);
    expect(conversationAfter?.message_count).toBe(2);
  });

  it('an upsert that changes nothing is unchanged and bumps no version', async () => {
    const laptop = device(ada);
    await push(laptop, [item.conversation('same', { title: 'Same' })]);
    const [result] = await push(laptop, [item.conversation('same', { title: 'Same' })]);
    expect(result).toMatchObject({ status: 'unchanged', version: 1 });
  });

  it('a change_id reused for another row is rejected', async () => {
    const first = item.conversation('cid-1', { title: 'a' });
    await push(device(ada), [first]);
    const [result] = await push(device(ada), [
      item.conversation('cid-2', { title: 'b' }, { change_id: first.change_id }),
    ]);
    expect(result).toMatchObject({ status: 'rejected', reason: 'invalid_item' });
  });
});

describe('conflicts', () => {
  it('last write wins by client edit time; the loser gets the server row back', async () => {
    const laptop = device(ada);
    const phone = device(ada);
    const [created] = await push(laptop, [item.conversation('lww', { title: 'v1' })]);
    const early = editTime(-60_000);
    const late = editTime();
    // Both devices edited version 1 while offline; the later edit arrives first.
    const [phoneResult] = await push(phone, [
      item.conversation('lww', { title: 'phone (later)' }, { base_version: 1, client_updated_at: late }),
    ]);
    const [laptopResult] = await push(laptop, [
      item.conversation('lww', { title: 'laptop (earlier)' }, { base_version: 1, client_updated_at: early }),
    ]);
    expect(created!.status).toBe('applied');
    expect(phoneResult!.status).toBe('applied');
    expect(laptopResult).toMatchObject({ status: 'conflict', version: 2, deleted: false });
    expect(laptopResult!.row).toMatchObject({ title: 'phone (later)', version: 2 });
    expect((await row('conversations', ada.id, 'lww'))?.title).toBe('phone (later)');
  });

  it('an edit based on the current version applies even with an older clock', async () => {
    const laptop = device(ada);
    await push(laptop, [item.conversation('skew', { title: 'v1' }, { client_updated_at: editTime(3_600_000) })]);
    const [result] = await push(device(ada), [
      item.conversation('skew', { title: 'v2' }, { base_version: 1, client_updated_at: editTime() }),
    ]);
    expect(result).toMatchObject({ status: 'applied', version: 2 });
  });

  it('equal edit times are broken by change_id, whatever the arrival order', async () => {
    const at = editTime();
    for (const [localId, order] of [
      ['tie-a', [0, 1]],
      ['tie-b', [1, 0]],
    ] as const) {
      const ids = [crypto.randomUUID(), crypto.randomUUID()].sort();
      await push(device(ada), [item.conversation(localId, { title: 'v1' })]);
      for (const i of order) {
        await push(device(ada), [
          item.conversation(
            localId,
            { title: `edit ${i}` },
            { base_version: 1, client_updated_at: at, change_id: ids[i]! },
          ),
        ]);
      }
    }
    expect((await row('conversations', ada.id, 'tie-a'))?.title).toBe('edit 1');
    expect((await row('conversations', ada.id, 'tie-b'))?.title).toBe('edit 1');
  });

  it('compare-and-set applies only on the current version', async () => {
    await push(device(ada), [item.memory('cas', { content: 'first' })]);
    const [stale] = await push(device(ada), [
      item.memory('cas', { content: 'stale' }, { mode: 'cas', base_version: 0, client_updated_at: editTime(60_000) }),
    ]);
    const [current] = await push(device(ada), [
      item.memory('cas', { content: 'second' }, { mode: 'cas', base_version: 1 }),
    ]);
    expect(stale).toMatchObject({ status: 'conflict', version: 1 });
    expect(stale!.row).toMatchObject({ content: 'first' });
    expect(current).toMatchObject({ status: 'applied', version: 2 });
  });

  it('a delete leaves a tombstone: an older edit cannot bring the row back, a newer one can', async () => {
    await push(device(ada), [item.memory('tomb', { content: 'soon gone' })]);
    const olderEdit = editTime(-60_000);
    const [deleted] = await push(device(ada), [item.remove('memories', 'tomb')]);
    const [old] = await push(device(ada), [
      item.memory('tomb', { content: 'stale edit' }, { base_version: 1, client_updated_at: olderEdit }),
    ]);
    expect(deleted).toMatchObject({ status: 'applied', version: 2 });
    expect(old).toMatchObject({ status: 'conflict', deleted: true, row: null });
    expect(await row('memories', ada.id, 'tomb')).toBeUndefined();
    const [revived] = await push(device(ada), [item.memory('tomb', { content: 'back again' })]);
    expect(revived!.status).toBe('applied');
    expect((await row('memories', ada.id, 'tomb'))?.content).toBe('back again');
  });

  it('deleting a row that is not there is unchanged', async () => {
    const [result] = await push(device(ada), [item.remove('conversations', 'never-existed')]);
    expect(result).toMatchObject({ status: 'unchanged', id: null });
  });
});

describe('memories pushed through sync', () => {
  it('get an importance_score from the scorer unless the device sends one', async () => {
    await push(device(ada), [
      item.memory('score-high', { content: 'Remember: I am allergic to peanuts' }),
      item.memory('score-low', { content: 'ok thanks' }),
      item.memory('score-given', { content: 'Remember: I am allergic to peanuts', importance_score: 0.25 }),
    ]);
    const high = Number((await row('memories', ada.id, 'score-high'))?.importance_score);
    const low = Number((await row('memories', ada.id, 'score-low'))?.importance_score);
    expect(high).toBeGreaterThan(0.7);
    expect(low).toBeLessThan(0.1);
    expect(Number((await row('memories', ada.id, 'score-given'))?.importance_score)).toBe(0.25);
  });
});
