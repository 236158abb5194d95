/**
 * The browser's storage for a device: one IndexedDB database per user, three object stores
 * (`outbox` by change_id, `entries` by `table/key`, `meta` for the cursor). Every write is one
 * readwrite transaction over the three, so it lands whole or not at all.
 *
 * The factory is a parameter: `globalThis.indexedDB` in a browser, `fake-indexeddb` in tests.
 */
import { type ClientStorage, entryKey, type StorageWrite, type StoredState } from './storage.ts';
import type { OutboxItem, StoredEntry } from './types.ts';

const stores = ['outbox', 'entries', 'meta'] as const;

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
  get(key: string): IDBRequest<unknown>;
  put(value: unknown, key: string): IDBRequest<unknown>;
  delete(key: string): IDBRequest<unknown>;
}
interface IDBTransaction {
  objectStore(name: string): IDBObjectStore;
  error: Error | null;
  oncomplete: (() => void) | null;
  onabort: (() => void) | null;
  onerror: (() => void) | null;
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

export class IndexedDbStorage implements ClientStorage {
  private db: Promise<IDBDatabase> | undefined;

  /** `name` should say whose data it is, e.g. `virgil-sync-<user id>`. */
  constructor(
    private readonly name: string,
    private readonly factory: IDBFactory = (globalThis as { indexedDB?: IDBFactory }).indexedDB!,
  ) {
    if (!factory) throw new Error('IndexedDbStorage needs an IDBFactory (no globalThis.indexedDB here)');
  }

  private open(): Promise<IDBDatabase> {
    this.db ??= new Promise((resolve, reject) => {
      const req = this.factory.open(this.name, 1);
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
    const [outbox, entries, cursor] = await Promise.all([
      request(tx.objectStore('outbox').getAll() as IDBRequest<OutboxItem[]>),
      request(tx.objectStore('entries').getAll() as IDBRequest<StoredEntry[]>),
      request(tx.objectStore('meta').get('cursor') as IDBRequest<string | null | undefined>),
    ]);
    return { cursor: cursor ?? null, entries, outbox: outbox.sort((a, b) => a.seq - b.seq) };
  }

  async write(change: StorageWrite): Promise<void> {
    const db = await this.open();
    const tx = db.transaction([...stores], 'readwrite');
    const finished = done(tx);
    const outbox = tx.objectStore('outbox');
    const entries = tx.objectStore('entries');
    for (const key of change.removeEntries ?? []) entries.delete(key);
    for (const entry of change.entries ?? []) entries.put(entry, entryKey(entry));
    for (const id of change.removeOutbox ?? []) outbox.delete(id);
    for (const item of change.outbox ?? []) outbox.put(item, item.change_id);
    if (change.cursor !== undefined) tx.objectStore('meta').put(change.cursor, 'cursor');
    await finished;
  }

  async close(): Promise<void> {
    if (this.db) (await this.db).close();
    this.db = undefined;
  }
}
