/**
 * Delivery of postgres changes to subscribed channels, in commit order.
 *
 * Transactions arrive from the change stream and are delivered in batches: everything queued while
 * the previous batch was being delivered forms the next one. For a batch, each change is matched
 * against the bindings (event, table, filter) of every subscribed channel; the changes on RLS tables
 * are then checked once per (role, claims, table, kind of check) group (visibility.ts), and finally
 * each channel gets one message per change and distinct `select` with the ids of its matching
 * bindings. Only after a whole batch was handed to the sockets is its last LSN acknowledged.
 *
 * Checks on RLS tables:
 * - INSERT and UPDATE: the row is selected from the table by primary key, as the subscriber (as
 *   on the platform).
 * - DELETE, stricter than the platform (which sends every DELETE to every filter-matching
 *   subscriber): when the old image carries every column the table's SELECT policies read
 *   (REPLICA IDENTITY FULL), the policies that apply to the subscriber's role are evaluated on the
 *   old image, as the subscriber; only a subscriber who could have selected the row gets the event.
 *   When the image lacks such a column (identity DEFAULT: primary key only) the policies cannot be
 *   decided, and the platform's rule applies: every filter-matching subscriber.
 * In both cases a DELETE's `old_record` stays cut to the primary key (records.ts).
 *
 * A role that may not SELECT the primary key gets the platform's `Error 401: Unauthorized` event
 * for INSERT and UPDATE (filters are not applied to it, as on the platform) and no DELETE.
 */
import type { Claims } from '../auth/jwt.ts';
import { type Catalog, type TableInfo, tableKey } from './catalog.ts';
import type { Change, Transaction } from './changes.ts';
import { payloadColumns, primaryKeyHidden } from './columns.ts';
import { type Condition, matches } from './filters.ts';
import { checkableOn } from './policies.ts';
import { changeData, commitTimestamp, images, primaryKeyOf, unauthorizedData } from './records.ts';
import { rowKey, type Visibility } from './visibility.ts';

export interface Binding {
  id: number;
  event: 'INSERT' | 'UPDATE' | 'DELETE' | '*';
  schema: string;
  table: string;
  conditions: Condition[];
  /** `select`: the payload's columns (plus the primary key); undefined means all. */
  select?: string[];
}

/** What a channel exposes to the dispatcher. */
export interface Subscriber {
  readonly claims: Claims;
  readonly bindings: Binding[];
  /** Sends one postgres_changes message; `data` is already JSON. */
  deliver(ids: number[], data: string): void;
}

const claimsKey = (claims: Claims) => JSON.stringify(claims);

interface Candidate {
  subscriber: Subscriber;
  bindings: Binding[];
  group?: string;
  /** The role may not read the primary key: the 401 event instead of data. */
  unauthorized?: boolean;
}

interface Planned {
  change: Change;
  table: TableInfo;
  committedAt: string;
  candidates: Candidate[];
  /** The change's key in its check groups: the primary key (rowKey) for `row`, unique for `old`. */
  rowKey?: string;
}

/** `row`: select the live row by key (INSERT, UPDATE); `old`: policies on the old image (DELETE). */
type Check = 'row' | 'old';

interface Group {
  check: Check;
  claims: Claims;
  table: TableInfo;
  /** Planned.rowKey → the image to check. */
  rows: Map<string, Record<string, unknown>>;
}

const MAX_BATCH_CHANGES = 2000;

export class Dispatcher {
  private readonly subscribers = new Set<Subscriber>();
  private readonly queue: Transaction[] = [];
  private draining = false;
  private lastDelivered = 0n;
  delivered = 0;

  constructor(
    private readonly catalog: Catalog,
    private readonly visibility: Visibility,
    private readonly acknowledge: (transaction: Transaction) => void,
    private readonly log: (line: string) => void,
    private readonly debug = false,
  ) {}

  subscribe(subscriber: Subscriber): void {
    if (subscriber.bindings.length > 0) this.subscribers.add(subscriber);
  }

  unsubscribe(subscriber: Subscriber): void {
    this.subscribers.delete(subscriber);
  }

