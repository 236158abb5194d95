/**
 * The device's local store: the server's last known rows, the outbox of edits not yet confirmed,
 * and what the app sees, which is the one folded over the other (optimistic view). Three ways in:
 *
 *   enqueue(item)        an edit of the app: visible at once, queued for the next push;
 *   reconcile(batch, r)  sync's per-item results: the item leaves the outbox, and the server's
 *                        answer (id and version, or its row on conflict) replaces the optimism;
 *   merge(change)        a change from realtime or pull, merged by table, id and version, so a
 *                        duplicate or a stale event never overwrites a newer row.
 *
 * Persistence is batched: changes are collected for a few milliseconds and written in one storage write;
 * `persisted()` resolves once everything done so far is stored.
 *
 * Reading: `get` of one row, `list` of one table, and indexes (`index(spec)`, row-index.ts): sorted
 * groups of a table's rows that every change of a row updates, so a list the app shows often (a
 * conversation's messages) is read without a scan of the store.
 */
import type { PushResult, SyncItem, SyncTable } from '../supabase/functions/_shared/sync-protocol.ts';
import { Observable } from './observable.ts';
import { type IndexSpec, RowIndex, type RowUpdate } from './row-index.ts';
import { type ClientStorage, entryKey, type StorageWrite } from './storage.ts';
import type { JsonRow, LocalRow, OutboxItem, RemoteChange, StoredEntry } from './types.ts';

export type MergeOutcome = 'applied' | 'duplicate' | 'stale';

/** What the app is told about an item the server did not take as it was. */
export interface Rollback {
  status: 'conflict' | 'rejected';
  table: SyncTable;
  local_id: string;
  change_id: string;
  /** rejected: the server's reason code (reference_not_found, …) and explanation. */
  reason?: string;
  detail?: string;
  /** The row as the app now sees it (the server's, or null when it has none). */
  row: LocalRow | null;
}

const rowKey = (table: SyncTable, key: string) => `${table}/${key}`;

/**
 * When an entry came into the store (what indexes break ties by: the store's order). Kept on the
 * entry under a symbol, which structured clone and JSON leave out, so it is never stored.
 */
const ordinalOf = Symbol('ordinal');
type HeldEntry = StoredEntry & { [ordinalOf]?: number };

/** Changes are collected this long (ms) and written to storage together. */
const persistDelayMs = 5;

function versionOf(row: JsonRow | null | undefined): number | null {
  const version = row?.version;
  return typeof version === 'number' ? version : null;
}

export class LocalStore {
  private readonly entries = new Map<string, HeldEntry>();
  private nextOrdinal = 0;
  private readonly indexes = new Map<IndexSpec, RowIndex>();
  private readonly indexedTables = new Set<SyncTable>();
  /** Rows whose view may have changed since the indexes were last brought up to date. */
  private readonly changedRows = new Map<string, { table: SyncTable; key: string }>();
  private readonly keyById = new Map<string, string>();
  /** Ids the server deleted: ids are never reused, so any later event about them is stale. */
  private readonly deadIds = new Set<string>();
  private outbox: OutboxItem[] = [];
  private readonly pendingByRow = new Map<string, OutboxItem[]>();
  private nextSeq = 1;
  private cursorValue: string | null = null;

  /** Increases on every change the app could see; watch it to re-render. */
  readonly revision = new Observable(0);
  /** Duplicate or stale remote changes that were dropped (counted for the harness and tests). */
  dropped = 0;

