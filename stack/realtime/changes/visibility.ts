/**
 * The RLS check on delivery: may this subscriber SELECT these rows? Postgres decides, as the user.
 * INSERT and UPDATE select the changed row from the table by primary key (as the platform does);
 * a DELETE's row is gone, so its old image is turned back into a row of the table's type and the
 * table's SELECT policies (policies.ts) are evaluated on it, together with the privilege on the
 * primary key and `row_security_active` (false for BYPASSRLS roles and a non-forced owner).
 *
 * Round trips. The checks run on a few dedicated connections ("lanes"), each a session that only
 * ever runs the statements below, all prepared once per connection (named statements; parameters,
 * never inlined values). Checking a group of changes for one (role, claims, table) is: one statement
 * that sets `role` and `request.jwt.claims` for the session (skipped when the lane is already
 * there), then one check statement for all the group's rows, all groups written at once and
 * answered together: one round trip per batch per lane, however many groups and rows it holds.
 *
 * Visibility and the check are one statement. Logical decoding can hand us a commit a moment before
 * the committing backend has left the proc array, so a query started right away may not see the row
 * yet (and would wrongly find it invisible). Each check statement therefore also answers whether
 * the change's transaction is visible in the statement's own snapshot (`pg_current_snapshot()` is the
 * snapshot the table is read with): when it is not (rare), that check is simply asked again a
 * moment later. No separate "wait until committed" round trip comes first.
 *
 * The plan. The row check reads each key with its own LATERAL subquery,
 * `(select from <table> t where t.<pk> = k.<pk> limit 1)`: the `limit` keeps the planner from
 * flattening it into a join (where an index on the policy's column, or a scan, could drive), so it is
 * planned as a lookup of one key by scalar equality, for which the primary key's unique index is the
 * cheapest path (one row, estimated as one) whatever the table's size or statistics. (A plain
 * `t.<pk> = any($1)` does not have this property: its generic plan estimates ten keys and prefers an
 * index on `user_id`, reading every row of the user.) The lanes also run with `enable_seqscan` and
 * `enable_bitmapscan` off, so that a table the planner believes tiny (few rows, never analysed) is
 * still read through the index and never scanned. This is safe: those settings only change costs, never results; the key equality
 * (`uuid_eq`, `int8eq`, `texteq`… are leakproof) is allowed to run in the index before the
 * policies without revealing anything, and the policies still filter every row the index returns,
 * exactly as in a scan. `supabase/tests/integration/realtime/check-plan.test.ts` EXPLAINs this exact
 * statement, as a subscriber, on a table with three rows, no statistics and a second index on the
 * policy's column, and fails if the plan is anything but the primary-key index.
 *
 * Safety of the session state. Each check statement also answers whether it ran as the expected
 * role with the expected claims (`current_user`, `request.jwt.claims`); a lane whose connection was
 * replaced behind our back (PostgreSQL restarted: a new session is `postgres`, which bypasses RLS)
 * therefore never gets its answer trusted: the lane forgets its state and the check is asked again.
 * The lanes' sessions are read only (`default_transaction_read_only`), so a policy cannot write.
 */
import postgres, { type Sql } from 'postgres';
import type { TableInfo } from './catalog.ts';
import { isAnswer } from '../../lib/pg-errors.ts';
import { identifier, literal } from '../../lib/postgres.ts';
import { sleep } from '../../lib/sleep.ts';
import { policyPredicate } from './policies.ts';

/** The key of a row: its primary key values as text, JSON-encoded. */
export const rowKey = (values: unknown[]) =>
  JSON.stringify(values.map((value) => (value === null || value === undefined ? null : String(value))));

/** The session settings of a lane (startup parameters of its connection). */
export const LANE_SETTINGS = {
  application_name: 'virgil_realtime_checks',
  default_transaction_read_only: true,
  enable_seqscan: 'off',
  enable_bitmapscan: 'off',
  // A disabled scan (in a policy's own subquery, say) adds 1e10 to a plan's cost, which would make
  // every such check pay for JIT compilation: seconds, for a statement of microseconds.
  jit: 'off',
} as const;

