/**
 * The browser's storage for a device: one IndexedDB database per user, four object stores:
 *
 *   outbox     the queued edits, by change_id;
 *   snapshot   the rows, packed: each record a JSON array of up to `chunkRows` entries;
 *   entries    the journal since that snapshot, by `table/key`: the entry, or null once removed;
 *   meta       the cursor.
 *
 * Why packed: reading a record costs far more than its bytes (in Chromium, 50,000 one-row records
 * take several times as long to read as the same rows in 50 JSON strings), and a cold start reads
 * every row. Why a journal beside it: a write must stay one small transaction, not a rewrite of
 * the packs it touches. Once the journal outgrows `compactAbove` (or a thirty-second of the snapshot),
 * the next write is followed by a compaction: snapshot and journal read, folded and written back
 * as a new snapshot, all in one transaction, so a crash leaves the old pair or the new one.
 *
 * Every write is one readwrite transaction, so it lands whole or not at all. Version 1 databases
 * (one record per row in `entries`, no snapshot) open as a journal with an empty snapshot.
 *
 * The factory is a parameter: `globalThis.indexedDB` in a browser, `fake-indexeddb` in tests.
 */
import { type ClientStorage, entryKey, type StorageWrite, type StoredState } from './storage.ts';
import type { OutboxItem, StoredEntry, SyncTable } from './types.ts';

const stores = ['outbox', 'snapshot', 'entries', 'meta'] as const;
const schemaVersion = 2;

// The few IndexedDB types used here, declared structurally: the project compiles without the DOM
// library (Node), and any real IDBFactory (a browser's, fake-indexeddb's) fits them.
interface IDBRequest<T> {
  result: T;
  error: Error | null;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IDBObjectStore {
  getAll(): IDBRequest<unknown[]>;
  getAllKeys(): IDBRequest<unknown[]>;
  get(key: string): IDBRequest<unknown>;
  put(value: unknown, key: string | number): IDBRequest<unknown>;
  delete(key: string): IDBRequest<unknown>;
  clear(): IDBRequest<unknown>;
}
interface IDBTransaction {
  objectStore(name: string): IDBObjectStore;
  error: Error | null;
  oncomplete: (() => void) | null;
  onabort: (() => void) | null;
  onerror: (() => void) | null;
  abort(): void;
}
interface IDBDatabase {
  objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string): unknown;
  transaction(names: string[], mode: 'readonly' | 'readwrite'): IDBTransaction;
  close(): void;
}
interface IDBOpenRequest extends IDBRequest<IDBDatabase> {
  onupgradeneeded: (() => void) | null;
}
export interface IDBFactory {
  open(name: string, version: number): IDBOpenRequest;
}

export interface IndexedDbStorageOptions {
  /** Entries per snapshot record. Default 1000. */
  chunkRows?: number;
  /** Compact once the journal holds more records than this and a thirty-second of the snapshot (each journal record costs a cold start a read of its own). Default 1000. */
  compactAbove?: number;
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
  });
}

/**
 * The rows: the snapshot's, with the journal's records over them (null: removed). The snapshot's
 * rows are taken as parsed, without a map of all of them: only the journal's few keys are looked up.
 */
function fold(chunks: unknown[], journalKeys: unknown[], journal: unknown[]): StoredEntry[] {
  const journalled = new Map<string, SyncTable[]>();
  for (const at of journalKeys as string[]) {
    const slash = at.indexOf('/');
    const key = at.slice(slash + 1);
    journalled.set(key, [...(journalled.get(key) ?? []), at.slice(0, slash) as SyncTable]);
  }
  const rows: StoredEntry[] = [];
  for (const chunk of chunks)
    for (const entry of JSON.parse(chunk as string) as StoredEntry[])
      if (journalled.size === 0 || !journalled.get(entry.key)?.includes(entry.table)) rows.push(entry);
  for (const entry of journal as (StoredEntry | null)[]) if (entry !== null) rows.push(entry);
  return rows;
}

export class IndexedDbStorage implements ClientStorage {
  private db: Promise<IDBDatabase> | undefined;
  private readonly chunkRows: number;
  private readonly compactAbove: number;
  /** What the database holds, as far as this instance knows (from load, its writes, compactions). */
  private journalRecords = 0;
  private snapshotRows = 0;
  private compacting: Promise<void> = Promise.resolve();

