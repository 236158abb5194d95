/**
 * The tables of publication `supabase_realtime`, with what delivery needs to know about each: its
 * columns and their typnames (in table order), its primary key, whether RLS is on, its SELECT
 * policies (text as Postgres deparses it, for the DELETE check in policies.ts) and which columns
 * each role may SELECT (for payloads, columns.ts).
 *
 * Roles are resolved here, once per refresh, with Postgres' own rules (`pg_has_role … USAGE` is the
 * membership test policies use; `has_column_privilege` includes table-level grants), so delivery
 * never has to ask per change. A role created since the last refresh is unknown until the next one
 * and is treated as having no privileges and no policies: it sees less, never more.
 *
 * Re-read every few seconds and on demand (a binding or a change naming a table it does not know),
 * at most once per `minRefreshMs`, so a `supabase db reset` that recreates the tables is picked up.
 */
import type { Sql } from 'postgres';

/** A permissive or restrictive policy that applies to SELECT (`for select` or `for all`). */
export interface SelectPolicy {
  name: string;
  permissive: boolean;
  /** Names of the roles it applies to (members included), or 'public'. */
  roles: string[] | 'public';
  /** `pg_get_expr(polqual)`; null when the policy has no USING clause (it then adds nothing). */
  qual: string | null;
  /** Columns of the table the USING clause reads (from pg_depend). */
  reads: string[];
}

export interface TableInfo {
  schema: string;
  table: string;
  rls: boolean;
  columns: { name: string; type: string }[];
  types: Map<string, string>;
  primaryKey: string[];
  selectPolicies: SelectPolicy[];
  /** Role name → the columns it may SELECT. A role missing here may select nothing. */
  selectable: Map<string, Set<string>>;
}

export const tableKey = (schema: string, table: string) => `${schema}.${table}`;

export class Catalog {
  private tables = new Map<string, TableInfo>();
  private lastRefresh = 0;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly sql: Sql,
    private readonly minRefreshMs = 1000,
  ) {}

  get(schema: string, table: string): TableInfo | undefined {
    return this.tables.get(tableKey(schema, table));
  }

  all(): TableInfo[] {
    return [...this.tables.values()];
  }

  /** Looks a table up, re-reading the catalog first if it is unknown and the cache is not fresh. */
  async lookup(schema: string, table: string): Promise<TableInfo | undefined> {
    const found = this.get(schema, table);
    if (found) return found;
    await this.refresh(false);
    return this.get(schema, table);
  }

  refresh(force = true): Promise<void> {
    if (this.refreshing) return this.refreshing;
    if (!force && Date.now() - this.lastRefresh < this.minRefreshMs) return Promise.resolve();
    this.refreshing = this.load().finally(() => {
      this.refreshing = undefined;
      this.lastRefresh = Date.now();
    });
    return this.refreshing;
  }

  private async load(): Promise<void> {
    const rows = await this.sql<
      {
        schema: string;
        table: string;
        rls: boolean;
        columns: { name: string; type: string }[];
        pk: string[] | null;
        policies:
          | { name: string; permissive: boolean; roles: string[] | null; qual: string | null; reads: string[] | null }[]
          | null;
        selectable: Record<string, string[]> | null;
      }[]
    >`
      select n.nspname as schema, c.relname as table, c.relrowsecurity as rls,
             (select json_agg(json_build_object('name', a.attname, 'type', t.typname) order by a.attnum)
                from pg_catalog.pg_attribute a join pg_catalog.pg_type t on t.oid = a.atttypid
               where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as columns,
             (select json_agg(a.attname order by array_position(i.indkey::int2[], a.attnum))
                from pg_catalog.pg_index i
                join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey::int2[])
               where i.indrelid = c.oid and i.indisprimary) as pk,
             (select json_agg(json_build_object(
                       'name', p.polname,
                       'permissive', p.polpermissive,
                       'roles', case when 0 = any(p.polroles) then null
                                     else coalesce((select json_agg(r.rolname) from pg_catalog.pg_roles r
                                                     where exists (select from unnest(p.polroles) as pr(oid)
                                                                    where pg_catalog.pg_has_role(r.oid, pr.oid, 'USAGE'))), '[]'::json) end,
                       'qual', pg_catalog.pg_get_expr(p.polqual, p.polrelid),
                       'reads', (select json_agg(distinct a.attname)
                                   from pg_catalog.pg_depend d
                                   join pg_catalog.pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
                                  where d.classid = 'pg_catalog.pg_policy'::regclass and d.objid = p.oid
                                    and d.refobjid = c.oid and d.refobjsubid > 0)))
                from pg_catalog.pg_policy p
               where p.polrelid = c.oid and p.polcmd in ('r', '*')) as policies,
             (select json_object_agg(r.rolname,
                       (select coalesce(json_agg(a.attname order by a.attnum), '[]'::json)
                          from pg_catalog.pg_attribute a
                         where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                           and pg_catalog.has_column_privilege(r.oid, c.oid, a.attnum, 'SELECT')))
                from pg_catalog.pg_roles r
               where r.rolname !~ '^pg_') as selectable
        from pg_catalog.pg_publication_tables p
        join pg_catalog.pg_namespace n on n.nspname = p.schemaname
        join pg_catalog.pg_class c on c.relnamespace = n.oid and c.relname = p.tablename
       where p.pubname = 'supabase_realtime'`;
    const tables = new Map<string, TableInfo>();
    for (const row of rows) {
      const columns = row.columns ?? [];
      tables.set(tableKey(row.schema, row.table), {
        schema: row.schema,
        table: row.table,
        rls: row.rls,
        columns,
        types: new Map(columns.map((column) => [column.name, column.type])),
        primaryKey: row.pk ?? [],
        selectPolicies: (row.policies ?? []).map((policy) => ({
          name: policy.name,
          permissive: policy.permissive,
          roles: policy.roles ?? 'public',
          qual: policy.qual,
          reads: policy.reads ?? [],
        })),
        selectable: new Map(Object.entries(row.selectable ?? {}).map(([role, names]) => [role, new Set(names)])),
      });
    }
    this.tables = tables;
  }
}