/** Sets the subscriber for the session: `$1` role, `$2` claims (JSON text). */
export const SET_SUBJECT = `select pg_catalog.set_config('role', $1::text, false), pg_catalog.set_config('request.jwt.claims', $2::text, false)`;

/** The statement's snapshot, its xmax, and `xid` (32 bits, as wal2json gives it) widened to 64. */
const SNAPSHOT = `(select s.snap, pg_catalog.pg_snapshot_xmax(s.snap)::text::int8 as xmax from (select pg_catalog.pg_current_snapshot() as snap) s) w`;
/**
 * `xid` (an int8 expression holding a 32-bit xid) as the xid8 nearest to the snapshot's xmax: a
 * decoded transaction is always within 2^31 of it.
 */
const widened = (xid: string) =>
  `pg_catalog.pg_visible_in_snapshot(greatest(0, ((w.xmax >> 32) << 32 | ${xid}) + case when ((w.xmax >> 32) << 32 | ${xid}) > w.xmax + 2147483648 then -4294967296 when ((w.xmax >> 32) << 32 | ${xid}) < w.xmax - 2147483648 then 4294967296 else 0 end)::text::xid8, w.snap)`;
/** `$a` role and `$b` claims: did the statement run as the subscriber it was meant for? */
const subject = (role: number, claims: number) =>
  `(current_user = $${role}::text and pg_catalog.current_setting('request.jwt.claims', true) = $${claims}::text)`;

/**
 * The INSERT/UPDATE check of a group's rows. Parameters: `$1…$n` the primary key's values as text
 * arrays (one per key column, in key order), `$n+1` the xids (int8[]), `$n+2` role, `$n+3` claims.
 * One row: `seen` (every transaction is visible in the snapshot the table was read with), `found`
 * (the 1-based positions of the visible rows among the keys), `subject` (ran as that role with
 * those claims). Each key is looked up by its own LATERAL subquery with `limit 1`, which the
 * planner can neither flatten nor turn into a join: it is planned once as a lookup of one key by
 * scalar equality, which the primary key's unique index always wins. The keys are cast to the
 * column's type before they are unnested, so the lookup compares the column with a value of its
 * own type: a cast inside the comparison is not leakproof, and PostgreSQL (15.20 and later) then
 * keeps it out of the index condition on a table with RLS, reading through another index instead.
 */
export function rowCheckStatement(table: TableInfo): string {
  const n = table.primaryKey.length;
  const columns = table.primaryKey.map((_, i) => `k${i + 1}`);
  const key = table.primaryKey.map((name, i) => `t.${identifier(name)} = k.${columns[i]}`).join(' and ');
  const arrays = table.primaryKey
    .map((name, i) => `$${i + 1}::text[]::${identifier(table.types.get(name) ?? 'text')}[]`)
    .join(', ');
  return (
    `select not exists (select from unnest($${n + 1}::int8[]) as x(xid) where not ${widened('x.xid')}) as seen,` +
    ` array(select k.n from unnest(${arrays}) with ordinality as k(${columns.join(', ')}, n)` +
    ` cross join lateral (select from ${identifier(table.schema)}.${identifier(table.table)} t where ${key} limit 1) v) as found,` +
    ` ${subject(n + 2, n + 3)} as subject from ${SNAPSHOT}`
  );
}

/** An old image (wal2json values) as the JSON object `jsonb_populate_record` reads back losslessly. */
export function populateJson(table: TableInfo, image: Record<string, unknown>): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(image)) {
    const type = table.types.get(name);
    if (type === undefined) continue;
    // wal2json writes json/jsonb as text; given as a JSON string it would become a json string.
    if ((type === 'json' || type === 'jsonb') && typeof value === 'string') {
      try {
        row[name] = JSON.parse(value);
        continue;
      } catch {
        // not JSON after all: let the input function decide
      }
    }
    row[name] = value;
  }
  return row;
}