  /** `name` should say whose data it is, e.g. `virgil-sync-<user id>`. */
  constructor(
    private readonly name: string,
    private readonly factory: IDBFactory = (globalThis as { indexedDB?: IDBFactory }).indexedDB!,
    options: IndexedDbStorageOptions = {},
  ) {
    if (!factory) throw new Error('IndexedDbStorage needs an IDBFactory (no globalThis.indexedDB here)');
    this.chunkRows = options.chunkRows ?? 1000;
    this.compactAbove = options.compactAbove ?? 1000;
  }

  private open(): Promise<IDBDatabase> {
    this.db ??= new Promise((resolve, reject) => {
      const req = this.factory.open(this.name, schemaVersion);
      req.onupgradeneeded = () => {
        for (const store of stores)
          if (!req.result.objectStoreNames.contains(store)) req.result.createObjectStore(store);
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error ?? new Error(`opening IndexedDB ${this.name} failed`));
    });
    return this.db;
  }

  async load(): Promise<StoredState> {
    const db = await this.open();
    const tx = db.transaction([...stores], 'readonly');
    const entries = tx.objectStore('entries');
    const [outbox, chunks, journalKeys, journal, cursor] = await Promise.all([
      request(tx.objectStore('outbox').getAll() as IDBRequest<OutboxItem[]>),
      request(tx.objectStore('snapshot').getAll()),
      request(entries.getAllKeys()),
      request(entries.getAll()),
      request(tx.objectStore('meta').get('cursor') as IDBRequest<string | null | undefined>),
    ]);
    const rows = fold(chunks, journalKeys, journal);
    this.journalRecords = journalKeys.length;
    this.snapshotRows = rows.length;
    return { cursor: cursor ?? null, entries: rows, outbox: outbox.sort((a, b) => a.seq - b.seq) };
  }

  async write(change: StorageWrite): Promise<void> {
    const db = await this.open();
    const tx = db.transaction([...stores], 'readwrite');
    const finished = done(tx);
    const outbox = tx.objectStore('outbox');
    const entries = tx.objectStore('entries');
    // A removed row may be in the snapshot: the journal says it is gone.
    for (const key of change.removeEntries ?? []) entries.put(null, key);
    for (const entry of change.entries ?? []) entries.put(entry, entryKey(entry));
    for (const id of change.removeOutbox ?? []) outbox.delete(id);
    for (const item of change.outbox ?? []) outbox.put(item, item.change_id);
    if (change.cursor !== undefined) tx.objectStore('meta').put(change.cursor, 'cursor');
    await finished;
    this.journalRecords += (change.removeEntries?.length ?? 0) + (change.entries?.length ?? 0);
    if (this.journalRecords > Math.max(this.compactAbove, this.snapshotRows / 32)) {
      // Not awaited: this write is durable already; later writes queue behind it in IndexedDB.
      this.journalRecords = 0;
      this.compacting = this.compacting.then(() => this.compact()).catch(() => undefined);
    }
  }

  /** Folds the journal into a new snapshot, in one transaction. */
  private async compact(): Promise<void> {
    const db = await this.open();
    const tx = db.transaction(['snapshot', 'entries'], 'readwrite');
    const finished = done(tx);
    const snapshot = tx.objectStore('snapshot');
    const entries = tx.objectStore('entries');
    const chunks = snapshot.getAll();
    const keys = entries.getAllKeys();
    const journal = entries.getAll();
    // Requests of one store answer in order: when the last is in, so are the others. The rewrite
    // is issued from its callback, while the transaction is still active.
    journal.onsuccess = () => {
      try {
        const rows = fold(chunks.result, keys.result, journal.result);
        snapshot.clear();
        entries.clear();
        for (let at = 0; at * this.chunkRows < rows.length; at++)
          snapshot.put(JSON.stringify(rows.slice(at * this.chunkRows, (at + 1) * this.chunkRows)), at);
        this.snapshotRows = rows.length;
      } catch (error) {
        tx.abort();
        throw error;
      }
    };
    await finished;
  }

  async close(): Promise<void> {
    await this.compacting;
    if (this.db) (await this.db).close();
    this.db = undefined;
  }
}
