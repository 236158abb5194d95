/**
 * The store's merge and reconcile rules, without a server: changes arrive twice, late, out of
 * order, and the outbox's items meet every status sync can answer.
 */
import { describe, expect, it } from 'vitest';
import type { PushResult, SyncItem } from '../supabase/functions/_shared/sync-protocol.ts';
import { MemoryStorage } from './storage.ts';
import { LocalStore } from './store.ts';
import type { RemoteChange } from './types.ts';

const idA = '00000000-0000-4000-8000-00000000000a';
const idB = '00000000-0000-4000-8000-00000000000b';

function memory(version: number, content: string, id = idA, localId = 'mem-1'): RemoteChange {
  return {
    table: 'memories',
    op: 'upsert',
    id,
    local_id: localId,
    version,
    row: { id, local_id: localId, user_id: 'u', content, version },
    source: 'realtime',
  };
}
const removed = (id = idA, version: number | null = null): RemoteChange => ({
  table: 'memories',
  op: 'delete',
  id,
  local_id: null,
  version,
  row: null,
  source: 'realtime',
});

function edit(content: string, extra: Partial<SyncItem> = {}): SyncItem {
  return {
    table: 'memories',
    op: 'upsert',
    local_id: 'mem-1',
    change_id: crypto.randomUUID(),
    client_updated_at: new Date().toISOString(),
    fields: { content },
    ...extra,
  } as SyncItem;
}
const result = (item: { change_id: string; local_id: string }, index: number, extra: Partial<PushResult>): PushResult =>
  ({
    index,
    table: 'memories',
    local_id: item.local_id,
    change_id: item.change_id,
    status: 'applied',
    ...extra,
  }) as PushResult;

describe('merging changes by table, id and version', () => {
  it('a duplicate or an older version never overwrites a newer row', () => {
    const store = new LocalStore(new MemoryStorage(), 'u');
    expect(store.merge(memory(2, 'second'))).toBe('applied');
    expect(store.merge(memory(2, 'second'))).toBe('duplicate');
    expect(store.merge(memory(1, 'first'))).toBe('stale');
    expect(store.get('memories', 'mem-1')).toMatchObject({ content: 'second', version: 2 });
    expect(store.merge(memory(3, 'third'))).toBe('applied');
    expect(store.get('memories', 'mem-1')?.content).toBe('third');
    expect(store.dropped).toBe(2);
  });

  it('a deleted id never comes back, even when an older event about it arrives late', () => {
    const store = new LocalStore(new MemoryStorage(), 'u');
    store.merge(memory(1, 'first'));
    expect(store.merge(removed())).toBe('applied');
    expect(store.get('memories', 'mem-1')).toBeNull();
    expect(store.merge(memory(5, 'late'))).toBe('stale');
    expect(store.get('memories', 'mem-1')).toBeNull();
  });

  it("a local id created again gets a new id: the old one's late delete leaves the new row alone", () => {
    const store = new LocalStore(new MemoryStorage(), 'u');
    store.merge(memory(3, 'old row', idA));
    expect(store.merge(memory(1, 'new row', idB))).toBe('applied');
    expect(store.get('memories', 'mem-1')).toMatchObject({ id: idB, content: 'new row', version: 1 });
    expect(store.merge(removed(idA))).toBe('stale');
    expect(store.merge(memory(4, 'old row again', idA))).toBe('stale');
    expect(store.get('memories', 'mem-1')).toMatchObject({ id: idB, content: 'new row' });

    // A device that only ever saw the new row: a pulled delete of the old id names the same local id.
    const fresh = new LocalStore(new MemoryStorage(), 'u');
    fresh.merge(memory(1, 'new row', idB));
    expect(fresh.merge({ ...removed(idA, 3), local_id: 'mem-1', source: 'pull' })).toBe('stale');
    expect(fresh.get('memories', 'mem-1')).toMatchObject({ id: idB, content: 'new row' });
  });

  it('a pending edit stays on top of newer server rows until it is answered', () => {
    const store = new LocalStore(new MemoryStorage(), 'u');
    store.merge(memory(1, 'server'));
    store.enqueue(edit('mine'));
    store.merge(memory(2, 'someone else'));
    expect(store.get('memories', 'mem-1')).toMatchObject({ content: 'mine', version: 2, pending: true });
  });
});

