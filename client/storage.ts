/**
 * Where a device keeps what must survive a restart: the outbox (edits not yet confirmed by the
 * server), the server's last known rows, and the pull cursor. Pluggable: `MemoryStorage` here,
 * `IndexedDbStorage` in a browser (indexeddb-storage.ts).
 *
 * Every `write` is one unit: a storage either applies all of it or none (IndexedDB: one
 * transaction), so an outbox item never disappears without the row state that replaced it.
 */
import type { OutboxItem, StoredEntry } from './types.ts';

export interface StoredState {
  cursor: string | null;
  entries: StoredEntry[];
  outbox: OutboxItem[];
}

export interface StorageWrite {
  entries?: StoredEntry[];
  /** Entry keys as `table/key`. */
  removeEntries?: string[];
  outbox?: OutboxItem[];
  /** change_ids. */
  removeOutbox?: string[];
  /** A new cursor (undefined: unchanged). */
  cursor?: string | null;
}

export interface ClientStorage {
  load(): Promise<StoredState>;
  write(change: StorageWrite): Promise<void>;
  close(): Promise<void>;
}

export const entryKey = (entry: { table: string; key: string }) => `${entry.table}/${entry.key}`;

/**
 * Keeps everything in memory. A restart of the app is simulated by giving the same instance to a
 * new client; values are copied in and out, as a real storage would serialize them.
 */
export class MemoryStorage implements ClientStorage {
  private cursor: string | null = null;
  private readonly entries = new Map<string, StoredEntry>();
  private readonly outbox = new Map<string, OutboxItem>();

  async load(): Promise<StoredState> {
    return structuredClone({
      cursor: this.cursor,
      entries: [...this.entries.values()],
      outbox: [...this.outbox.values()].sort((a, b) => a.seq - b.seq),
    });
  }

  /** Takes ownership of `change` (the store hands it a snapshot). */
  async write(change: StorageWrite): Promise<void> {
    const copy = change;
    for (const key of copy.removeEntries ?? []) this.entries.delete(key);
    for (const entry of copy.entries ?? []) this.entries.set(entryKey(entry), entry);
    for (const id of copy.removeOutbox ?? []) this.outbox.delete(id);
    for (const item of copy.outbox ?? []) this.outbox.set(item.change_id, item);
    if (copy.cursor !== undefined) this.cursor = copy.cursor;
  }

  async close(): Promise<void> {}
}
