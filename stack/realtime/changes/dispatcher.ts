/**
 * Delivery of postgres changes to subscribed channels, in commit order.
 *
 * Batches. Transactions arrive from the change stream; everything that arrived in one turn of the
 * event loop (one read from the replication socket can hold many) forms a batch, which is planned
 * and checked at once. Batches do not wait for each other's round trips: up to MAX_IN_FLIGHT are
 * being checked at the same time, and a change arriving while others are in flight starts its own
 * check right away. Only the sending is in order: a batch is handed to the sockets after every
 * earlier batch was, and its last LSN is acknowledged after that, so commit order holds and a
 * restart loses nothing. When MAX_IN_FLIGHT batches are in flight, what arrives meanwhile waits and
 * forms the next (larger) batch.
 *
 * Planning. Each change is matched against the bindings (event, table, filter) of the channels
 * that can match it: channels are indexed by table and, for a binding with an `eq` filter on a
 * column compared as text (uuid, text…), by that value, so a change on `user_id = X` looks at the
 * channels filtered on X and those without such a filter, not at every channel (5,000 sockets of
 * distinct users cost one lookup per change, not 5,000 filter tests). The filter is then tested in
 * full as before; the index only narrows whom to test.
 *
 * Checks on RLS tables, once per (role, claims, table, kind of check) group (visibility.ts):
 * - INSERT and UPDATE: the row is selected from the table by primary key, as the subscriber (as
 *   on the platform).
 * - DELETE, stricter than the platform (which sends every DELETE to every filter-matching
 *   subscriber): when the old image carries every column the table's SELECT policies read
 *   (REPLICA IDENTITY FULL), the policies that apply to the subscriber's role are evaluated on the
 *   old image, as the subscriber; only a subscriber who could have selected the row gets the event.
 *   When the image lacks such a column (identity DEFAULT: primary key only) the policies cannot be
 *   decided, and the platform's rule applies: every filter-matching subscriber.
 * In both cases a DELETE's `old_record` stays cut to the primary key (records.ts). Every check also
 * makes sure the change's transaction is visible to the snapshot it reads with.
 *
 * A role that may not SELECT the primary key gets the platform's `Error 401: Unauthorized` event
 * for INSERT and UPDATE (filters are not applied to it, as on the platform) and no DELETE. Such
 * channels are indexed under their table without a value, by the role they joined with; a channel
 * whose token later changes it to such a role still gets its filtered changes' 401 events, but
 * not those of rows outside its filter.
 */
import type { Claims } from '../../identity/jwt.ts';
import { type Catalog, type TableInfo, tableKey } from './catalog.ts';
import type { Change, Transaction } from './changes.ts';
import { payloadColumns, primaryKeyHidden } from './columns.ts';
import { type Condition, exactKey, matches } from './filters.ts';
import { checkableOn } from './policies.ts';
import { changeData, commitTimestamp, images, primaryKeyOf, unauthorizedData } from './records.ts';
import { type CheckGroup, rowKey, type Visibility } from './visibility.ts';
import { sleep } from '../../lib/sleep.ts';

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
  transaction: Transaction;
  change: Change;
  table: TableInfo;
  committedAt: string;
  candidates: Candidate[];
  /** The change's key in its check groups: the primary key (rowKey) for `row`, unique for `old`. */
  rowKey?: string;
}

/** `row`: select the live row by key (INSERT, UPDATE); `old`: policies on the old image (DELETE). */
type Check = 'row' | 'old';

const MAX_BATCH_CHANGES = 2000;
const MAX_IN_FLIGHT = 8;
const RETRY_MS = 500;
const ANY_TABLE = '*';

/**
 * Channels by the tables their bindings name, and, where a binding has an `eq` condition on a
 * column compared as text, by that column's value (see the module comment).
 */
class SubscriberIndex {
  /** table key (or ANY_TABLE) → channels to test on every change of it. */
  private readonly scan = new Map<string, Set<Subscriber>>();
  /** table key → column → value → channels. */
  private readonly keyed = new Map<string, Map<string, Map<string, Set<Subscriber>>>>();
  private readonly placed = new Map<Subscriber, (() => void)[]>();

  constructor(private readonly catalog: Catalog) {}