  private dirty: {
    entries: Set<string>;
    removed: Set<string>;
    outbox: Map<string, OutboxItem>;
    removedOutbox: Set<string>;
    cursor: boolean;
  } = LocalStore.clean();
  private writing: Promise<void> = Promise.resolve();
  private flushTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly storage: ClientStorage,
    readonly userId: string,
  ) {}

  private static clean() {
    return {
      entries: new Set<string>(),
      removed: new Set<string>(),
      outbox: new Map<string, OutboxItem>(),
      removedOutbox: new Set<string>(),
      cursor: false,
    };
  }

  /** Reads what the storage holds (the outbox of a previous run included). */
  async load(): Promise<void> {
    const state = await this.storage.load();
    this.cursorValue = state.cursor;
    for (const entry of state.entries) this.putEntry(entry, false);
    for (const item of state.outbox) this.addToOutbox(item);
    // A loop, not Math.max(...): a long outbox would overflow the argument list.
    this.nextSeq = state.outbox.reduce((max, item) => Math.max(max, item.seq), 0) + 1;
    this.bump();
  }

  get cursor(): string | null {
    return this.cursorValue;
  }

  set cursor(cursor: string | null) {
    this.cursorValue = cursor;
    this.dirty.cursor = true;
    this.schedulePersist();
  }

  // Reading -------------------------------------------------------------------------------------

  /** The row as the app sees it (server state with pending edits on top), or null. */
  get<T extends SyncTable>(table: T, key: string): LocalRow<T> | null {
    return this.view(table, key) as LocalRow<T> | null;
  }

  /** Every row of a table the app can see, in store order. */
  list<T extends SyncTable>(table: T): LocalRow<T>[] {
    const rows: LocalRow<T>[] = [];
    for (const [at, entry] of this.entries) {
      if (entry.table !== table) continue;
      const row = this.view(table, entry.key, at);
      if (row) rows.push(row as LocalRow<T>);
    }
    return rows;
  }

  /**
   * The index of `spec` over this store, made (from the rows now held) on first use and kept
   * current from then on. One index per spec object: define specs once, at module level.
   */
  index<T extends SyncTable, S>(spec: IndexSpec<T, S>): RowIndex<T, S> {
    const known = this.indexes.get(spec as IndexSpec);
    if (known) return known as unknown as RowIndex<T, S>;
    this.refreshIndexes();
    const index = new RowIndex(spec, () => this.refreshIndexes());
    const rows: RowUpdate[] = [];
    // The entries' own keys (`table/key`), already hashed: a fresh string per row is what a walk
    // over many rows would spend its time on.
    for (const [at, entry] of this.entries)
      if (entry.table === spec.table)
        rows.push({ key: entry.key, ordinal: entry[ordinalOf]!, row: this.fields(spec.table, entry.key, at) });
    index.apply(rows);
    this.indexes.set(spec as IndexSpec, index as unknown as RowIndex);
    this.indexedTables.add(spec.table);
    return index;
  }

  /** The local key of the row with this server id. */
  keyOf(table: SyncTable, id: string): string | undefined {
    return this.keyById.get(rowKey(table, id));
  }

  /** The server's last known version of a row (base_version of the next edit). */
  serverVersion(table: SyncTable, key: string): number | null {
    return versionOf(this.entries.get(rowKey(table, key))?.server);
  }

  /** Queued items, oldest first. */
  get queued(): readonly OutboxItem[] {
    return this.outbox;
  }

  private view(table: SyncTable, key: string, at = rowKey(table, key)): LocalRow | null {
    const row = this.fields(table, key, at);
    if (!row) return null;
    return {
      ...row,
      id: this.entries.get(at)?.id ?? (row.id as string | null) ?? null,
      version: versionOf(row),
      pending: this.pendingByRow.has(at),
    } as LocalRow;
  }

  /**
   * The row's columns as the app sees them: the server's row with pending edits folded over it.
   * With nothing pending it is the stored row itself: callers read it and never change it.
   */
  private fields(table: SyncTable, key: string, at = rowKey(table, key)): JsonRow | null {
    const entry = this.entries.get(at);
    const pending = this.pendingByRow.get(at);
    let row: JsonRow | null = entry?.server ?? null;
    for (const item of pending ?? []) {
      if (item.op === 'delete') {
        row = null;
        continue;
      }
      row = { ...(row ?? this.newRow(table, key, item)), ...(item.fields ?? {}) };
    }
    return row;
  }

  /** What a row created on this device looks like before the server has answered. */
  private newRow(table: SyncTable, key: string, item: SyncItem): JsonRow {
    const at = item.client_updated_at;
    const common = { id: null, version: null, local_id: key, user_id: this.userId, updated_at: at };
    switch (table) {
      case 'conversations':
        return { ...common, title: null, message_count: 0, created_at: at };
      case 'messages':
        return { ...common, conversation_id: null, role: 'user', content: '', timestamp: at, metadata: null };
      case 'memories':
        return { ...common, content: '', context: null, tag: null, importance_score: null, created_at: at };
    }
  }

  // The app's edits -----------------------------------------------------------------------------

  /**
   * Queues an edit and shows it at once. An upsert following an upsert of the same row that was
   * never sent is folded into it (rapid edits of one row make one item); a sent item is never
   * changed again, so a retry carries exactly what was sent before.
   */
  enqueue(item: SyncItem): OutboxItem {
    const key = rowKey(item.table, item.local_id);
    if (!this.entries.has(key))
      this.putEntry(
        { table: item.table, key: item.local_id, local_id: item.local_id, id: null, server: null, partial: false },
        false,
      );
    const last = this.pendingByRow.get(key)?.at(-1);
    if (
      last &&
      !last.sent &&
      last.op === 'upsert' &&
      item.op === 'upsert' &&
      last.mode === item.mode &&
      last.base_version === item.base_version
    ) {
      last.fields = { ...(last.fields ?? {}), ...(item.fields ?? {}) } as never;
      last.client_updated_at = item.client_updated_at;
      this.changed(item.table, item.local_id);
      this.dirty.outbox.set(last.change_id, last);
      this.schedulePersist();
      this.bump();
      return last;
    }
    const queued = { ...item, seq: this.nextSeq++, sent: false } as OutboxItem;
    this.addToOutbox(queued);
    this.touch(this.entries.get(key)!);
    this.dirty.outbox.set(queued.change_id, queued);
    this.schedulePersist();
    this.bump();
    return queued;
  }

  /** Marks items as sent (before the request goes out): from now on they are retried unchanged. */
  markSent(items: OutboxItem[]): void {
    for (const item of items) {
      if (item.sent) continue;
      item.sent = true;
      this.dirty.outbox.set(item.change_id, item);
    }
    this.schedulePersist();
  }

  private addToOutbox(item: OutboxItem): void {
    this.outbox.push(item);
    const key = rowKey(item.table, item.local_id);
    const list = this.pendingByRow.get(key) ?? [];
    list.push(item);
    this.pendingByRow.set(key, list);
    this.changed(item.table, item.local_id);
  }

  private removeFromOutbox(item: OutboxItem): void {
    this.outbox = this.outbox.filter((queued) => queued !== item);
    const key = rowKey(item.table, item.local_id);
    const list = (this.pendingByRow.get(key) ?? []).filter((queued) => queued !== item);
    if (list.length > 0) this.pendingByRow.set(key, list);
    else this.pendingByRow.delete(key);
    this.dirty.outbox.delete(item.change_id);
    this.dirty.removedOutbox.add(item.change_id);
    this.changed(item.table, item.local_id);
    this.forgetIfEmpty(key);
  }

  // The server's answers ------------------------------------------------------------------------

  /** Applies sync's per-item results to the items of the batch; returns the rollbacks to report. */
  reconcile(batch: OutboxItem[], results: PushResult[]): Rollback[] {
    const rollbacks: Rollback[] = [];
    for (const result of results) {
      const item = batch[result.index];
      if (!item || item.change_id !== result.change_id) continue;
      const key = rowKey(item.table, item.local_id);
      const entry = this.entries.get(key);
      if (!entry) {
        this.removeFromOutbox(item);
        continue;
      }
      if (result.status === 'applied' || result.status === 'unchanged') {
        if (result.id) this.attachId(entry, result.id);
        if (item.op === 'delete') {
          if (result.status === 'applied') this.markDeleted(entry);
        } else if (result.status === 'applied' && typeof result.version === 'number') {
          const known = versionOf(entry.server);
          if (known === null || known < result.version) {
            entry.server = {
              ...(entry.server ?? this.newRow(item.table, item.local_id, item)),
              ...(item.fields ?? {}),
              id: result.id ?? entry.id,
              version: result.version,
            };
            entry.partial = true;
          }
        }
      } else if (result.status === 'conflict') {
        if (result.deleted || !result.row) {
          if (result.id) this.attachId(entry, result.id);
          this.markDeleted(entry);
        } else {
          this.attachId(entry, String(result.row.id));
          entry.server = result.row as JsonRow;
          entry.partial = false;
        }
      }
      // Only now does the item leave the outbox: an entry with neither a server row nor a pending
      // edit is forgotten, so the server's answer must be in place first.
      this.removeFromOutbox(item);
      this.touch(entry);
      if (result.status === 'conflict' || result.status === 'rejected') {
        rollbacks.push({
          status: result.status,
          table: item.table,
          local_id: item.local_id,
          change_id: item.change_id,
          ...(result.reason ? { reason: result.reason } : {}),
          ...(result.detail ? { detail: result.detail } : {}),
          row: this.view(item.table, item.local_id),
        });
      }
    }
    this.bump();
    return rollbacks;
  }

  /** Drops items the server refused as a whole (a 4xx for the batch); returns them as rejections. */
  rejectAll(batch: OutboxItem[], reason: string, detail: string): Rollback[] {
    return this.reconcile(
      batch,
      batch.map((item, index) => ({
        index,
        table: item.table,
        local_id: item.local_id,
        change_id: item.change_id,
        status: 'rejected',
        reason,
        detail,
      })),
    );
  }

  /**
   * Merges a change from realtime or pull. Rules: an id the server deleted never comes back; a row
   * is replaced only by a higher version (or the same version when ours was assembled from a push
   * result); a delete removes the row it names, and only that row (a local_id re-created later has
   * a new id).
   */
  merge(change: RemoteChange): MergeOutcome {
    const idKey = rowKey(change.table, change.id);
    if (this.deadIds.has(idKey)) return this.drop('stale');
    let entry = this.entryFor(change);
    if (change.op === 'delete') {
      this.deadIds.add(idKey);
      if (!entry || (entry.id !== null && entry.id !== change.id)) return this.drop('stale');
      if (entry.id === null && entry.server === null) return this.drop('stale');
      this.attachId(entry, change.id);
      this.markDeleted(entry);
      this.touch(entry);
      this.bump();
      return 'applied';
    }
    if (!entry) {
      const key = change.local_id ?? `#${change.id}`;
      entry = { table: change.table, key, local_id: change.local_id, id: null, server: null, partial: false };
      this.putEntry(entry, false);
    }
    if (entry.id !== null && entry.id !== change.id) {
      // The local_id was deleted and created again: the old id is dead.
      this.deadIds.add(rowKey(change.table, entry.id));
      this.keyById.delete(rowKey(change.table, entry.id));
      entry.server = null;
      entry.id = null;
    }
    const known = versionOf(entry.server);
    if (
      known !== null &&
      change.version !== null &&
      (change.version < known || (change.version === known && !entry.partial))
    ) {
      return this.drop(change.version === known ? 'duplicate' : 'stale');
    }
    this.attachId(entry, change.id);
    entry.server = change.row;
    entry.partial = false;
    this.touch(entry);
    this.bump();
    return 'applied';
  }

  private drop(outcome: 'duplicate' | 'stale'): MergeOutcome {
    this.dropped++;
    return outcome;
  }

  private entryFor(change: RemoteChange): StoredEntry | undefined {
    const byId = this.keyById.get(rowKey(change.table, change.id));
    if (byId !== undefined) return this.entries.get(rowKey(change.table, byId));
    if (change.local_id !== null) return this.entries.get(rowKey(change.table, change.local_id));
    return undefined;
  }

  private attachId(entry: StoredEntry, id: string): void {
    if (entry.id === id) return;
    if (entry.id) this.keyById.delete(rowKey(entry.table, entry.id));
    entry.id = id;
    this.keyById.set(rowKey(entry.table, id), entry.key);
  }

  private markDeleted(entry: StoredEntry): void {
    if (entry.id) {
      this.deadIds.add(rowKey(entry.table, entry.id));
      this.keyById.delete(rowKey(entry.table, entry.id));
    }
    entry.id = null;
    entry.server = null;
    entry.partial = false;
  }

  private putEntry(entry: StoredEntry, persist = true): void {
    const key = entryKey(entry);
    (entry as HeldEntry)[ordinalOf] = this.entries.get(key)?.[ordinalOf] ?? this.nextOrdinal++;
    this.entries.set(key, entry);
    this.changed(entry.table, entry.key);
    if (entry.id) this.keyById.set(rowKey(entry.table, entry.id), entry.key);
    if (persist) this.touch(entry);
  }

  private touch(entry: StoredEntry): void {
    const key = entryKey(entry);
    this.changed(entry.table, entry.key);
    if (!this.forgetIfEmpty(key)) {
      this.dirty.removed.delete(key);
      this.dirty.entries.add(key);
    }
    this.schedulePersist();
  }

  /** An entry with no server row and nothing pending is forgotten. Returns whether it was. */
  private forgetIfEmpty(key: string): boolean {
    const entry = this.entries.get(key);
    if (!entry || entry.server !== null || this.pendingByRow.has(key)) return false;
    this.entries.delete(key);
    this.changed(entry.table, entry.key);
    this.dirty.entries.delete(key);
    this.dirty.removed.add(key);
    this.schedulePersist();
    return true;
  }

  private bump(): void {
    this.revision.set(this.revision.get() + 1);
  }

  private changed(table: SyncTable, key: string): void {
    // An index made later starts from the rows as they are then.
    if (this.indexedTables.has(table)) this.changedRows.set(rowKey(table, key), { table, key });
  }

  /**
   * Hands every changed row's state to the indexes of its table. Run before each read of an index
   * (not at each change): a pull of a thousand changes is indexed at once, when the app next looks.
   */
  private refreshIndexes(): void {
    if (this.changedRows.size === 0) return;
    const byTable = new Map<SyncTable, RowUpdate[]>();
    for (const [at, { table, key }] of this.changedRows) {
      const entry = this.entries.get(at);
      const update = { key, ordinal: entry?.[ordinalOf] ?? -1, row: entry ? this.fields(table, key, at) : null };
      const updates = byTable.get(table);
      if (updates) updates.push(update);
      else byTable.set(table, [update]);
    }
    this.changedRows.clear();
    for (const index of this.indexes.values()) {
      const updates = byTable.get(index.spec.table);
      if (updates) index.apply(updates);
    }
  }

  // Persistence ---------------------------------------------------------------------------------

  private schedulePersist(): void {
    if (this.flushTimer === undefined) this.flushTimer = setTimeout(() => this.flush(), persistDelayMs);
  }

  /** Writes everything changed since the last flush, as one storage write, after the previous one. */
  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const dirty = this.dirty;
    if (dirty.entries.size + dirty.removed.size + dirty.outbox.size + dirty.removedOutbox.size === 0 && !dirty.cursor)
      return;
    this.dirty = LocalStore.clean();
    // A snapshot now: the rows and items go on changing while the write waits its turn.
    const change: StorageWrite = structuredClone({
      entries: [...dirty.entries]
        .map((key) => this.entries.get(key))
        .filter((entry): entry is StoredEntry => entry !== undefined),
      removeEntries: [...dirty.removed],
      outbox: [...dirty.outbox.values()],
      removeOutbox: [...dirty.removedOutbox],
      ...(dirty.cursor ? { cursor: this.cursorValue } : {}),
    });
    // A failed write is reported by persisted(); the chain goes on with the next one.
    this.writing = this.writing.catch(() => undefined).then(() => this.storage.write(change));
  }

  /** Resolves once every change made so far is in storage. */
  async persisted(): Promise<void> {
    this.flush();
    await this.writing;
  }
}