/**
 * The DELETE check for one (role, claims, table) group: which of these old images could the role
 * have selected? Parameters: `$1` JSON text `[{"virgil key", "virgil row"}]`, `$2` the xids (int8[]),
 * `$3` role, `$4` claims. Each image comes with a key of the caller's choosing, returned for the
 * visible ones: two deletes of one primary key in a batch are decided apart. The row is built
 * LATERAL from each element and aliased as the table, so that the policy text resolves its columns
 * on it; the element's own columns have names no table would use. Reads no table (unless a
 * policy's own subquery does), writes nothing. The text depends on the role (its policies), so it is
 * prepared per (table, role).
 */
export function deleteCheckStatement(table: TableInfo, role: string): string {
  const relation = `${identifier(table.schema)}.${identifier(table.table)}`;
  const alias = identifier(table.table);
  const privileged = table.primaryKey.map(
    (name) => `pg_catalog.has_column_privilege(${literal(relation)}, ${literal(name)}, 'SELECT')`,
  );
  return (
    `select not exists (select from unnest($2::int8[]) as x(xid) where not ${widened('x.xid')}) as seen,` +
    ` array(select x."virgil key" from jsonb_to_recordset($1::text::jsonb) as x("virgil key" text, "virgil row" jsonb)` +
    ` cross join lateral jsonb_populate_record(null::${relation}, x."virgil row") as ${alias}` +
    ` where ${privileged.join(' and ')}` +
    ` and case when pg_catalog.row_security_active(${literal(relation)}) then ${policyPredicate(table, role)} else true end) as keys,` +
    ` ${subject(3, 4)} as subject from ${SNAPSHOT}`
  );
}

/** One row to check: the caller's key for it, its image and its transaction's xid. */
export interface CheckItem {
  key: string;
  image: Record<string, unknown>;
  xid: number;
}

/** The changes of one (check, role, claims, table) group of a batch. */
export interface CheckGroup {
  /** `row`: select the live row by key (INSERT, UPDATE); `old`: policies on the old image (DELETE). */
  check: 'row' | 'old';
  role: string;
  claims: object;
  table: TableInfo;
  items: CheckItem[];
}

interface Lane {
  sql: Sql;
  /** `role|claims` the session is set to, as far as we know. */
  subject: string | undefined;
}

interface Answer {
  seen: boolean;
  subject: boolean;
  visible: string[];
}

const RETRY_UNTIL_MS = 2000;

export class Visibility {
  private readonly lanes: Lane[];
  private warned = new Set<string>();
  /** Statements executed (set + checks), for the curious. */
  statements = 0;

  constructor(
    url: string,
    private readonly log: (line: string) => void,
    lanes = 4,
  ) {
    this.lanes = Array.from({ length: Math.max(1, lanes) }, () => ({
      sql: postgres(url, {
        max: 1,
        idle_timeout: 0,
        max_lifetime: null,
        connection: { ...LANE_SETTINGS },
        onnotice: () => undefined,
      }),
      subject: undefined,
    }));
  }

  /**
   * The keys visible in each group (same order as `groups`). Groups of one claims go to one lane, so
   * its session keeps that subscriber while the same claims come again. Never throws for a check
   * Postgres refuses (no privilege, a policy that raises): those rows are not visible. Throws when
   * the database cannot be reached, so the caller retries the batch.
   */
  async check(groups: CheckGroup[]): Promise<Set<string>[]> {
    return Promise.all(groups.map((group) => this.checkGroup(group)));
  }

  private laneFor(subjectKey: string): Lane {
    let hash = 0;
    for (let i = 0; i < subjectKey.length; i++) hash = (hash * 31 + subjectKey.charCodeAt(i)) | 0;
    return this.lanes[Math.abs(hash) % this.lanes.length]!;
  }