  enqueue(transaction: Transaction): void {
    this.queue.push(transaction);
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        const batch: Transaction[] = [];
        let size = 0;
        while (this.queue.length > 0 && (batch.length === 0 || size + this.queue[0]!.changes.length <= MAX_BATCH_CHANGES)) {
          const next = this.queue.shift()!;
          size += next.changes.length;
          batch.push(next);
        }
        // A batch that failed (database restarting) is retried from here while the stream may replay
        // the same transactions after reconnecting: deliver each LSN once.
        const fresh = batch.filter((transaction) => transaction.lsn > this.lastDelivered);
        try {
          await this.deliver(fresh);
        } catch (error) {
          this.log(`[realtime] delivery failed, retrying the batch: ${(error as Error).message}`);
          this.queue.unshift(...batch);
          await new Promise((resolve) => setTimeout(resolve, 500));
          continue;
        }
        for (const transaction of fresh) if (transaction.lsn > this.lastDelivered) this.lastDelivered = transaction.lsn;
        for (const transaction of batch) this.acknowledge(transaction);
      }
    } finally {
      this.draining = false;
    }
  }

  /** The subscriber's bindings that match the change; `filtered: false` ignores their filters. */
  private matching(subscriber: Subscriber, change: Change, table: TableInfo, image: Record<string, unknown>, filtered = true): Binding[] {
    const found: Binding[] = [];
    for (const binding of subscriber.bindings) {
      if (binding.event !== '*' && binding.event !== change.type) continue;
      if (binding.schema !== '*' && binding.schema !== change.schema) continue;
      if (binding.table !== '*' && binding.table !== change.table) continue;
      if (filtered && !matches(binding.conditions, image, table.types)) continue;
      if (!found.some((other) => other.id === binding.id)) found.push(binding);
    }
    return found;
  }

  /** Which check a change needs, if any. */
  private checkFor(change: Change, table: TableInfo, old: Record<string, unknown>): Check | undefined {
    if (!table.rls) return undefined;
    if (change.type !== 'DELETE') return 'row';
    // Identity DEFAULT (or a policy reading a column the image lacks): the policies cannot be
    // evaluated, so the DELETE goes, as on the platform, to every filter-matching subscriber.
    return checkableOn(table, old) ? 'old' : undefined;
  }

  private async deliver(batch: Transaction[]): Promise<void> {
    if (this.subscribers.size === 0 || batch.length === 0) return;
    const planned: Planned[] = [];
    const groups = new Map<string, Group>();
    let deletes = 0;
    for (const transaction of batch) {
      const committedAt = commitTimestamp(transaction.commitTimestamp);
      for (const change of transaction.changes) {
        const table = await this.catalog.lookup(change.schema, change.table);
        if (!table) continue; // not in the publication
        const { next, old } = images(change);
        const image = change.type === 'DELETE' ? old : next;
        const item: Planned = { change, table, committedAt, candidates: [] };
        const check = this.checkFor(change, table, old);
        if (check === 'row') item.rowKey = rowKey(primaryKeyOf(image, table));
        if (check === 'old') item.rowKey = `delete ${deletes++}`;
        for (const subscriber of this.subscribers) {
          const role = subscriber.claims.role;
          if (primaryKeyHidden(table, role)) {
            if (change.type === 'DELETE') continue;
            const bindings = this.matching(subscriber, change, table, image, false);
            if (bindings.length > 0) item.candidates.push({ subscriber, bindings, unauthorized: true });
            continue;
          }
          const bindings = this.matching(subscriber, change, table, image);
          if (bindings.length === 0) continue;
          const candidate: Candidate = { subscriber, bindings };
          if (check) {
            candidate.group = `${check}|${claimsKey(subscriber.claims)}|${tableKey(table.schema, table.table)}`;
            let group = groups.get(candidate.group);
            if (!group) groups.set(candidate.group, (group = { check, claims: subscriber.claims, table, rows: new Map() }));
            group.rows.set(item.rowKey!, image);
          }
          item.candidates.push(candidate);
        }
        if (item.candidates.length > 0) planned.push(item);
      }
    }
    if (groups.size > 0) await this.visibility.waitCommitted([...new Set(batch.map((transaction) => transaction.xid))]);
    const visible = new Map<string, Set<string>>();
    await Promise.all(
      [...groups].map(async ([key, group]) => {
        const role = group.claims.role;
        const claims = { ...group.claims, role };
        visible.set(
          key,
          group.check === 'row'
            ? await this.visibility.visible(role, claims, group.table, [...group.rows.values()].map((row) => primaryKeyOf(row, group.table)))
            : await this.visibility.visibleOld(role, claims, group.table, group.rows),
        );
      }),
    );
    for (const item of planned) {
      // One payload per distinct (role, select), shared by every subscriber with it.
      const payloads = new Map<string, string>();
      const payload = (key: string, build: () => Record<string, unknown>) => {
        let data = payloads.get(key);
        if (data === undefined) payloads.set(key, (data = JSON.stringify(build())));
        return data;
      };
      for (const candidate of item.candidates) {
        const { subscriber } = candidate;
        if (candidate.group !== undefined && !visible.get(candidate.group)?.has(item.rowKey!)) {
          if (this.debug) this.log(`[realtime] not visible: ${item.change.type} ${item.change.table} ${item.rowKey} for ${subscriber.claims.sub ?? subscriber.claims.role}`);
          continue;
        }
        if (candidate.unauthorized) {
          subscriber.deliver(candidate.bindings.map((binding) => binding.id), payload('401', () => unauthorizedData(item.change, item.committedAt)));
          this.delivered++;
          continue;
        }
        const bySelect = new Map<string, { select: string[] | undefined; ids: number[] }>();
        for (const binding of candidate.bindings) {
          const key = binding.select === undefined ? '*' : JSON.stringify(binding.select);
          let entry = bySelect.get(key);
          if (!entry) bySelect.set(key, (entry = { select: binding.select, ids: [] }));
          entry.ids.push(binding.id);
        }
        const role = subscriber.claims.role;
        for (const [key, { select, ids }] of bySelect) {
          const data = payload(`${role}|${key}`, () => changeData(item.change, item.table, item.committedAt, payloadColumns(item.table, role, select)));
          subscriber.deliver(ids, data);
          this.delivered++;
        }
      }
    }
  }
}