describe('reconciling push results', () => {
  it('applied takes the server id and version; the full row of that version still replaces the assembled one', () => {
    const store = new LocalStore(new MemoryStorage(), 'u');
    const item = store.enqueue(edit('hello'));
    expect(store.get('memories', 'mem-1')).toMatchObject({ id: null, version: null, pending: true });
    expect(store.reconcile([item], [result(item, 0, { status: 'applied', id: idA, version: 1 })])).toEqual([]);
    expect(store.get('memories', 'mem-1')).toMatchObject({ id: idA, version: 1, content: 'hello', pending: false });
    expect(store.queued).toEqual([]);
    expect(store.merge({ ...memory(1, 'hello'), row: { ...memory(1, 'hello').row, importance_score: 0.4 } })).toBe(
      'applied',
    );
    expect(store.get('memories', 'mem-1')?.importance_score).toBe(0.4);
    expect(store.merge(memory(1, 'hello'))).toBe('duplicate');
  });

  it('conflict rolls back to the server row; rejected rolls back with its reason', () => {
    const store = new LocalStore(new MemoryStorage(), 'u');
    store.merge(memory(1, 'server'));
    const lost = store.enqueue(edit('lost', { mode: 'cas', base_version: 1 }));
    const [conflict] = store.reconcile(
      [lost],
      [
        result(lost, 0, {
          status: 'conflict',
          id: idA,
          version: 2,
          row: { id: idA, local_id: 'mem-1', content: 'won', version: 2 },
        }),
      ],
    );
    expect(conflict).toMatchObject({ status: 'conflict', row: { content: 'won', version: 2, pending: false } });

    const bad = store.enqueue({
      table: 'messages',
      op: 'upsert',
      local_id: 'msg-1',
      change_id: crypto.randomUUID(),
      client_updated_at: new Date().toISOString(),
      fields: { conversation_local_id: 'nope', role: 'user', content: 'x' },
    } as SyncItem);
    expect(store.get('messages', 'msg-1')).not.toBeNull();
    const [rejected] = store.reconcile(
      [bad],
      [
        {
          ...result(bad, 0, { status: 'rejected', reason: 'reference_not_found', detail: 'no conversation' }),
          table: 'messages',
        },
      ],
    );
    expect(rejected).toMatchObject({
      status: 'rejected',
      reason: 'reference_not_found',
      detail: 'no conversation',
      row: null,
    });
    expect(store.get('messages', 'msg-1')).toBeNull();
  });

  it('rapid edits of one row before sending make one item; an item once sent is never changed', () => {
    const store = new LocalStore(new MemoryStorage(), 'u');
    const first = store.enqueue(edit('a'));
    store.enqueue(edit('ab'));
    expect(store.queued).toHaveLength(1);
    expect(store.queued[0]!.fields).toEqual({ content: 'ab' });
    store.markSent([first]);
    store.enqueue(edit('abc'));
    expect(store.queued.map((item) => item.fields)).toEqual([{ content: 'ab' }, { content: 'abc' }]);
    expect(store.queued[0]!.change_id).toBe(first.change_id);
  });

  it('the outbox and the rows survive a restart, sent flags and change ids included', async () => {
    const storage = new MemoryStorage();
    const store = new LocalStore(storage, 'u');
    store.merge(memory(1, 'server'));
    const item = store.enqueue(edit('offline'));
    store.markSent([item]);
    store.cursor = 'v1.abc';
    await store.persisted();

    const again = new LocalStore(storage, 'u');
    await again.load();
    expect(again.cursor).toBe('v1.abc');
    expect(again.queued).toEqual([{ ...item, sent: true }]);
    expect(again.get('memories', 'mem-1')).toMatchObject({ content: 'offline', version: 1, pending: true });
  });
});