  add(subscriber: Subscriber): void {
    const removals: (() => void)[] = [];
    const into = <K>(map: Map<K, Set<Subscriber>>, key: K) => {
      let set = map.get(key);
      if (!set) map.set(key, (set = new Set()));
      set.add(subscriber);
      removals.push(() => {
        set!.delete(subscriber);
        if (set!.size === 0 && map.get(key) === set) map.delete(key);
      });
    };
    for (const binding of subscriber.bindings) {
      if (binding.schema === '*' || binding.table === '*') {
        into(this.scan, ANY_TABLE);
        continue;
      }
      const key = tableKey(binding.schema, binding.table);
      const table = this.catalog.get(binding.schema, binding.table);
      const condition =
        table && !primaryKeyHidden(table, subscriber.claims.role)
          ? binding.conditions.find(
              (c) =>
                c.op === 'eq' &&
                !c.negated &&
                typeof c.value === 'string' &&
                exactKey(table.types.get(c.column) ?? '', c.value) !== undefined,
            )
          : undefined;
      if (!condition) {
        into(this.scan, key);
        continue;
      }
      let columns = this.keyed.get(key);
      if (!columns) this.keyed.set(key, (columns = new Map()));
      let values = columns.get(condition.column);
      if (!values) columns.set(condition.column, (values = new Map()));
      into(values, condition.value as string);
    }
    this.placed.set(subscriber, removals);
  }

  remove(subscriber: Subscriber): void {
    for (const removal of this.placed.get(subscriber) ?? []) removal();
    this.placed.delete(subscriber);
  }

  /** The channels that may match a change of `table` whose tested image is `image`. */
  candidates(table: TableInfo, image: Record<string, unknown>): Set<Subscriber> {
    const key = tableKey(table.schema, table.table);
    const found = new Set<Subscriber>();
    for (const subscriber of this.scan.get(ANY_TABLE) ?? []) found.add(subscriber);
    for (const subscriber of this.scan.get(key) ?? []) found.add(subscriber);
    for (const [column, values] of this.keyed.get(key) ?? []) {
      const value = exactKey(table.types.get(column) ?? '', image[column]);
      if (value === undefined) continue;
      for (const subscriber of values.get(value) ?? []) found.add(subscriber);
    }
    return found;
  }
}

export class Dispatcher {
  private readonly index: SubscriberIndex;
  private readonly pending: Transaction[] = [];
  private scheduled = false;
  private inFlight = 0;
  /** The last batch's sending; each batch sends after it. */
  private tail: Promise<void> = Promise.resolve();
  private lastDelivered = 0n;
  delivered = 0;

  constructor(
    private readonly catalog: Catalog,
    private readonly visibility: Visibility,
    private readonly acknowledge: (transaction: Transaction) => void,
    private readonly log: (line: string) => void,
    private readonly debug = false,
  ) {
    this.index = new SubscriberIndex(catalog);
  }

  subscribe(subscriber: Subscriber): void {
    if (subscriber.bindings.length === 0) return;
    this.index.remove(subscriber);
    this.index.add(subscriber);
  }

  unsubscribe(subscriber: Subscriber): void {
    this.index.remove(subscriber);
  }