  private async checkGroup(group: CheckGroup): Promise<Set<string>> {
    const visible = new Set<string>();
    if (group.items.length === 0 || group.table.primaryKey.length === 0) return visible;
    const claims = JSON.stringify(group.claims);
    const subjectKey = `${group.role}|${claims}`;
    const lane = this.laneFor(subjectKey);
    let pending = group.items;
    const deadline = Date.now() + RETRY_UNTIL_MS;
    for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
      let answers: Answer[];
      try {
        answers = await this.ask(lane, subjectKey, group, pending, claims);
      } catch (error) {
        lane.subject = undefined;
        // Postgres answered for this check (no privilege, unknown role, a policy that raises, a value
        // that is not of the key's type): not visible. Anything else (connection lost, server shutting
        // down, too many connections) is not an answer, and the batch is retried.
        if (isAnswer(error)) {
          this.warn(group, error as Error);
          return visible;
        }
        throw error;
      }
      const again: CheckItem[] = [];
      let wrongSubject = false;
      answers.forEach((answer) => {
        if (!answer.subject) wrongSubject = true;
        else if (!answer.seen) again.push(...pending);
        else for (const key of answer.visible) visible.add(key);
      });
      if (wrongSubject) {
        // The session was not who we thought (a new connection): trust nothing, ask again.
        lane.subject = undefined;
        visible.clear();
        pending = group.items;
      } else {
        pending = [...new Set(again)];
      }
      if (pending.length === 0) return visible;
      if (Date.now() > deadline) {
        this.log(
          `[realtime] ${pending.length} change(s) on ${group.table.schema}.${group.table.table} not visible after ${RETRY_UNTIL_MS} ms; not delivered to ${group.role}`,
        );
        return visible;
      }
      await sleep(delay);
    }
  }

  /** Writes the subject (if needed) and every check of `items` at once; one answer per statement. */
  private ask(
    lane: Lane,
    subjectKey: string,
    group: CheckGroup,
    items: CheckItem[],
    claims: string,
  ): Promise<Answer[]> {
    const queries: Promise<Answer[]>[] = [];
    if (lane.subject !== subjectKey) {
      lane.subject = subjectKey;
      this.statements++;
      queries.push(lane.sql.unsafe(SET_SUBJECT, [group.role, claims], { prepare: true }).then(() => []));
    }
    const { table } = group;
    if (group.check === 'row') {
      this.statements++;
      const keys = table.primaryKey.map((name) =>
        items.map((item) =>
          item.image[name] === null || item.image[name] === undefined ? null : String(item.image[name]),
        ),
      );
      const xids = [...new Set(items.map((item) => item.xid))];
      queries.push(
        lane.sql
          .unsafe<{ seen: boolean; found: string[]; subject: boolean }[]>(
            rowCheckStatement(table),
            [...keys, xids, group.role, claims] as never[],
            { prepare: true },
          )
          .then(([row]) => [
            {
              seen: row!.seen,
              subject: row!.subject,
              visible: row!.found.map((position) => items[Number(position) - 1]!.key),
            },
          ]),
      );
    } else {
      this.statements++;
      const rows = JSON.stringify(
        items.map((item) => ({ 'virgil key': item.key, 'virgil row': populateJson(table, item.image) })),
      );
      const xids = [...new Set(items.map((item) => item.xid))];
      queries.push(
        lane.sql
          .unsafe<{ seen: boolean; keys: string[]; subject: boolean }[]>(
            deleteCheckStatement(table, group.role),
            [rows, xids, group.role, claims] as never[],
            { prepare: true },
          )
          .then(([row]) => [{ seen: row!.seen, subject: row!.subject, visible: row!.keys }]),
      );
    }
    return Promise.all(queries).then((lists) => lists.flat());
  }

  private warn(group: CheckGroup, error: Error): void {
    const key = `${group.role}:${group.table.schema}.${group.table.table}:${(error as { code?: string }).code}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log(
      `[realtime] RLS check as ${group.role} on ${group.table.schema}.${group.table.table} refused: ${error.message}`,
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.lanes.map((lane) => lane.sql.end({ timeout: 2 })));
  }
}
