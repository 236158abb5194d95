import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { IndexedDbStorage } from './indexeddb-storage.ts';
import type { OutboxItem, StoredEntry } from './types.ts';

// change_ids sort in the reverse of queue order, so the storage must order by seq itself.
const item = (seq: number): OutboxItem =>
  ({
    table: 'memories',
    op: 'upsert',
    local_id: `m-${seq}`,
    change_id: `${9 - seq}0000000-0000-4000-8000-000000000000`,
    client_updated_at: '2026-11-30T10:00:00Z',
    fields: { content: `c${seq}` },
    seq,
    sent: seq === 1,
  }) as OutboxItem;
const entry: StoredEntry = { table: 'memories', key: 'm-1', local_id: 'm-1', id: null, server: null, partial: false };

describe('IndexedDbStorage', () => {
  it('keeps the outbox in order, the entries and the cursor across a reopen', async () => {
    const factory = new IDBFactory();
    const first = new IndexedDbStorage('virgil-sync-test', factory);
    const items = [item(3), item(1), item(2)];
    await first.write({ outbox: items, entries: [entry], cursor: 'v1.x' });
    await first.write({ removeOutbox: [items[2]!.change_id] });
    await first.close();

    const reopened = new IndexedDbStorage('virgil-sync-test', factory);
    const state = await reopened.load();
    expect(state.outbox.map((queued) => queued.seq)).toEqual([1, 3]);
    expect(state.outbox[0]).toEqual(items[1]);
    expect(state.entries).toEqual([entry]);
    expect(state.cursor).toBe('v1.x');
    await reopened.write({ removeEntries: ['memories/m-1'], cursor: null });
    expect(await reopened.load()).toMatchObject({ entries: [], cursor: null });
    await reopened.close();
  });

  it('a fresh database is empty', async () => {
    const storage = new IndexedDbStorage('virgil-sync-empty', new IDBFactory());
    expect(await storage.load()).toEqual({ cursor: null, entries: [], outbox: [] });
    await storage.close();
  });
});
