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

  it('a journal past its limit is folded into the snapshot, and the rows read back the same', async () => {
    const factory = new IDBFactory();
    const storage = new IndexedDbStorage('virgil-sync-compact', factory, { compactAbove: 10, chunkRows: 4 });
    const rows = Array.from({ length: 25 }, (_, i): StoredEntry => ({ ...entry, key: `m-${i}`, local_id: `m-${i}` }));
    await storage.write({ entries: rows.slice(0, 9) });
    // Past the limit: a removal of a row in the snapshot must survive the fold as an absence.
    await storage.write({ entries: rows.slice(9), removeEntries: ['memories/m-3'] });
    await storage.close();
    const opened = factory.open('virgil-sync-compact', 2);
    const db = await new Promise<typeof opened.result>((resolve) => {
      opened.onsuccess = () => resolve(opened.result);
    });
    const count = (store: string) =>
      new Promise<number>((resolve) => {
        const req = db.transaction([store], 'readonly').objectStore(store).count();
        req.onsuccess = () => resolve(req.result);
      });
    expect({ snapshot: await count('snapshot'), journal: await count('entries') }).toEqual({ snapshot: 6, journal: 0 });
    db.close();

    const reopened = new IndexedDbStorage('virgil-sync-compact', factory, { compactAbove: 10, chunkRows: 4 });
    await reopened.write({ removeEntries: ['memories/m-5'], entries: [{ ...rows[7]!, id: 'changed' }] });
    const keys = (await reopened.load()).entries.map((row) => `${row.key}${row.id ? `:${row.id}` : ''}`).sort();
    const expected = rows
      .filter((row) => !['m-3', 'm-5'].includes(row.key))
      .map((row) => (row.key === 'm-7' ? 'm-7:changed' : row.key))
      .sort();
    expect(keys).toEqual(expected);
    await reopened.close();
  });

  it('a database of the first schema (one record per row, no snapshot) opens with its rows', async () => {
    const factory = new IDBFactory();
    await new Promise<void>((resolve) => {
      const req = factory.open('virgil-sync-v1', 1);
      req.onupgradeneeded = () => {
        for (const store of ['outbox', 'entries', 'meta']) req.result.createObjectStore(store);
        req.result.createObjectStore('unused');
      };
      req.onsuccess = () => {
        const tx = req.result.transaction(['outbox', 'entries', 'meta'], 'readwrite');
        tx.objectStore('entries').put(entry, 'memories/m-1');
        tx.objectStore('outbox').put(item(1), item(1).change_id);
        tx.objectStore('meta').put('v1.cursor', 'cursor');
        tx.oncomplete = () => {
          req.result.close();
          resolve();
        };
      };
    });
    const storage = new IndexedDbStorage('virgil-sync-v1', factory);
    expect(await storage.load()).toEqual({ cursor: 'v1.cursor', entries: [entry], outbox: [item(1)] });
    await storage.close();
  });
});