  enqueue(transaction: Transaction): void {
    this.pending.push(transaction);
    if (this.scheduled) return;
    this.scheduled = true;
    // Everything that arrives in this turn of the event loop joins the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Resolves when everything enqueued so far was sent (tests). */
  async idle(): Promise<void> {
    while (this.pending.length > 0 || this.inFlight > 0) await sleep(5);
  }

  private flush(): void {
    while (this.pending.length > 0 && this.inFlight < MAX_IN_FLIGHT) {
      const batch: Transaction[] = [];
      let size = 0;
      while (
        this.pending.length > 0 &&
        (batch.length === 0 || size + this.pending[0]!.changes.length <= MAX_BATCH_CHANGES)
      ) {
        const next = this.pending.shift()!;
        size += next.changes.length;
        batch.push(next);
      }
      this.start(batch);
    }
  }

  private start(batch: Transaction[]): void {
    this.inFlight++;
    // Planned and checked now, concurrently with earlier batches; sent after them.
    const checked = this.prepare(batch);
    const previous = this.tail;
    this.tail = (async () => {
      await previous;
      const { planned, visible } = await checked;
      this.send(planned, visible);
      for (const transaction of batch)
        if (transaction.lsn > this.lastDelivered && !transaction.supplement) this.lastDelivered = transaction.lsn;
      for (const transaction of batch) this.acknowledge(transaction);
    })()
      .catch((error: unknown) => this.log(`[realtime] delivery failed: ${(error as Error).stack ?? error}`))
      .finally(() => {
        this.inFlight--;
        if (this.pending.length > 0) this.flush();
      });
  }

  /** Plans a batch and checks it, retrying while the database cannot answer. */
  private async prepare(batch: Transaction[]): Promise<{ planned: Planned[]; visible: Map<string, Set<string>> }> {
    const { planned, groups } = await this.plan(batch);
    const entries = [...groups];
    for (;;) {
      try {
        const sets = entries.length > 0 ? await this.visibility.check(entries.map(([, group]) => group)) : [];
        return { planned, visible: new Map(entries.map(([key], i) => [key, sets[i]!])) };
      } catch (error) {
        this.log(`[realtime] RLS checks failed, retrying the batch: ${(error as Error).message}`);
        await sleep(RETRY_MS);
      }
    }
  }

  /** The subscriber's bindings that match the change; `filtered: false` ignores their filters. */
  private matching(
    subscriber: Subscriber,
    change: Change,
    table: TableInfo,
    image: Record<string, unknown>,
    filtered = true,
  ): Binding[] {
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

  private async plan(batch: Transaction[]): Promise<{ planned: Planned[]; groups: Map<string, CheckGroup> }> {
    const planned: Planned[] = [];
    const groups = new Map<string, CheckGroup>();
    const keysOf = new Map<CheckGroup, Set<string>>();
    let deletes = 0;
    for (const transaction of batch) {
      if (transaction.changes.length === 0) continue;
      const committedAt = commitTimestamp(transaction.commitTimestamp);
      for (const change of transaction.changes) {
        const table =
          this.catalog.get(change.schema, change.table) ?? (await this.catalog.lookup(change.schema, change.table));
        if (!table) continue; // not in the publication
        const { next, old } = images(change);
        const image = change.type === 'DELETE' ? old : next;
        const item: Planned = { transaction, change, table, committedAt, candidates: [] };
        const check = this.checkFor(change, table, old);
        if (check === 'row') item.rowKey = rowKey(primaryKeyOf(image, table));
        if (check === 'old') item.rowKey = `delete ${deletes++}`;
        for (const subscriber of this.index.candidates(table, image)) {
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
            if (!group) {
              groups.set(
                candidate.group,
                (group = { check, role, claims: { ...subscriber.claims, role }, table, items: [] }),
              );
              keysOf.set(group, new Set());
            }
            const keys = keysOf.get(group)!;
            if (!keys.has(item.rowKey!)) {
              keys.add(item.rowKey!);
              group.items.push({ key: item.rowKey!, image, xid: transaction.xid });
            }
          }
          item.candidates.push(candidate);
        }
        if (item.candidates.length > 0) planned.push(item);
      }
    }
    return { planned, groups };
  }

  private send(planned: Planned[], visible: Map<string, Set<string>>): void {
    const here = new Map<bigint, Transaction>();
    for (const item of planned) {
      // A transaction the stream sent again after reconnecting, already delivered (by an earlier
      // batch, or earlier in this one).
      const { transaction } = item;
      if (!transaction.supplement) {
        if (transaction.lsn <= this.lastDelivered) continue;
        if ((here.get(transaction.lsn) ?? transaction) !== transaction) continue;
        here.set(transaction.lsn, transaction);
      }
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
          if (this.debug)
            this.log(
              `[realtime] not visible: ${item.change.type} ${item.change.table} ${item.rowKey} for ${subscriber.claims.sub ?? subscriber.claims.role}`,
            );
          continue;
        }
        if (candidate.unauthorized) {
          subscriber.deliver(
            candidate.bindings.map((binding) => binding.id),
            payload('401', () => unauthorizedData(item.change, item.committedAt)),
          );
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
          const data = payload(`${role}|${key}`, () =>
            changeData(item.change, item.table, item.committedAt, payloadColumns(item.table, role, select)),
          );
          subscriber.deliver(ids, data);
          this.delivered++;
        }
      }
    }
  }
}
