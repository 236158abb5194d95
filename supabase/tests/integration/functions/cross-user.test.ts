/**
 * Ben can never push into or pull from Ada's data, whatever he names: her local_ids, her row ids,
 * her conversation as the home of his message, or her memory to score.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalUser } from '../../../../test-support/users.ts';
import { connectDb, device, footprint, invoke, item, pullAll, push, userPool } from './support.ts';

const sql = connectDb();
const users = userPool(sql);
let ada: LocalUser;
let ben: LocalUser;
let adaConversationId = '';
let adaMemoryId = '';

beforeAll(async () => {
  ada = await users.create('ada');
  ben = await users.create('ben');
  const results = await push(device(ada), [
    item.conversation('shared-name', { title: 'Ada only' }),
    item.message('ada-m', 'shared-name', 'Ada private message'),
    item.memory('ada-mem', { content: 'Ada is allergic to penicillin' }),
  ]);
  adaConversationId = results[0]!.id!;
  adaMemoryId = results[2]!.id!;
});
afterAll(async () => {
  await users.dropAll();
  await sql.end({ timeout: 5 });
});

describe('Ben and Ada', () => {
  it("Ben pushing Ada's local_ids writes his own rows and leaves hers alone", async () => {
    const adaBefore = await footprint(sql, ada.id);
    const results = await push(device(ben), [
      item.conversation('shared-name', { title: 'Ben took it' }, { base_version: 1 }),
      item.remove('memories', 'ada-mem'),
    ]);
    expect(results[0]).toMatchObject({ status: 'applied', version: 1 });
    expect(results[0]!.id).not.toBe(adaConversationId);
    expect(results[1]).toMatchObject({ status: 'unchanged', id: null });
    expect(await footprint(sql, ada.id)).toEqual(adaBefore);
  });

  it("Ben cannot put a message into Ada's conversation by its id", async () => {
    const [result] = await push(device(ben), [
      item.message('ben-m', 'x', 'sneaky', {
        fields: { conversation_id: adaConversationId, role: 'user', content: 'sneaky' },
      } as never),
    ]);
    expect(result).toMatchObject({ status: 'rejected', reason: 'reference_not_found' });
    const [count] = await sql<
      { n: number }[]
    >`select count(*)::int as n from public.messages where conversation_id = ${adaConversationId}`;
    expect(count!.n).toBe(1);
  });

  it("Ben's pulls never contain Ada's rows or tombstones", async () => {
    const { cursor } = await pullAll(device(ben));
    await push(device(ada), [item.remove('messages', 'ada-m'), item.conversation('ada-new', { title: 'new' })]);
    const first = await pullAll(device(ben));
    const since = await pullAll(device(ben), cursor);
    for (const change of [...first.changes, ...since.changes]) {
      expect(change.row?.user_id ?? ben.id).toBe(ben.id);
      expect(['ada-m', 'ada-new', 'ada-mem']).not.toContain(change.local_id);
    }
    expect(since.changes).toEqual([]);
  });

  it("a forged cursor does not open Ada's change log to Ben", async () => {
    const cursor = 'v1.' + Buffer.from(JSON.stringify({ since: '1:1:' })).toString('base64url');
    const { changes } = await pullAll(device(ben), cursor);
    expect(changes.every((c) => c.row === null || c.row.user_id === ben.id)).toBe(true);
    expect(changes.some((c) => ['ada-m', 'ada-new', 'ada-mem'].includes(c.local_id ?? ''))).toBe(false);
  });

  it("Ben cannot score, or learn of, Ada's memory", async () => {
    const answer = await invoke<{ error: string }>(device(ben), 'score-memory', { memory_id: adaMemoryId });
    expect(answer).toMatchObject({ status: 404, body: { error: 'memory_not_found' } });
    const [row] = await sql<
      { importance_score: number; version: string }[]
    >`select importance_score, version from public.memories where id = ${adaMemoryId}`;
    expect(Number(row!.version)).toBe(1);
  });
});
