/**
 * The RLS check on delivery: may this subscriber SELECT these rows? Postgres decides, as the user.
 * INSERT and UPDATE select the changed rows from the table by primary key (as the platform does);
 * a DELETE's row is gone, so its old image is turned back into a row of the table's type and the
 * table's SELECT policies (policies.ts) are evaluated on it, together with the privilege on the
 * primary key and `row_security_active` (false for BYPASSRLS roles and a non-forced owner).
 *
 * One query per (role, claims, table) group per batch of changes, however many sockets share the
 * group, through the service's one shared pool. Each query is a single round trip: a multi-statement
 * simple query is one implicit transaction, in which the transaction is made READ ONLY, the role and
 * `request.jwt.claims` are set transaction-locally (platform-facts.md §6), and the rows are selected
 * by primary key. Nothing can be written and every setting ends with the statement, so the pooled
 * connection goes back clean. Values are inlined as literals because the simple protocol has no
 * parameters; `literal` and `identifier` below are the only quoting.
 */
import type { Sql } from 'postgres';
import type { TableInfo } from './catalog.ts';
import { policyPredicate } from './policies.ts';

export const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;
export const identifier = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The key of a row as the check returns it: its primary key values as text, JSON-encoded. */
export const rowKey = (values: unknown[]) => JSON.stringify(values.map((value) => (value === null || value === undefined ? null : String(value))));

export function visibilityQuery(role: string, claims: object, table: TableInfo, keys: unknown[][]): string {
  const pk = table.primaryKey.map(identifier);
  const recordType = table.primaryKey.map((name) => `${identifier(name)} ${identifier(table.types.get(name) ?? 'text')}`).join(', ');
  const rows = JSON.stringify(keys.map((values) => Object.fromEntries(table.primaryKey.map((name, i) => [name, values[i]]))));
  return [
    'set transaction read only',
    `set local role ${identifier(role)}`,
    `select set_config('request.jwt.claims', ${literal(JSON.stringify(claims))}, true)`,
    `select array_to_json(array[${pk.map((c) => `t.${c}::text`).join(', ')}])::text as k from ${identifier(table.schema)}.${identifier(table.table)} t` +
      ` where (${pk.map((c) => `t.${c}`).join(', ')}) in (select ${pk.map((c) => `x.${c}`).join(', ')} from jsonb_to_recordset(${literal(rows)}::jsonb) as x(${recordType}))`,
  ].join(';\n');
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
 * have selected? Each image comes with a key of the caller's choosing, returned for the visible
 * ones: two deletes of one primary key in a batch (deleted, re-inserted, deleted) are decided
 * apart. The row is built LATERAL from each element and aliased as the table, so that the policy
 * text resolves its columns on it; the element's own columns have names no table would use.
 * Reads no table (unless a policy's own subquery does), writes nothing.
 */
export function deleteVisibilityQuery(role: string, claims: object, table: TableInfo, images: [key: string, image: Record<string, unknown>][]): string {
  const relation = `${identifier(table.schema)}.${identifier(table.table)}`;
  const alias = identifier(table.table);
  const privileged = table.primaryKey.map((name) => `pg_catalog.has_column_privilege(${literal(relation)}, ${literal(name)}, 'SELECT')`);
  const rows = JSON.stringify(images.map(([key, image]) => ({ 'virgil key': key, 'virgil row': populateJson(table, image) })));
  return [
    'set transaction read only',
    `set local role ${identifier(role)}`,
    `select set_config('request.jwt.claims', ${literal(JSON.stringify(claims))}, true)`,
    `select x."virgil key" as k from jsonb_to_recordset(${literal(rows)}::jsonb) as x("virgil key" text, "virgil row" jsonb)` +
      ` cross join lateral jsonb_populate_record(null::${relation}, x."virgil row") as ${alias}` +
      ` where ${privileged.join(' and ')}` +
      ` and case when pg_catalog.row_security_active(${literal(relation)}) then ${policyPredicate(table, role)} else true end`,
  ].join(';\n');
}

/**
 * Logical decoding can hand us a commit a moment before the committing backend has left the
 * proc array, so a query started right away may not see the row yet (and would wrongly find it
 * invisible). Before checking a batch we wait until a fresh snapshot sees all its transactions;
 * this is one cheap query that almost always answers 0 at once. 32-bit xids are widened with the
 * current epoch (the one before it if that would put them in the future).
 */
const PENDING_QUERY = `
  with s as (select pg_catalog.pg_current_snapshot() as snap),
       e as (select snap, pg_catalog.pg_snapshot_xmax(snap)::text::int8 as xmax from s)
  select count(*)::int as pending
    from e, unnest($1::int8[]) as x(xid)
   where not pg_catalog.pg_visible_in_snapshot(
           (case when ((e.xmax >> 32) << 32 | x.xid) > e.xmax then (((e.xmax >> 32) - 1) << 32 | x.xid)
                 else ((e.xmax >> 32) << 32 | x.xid) end)::text::xid8, e.snap)`;

export class Visibility {
  private warned = new Set<string>();
  queries = 0;

  constructor(
    private readonly sql: Sql,
    private readonly log: (line: string) => void,
  ) {}

  /** Resolves once every transaction in `xids` is visible to new snapshots (at most ~2 s). */
  async waitCommitted(xids: number[]): Promise<void> {
    if (xids.length === 0) return;
    const deadline = Date.now() + 2000;
    for (let delay = 1; Date.now() < deadline; delay = Math.min(delay * 2, 50)) {
      const [row] = await this.sql.unsafe<{ pending: number }[]>(PENDING_QUERY, [xids]);
      if (!row || row.pending === 0) return;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** The keys (see rowKey) of the rows among `keys` that `role` with `claims` may select. */
  visible(role: string, claims: object, table: TableInfo, keys: unknown[][]): Promise<Set<string>> {
    if (keys.length === 0 || table.primaryKey.length === 0) return Promise.resolve(new Set());
    return this.run(role, table, visibilityQuery(role, claims, table, keys));
  }

  /** The keys of the old images (key → image) whose rows `role` could have selected. */
  visibleOld(role: string, claims: object, table: TableInfo, images: Map<string, Record<string, unknown>>): Promise<Set<string>> {
    if (images.size === 0 || table.primaryKey.length === 0) return Promise.resolve(new Set());
    return this.run(role, table, deleteVisibilityQuery(role, claims, table, [...images]));
  }

  private async run(role: string, table: TableInfo, query: string): Promise<Set<string>> {
    this.queries++;
    try {
      const results = (await this.sql.unsafe(query)) as unknown as { k: string }[][];
      const rows = results.at(-1) ?? [];
      return new Set(rows.map((row) => row.k));
    } catch (error) {
      // No privilege, unknown role, a policy that raises: the row is not visible to this subscriber.
      const key = `${role}:${table.schema}.${table.table}:${(error as { code?: string }).code}`;
      if (!this.warned.has(key)) {
        this.warned.add(key);
        this.log(`[realtime] RLS check as ${role} on ${table.schema}.${table.table} refused: ${(error as Error).message}`);
      }
      return new Set();
    }
  }
}
