/**
 * Reads what the type generator needs from a live database's catalog: the exposed schemas and
 * their tables, views, columns, foreign keys, functions and types.
 *
 * The shape of what is read follows postgres-meta (what `supabase gen types typescript` runs), so
 * the same rules can be applied to it: e.g. a column's `format` is its type's name (a domain's base
 * type), `hasDefault` includes generated columns, and relationships come from foreign keys, and also
 * from views that expose all columns of a foreign key or of its target (see view-keys.ts).
 */
import type { Sql } from 'postgres';
import { viewRelationships, type ViewKeyDependency } from './view-keys.ts';
import { viewColumnOrigins } from './view-keys.ts';

export interface Relation {
  id: number;
  schema: string;
  name: string;
  kind: 'table' | 'foreign table' | 'view' | 'materialized view';
  /** Views: whether INSERT and UPDATE work on it (tables: always true). */
  isUpdatable: boolean;
}

export interface Column {
  tableId: number;
  name: string;
  /** The type's name as in pg_type (`int4`, `_text`, an enum's name); a domain's base type. */
  format: string;
  isNullable: boolean;
  hasDefault: boolean;
  isIdentity: boolean;
  identityGeneration: 'ALWAYS' | 'BY DEFAULT' | null;
  /** Views: whether this column can be written through the view. */
  isUpdatable: boolean;
}

export interface Relationship {
  foreignKeyName: string;
  schema: string;
  relation: string;
  columns: string[];
  isOneToOne: boolean;
  referencedSchema: string;
  referencedRelation: string;
  referencedColumns: string[];
}

export type ArgMode = 'in' | 'out' | 'inout' | 'variadic' | 'table';

export interface FunctionArg {
  mode: ArgMode;
  name: string;
  typeId: number;
  hasDefault: boolean;
}

export interface PgFunction {
  id: number;
  schema: string;
  name: string;
  args: FunctionArg[];
  /** pg_get_function_arguments, e.g. `todos` for a function of one unnamed `todos` argument. */
  argumentTypes: string;
  /** pg_get_function_result. */
  returnType: string;
  returnTypeId: number;
  returnTypeRelationId: number | null;
  isSetReturning: boolean;
  /** The planner's row estimate of a set-returning function (null for others). */
  rows: number | null;
}

export interface PgType {
  id: number;
  name: string;
  schema: string;
  /** format_type(oid, null), e.g. `public.todos`. */
  format: string;
  enums: string[];
  attributes: { name: string; typeId: number }[];
  typeRelationId: number | null;
}

export interface Catalog {
  schemas: string[];
  relations: Relation[];
  columns: Column[];
  relationships: Relationship[];
  functions: PgFunction[];
  types: PgType[];
}

const systemSchemas = ['information_schema', 'pg_catalog', 'pg_toast'];

/** Reads the catalog for the given schemas (those that exist and the user may see). */
export async function readCatalog(sql: Sql, includedSchemas: string[]): Promise<Catalog> {
  const schemaRows = await sql<{ name: string }[]>`
    select n.nspname as name
    from pg_catalog.pg_namespace n
    where n.nspname = any(${includedSchemas}::text[])
      and (pg_catalog.pg_has_role(n.nspowner, 'USAGE') or pg_catalog.has_schema_privilege(n.oid, 'CREATE, USAGE'))
  `;
  const schemas = schemaRows.map((row) => row.name);

  const relationRows = await sql<{ id: string; schema: string; name: string; relkind: string; updatable: boolean }[]>`
    select c.oid::int8 as id, n.nspname as schema, c.relname as name, c.relkind::text as relkind,
      case
        when c.relkind = 'v' then (pg_catalog.pg_relation_is_updatable(c.oid, false) & 20) = 20
        when c.relkind = 'm' then false
        else true
      end as updatable
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where n.nspname = any(${includedSchemas}::text[])
      and c.relkind in ('r', 'p', 'f', 'v', 'm')
      and (
        c.relkind in ('v', 'm', 'f')
        or pg_catalog.pg_has_role(c.relowner, 'USAGE')
        or pg_catalog.has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
        or pg_catalog.has_any_column_privilege(c.oid, 'SELECT, INSERT, UPDATE, REFERENCES')
      )
  `;
  const kinds: Record<string, Relation['kind']> = {
    r: 'table',
    p: 'table',
    f: 'foreign table',
    v: 'view',
    m: 'materialized view',
  };
  const relations: Relation[] = relationRows.map((row) => ({
    id: Number(row.id),
    schema: row.schema,
    name: row.name,
    kind: kinds[row.relkind] as Relation['kind'],
    isUpdatable: row.updatable,
  }));

  const columnRows = await sql<
    {
      table_id: string;
      name: string;
      format: string;
      is_nullable: boolean;
      has_default: boolean;
      identity: string;
      is_updatable: boolean;
    }[]
  >`
    select c.oid::int8 as table_id, a.attname as name,
      coalesce(bt.typname, t.typname) as format,
      not (a.attnotnull or (t.typtype = 'd' and t.typnotnull)) as is_nullable,
      a.atthasdef as has_default,
      a.attidentity::text as identity,
      (c.relkind in ('r', 'p') or (c.relkind in ('v', 'f') and pg_catalog.pg_column_is_updatable(c.oid, a.attnum, false))) as is_updatable
    from pg_catalog.pg_attribute a
    join pg_catalog.pg_class c on c.oid = a.attrelid
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    join pg_catalog.pg_type t on t.oid = a.atttypid
    left join pg_catalog.pg_type bt on t.typtype = 'd' and bt.oid = t.typbasetype
    where n.nspname = any(${includedSchemas}::text[])
      and c.relkind in ('r', 'p', 'f', 'v', 'm')
      and a.attnum > 0 and not a.attisdropped
      and (
        pg_catalog.pg_has_role(c.relowner, 'USAGE')
        or pg_catalog.has_column_privilege(c.oid, a.attnum, 'SELECT, INSERT, UPDATE, REFERENCES')
      )
  `;
  const columns: Column[] = columnRows.map((row) => ({
    tableId: Number(row.table_id),
    name: row.name,
    format: row.format,
    isNullable: row.is_nullable,
    hasDefault: row.has_default,
    isIdentity: row.identity === 'a' || row.identity === 'd',
    identityGeneration: row.identity === 'a' ? 'ALWAYS' : row.identity === 'd' ? 'BY DEFAULT' : null,
    isUpdatable: row.is_updatable,
  }));

  const relationships = await readRelationships(sql);
  const functions = await readFunctions(sql, includedSchemas);
  const types = await readTypes(sql);
  return { schemas, relations, columns, relationships, functions, types };
}

/**
 * Foreign keys between tables (outside the system schemas), then the relationships views inherit
 * from them. `isOneToOne`: the referencing columns are exactly a primary key or unique constraint
 * of the referencing table.
 */
async function readRelationships(sql: Sql): Promise<Relationship[]> {
  const rows = await sql<
    {
      name: string;
      schema: string;
      relation: string;
      columns: string[];
      referenced_schema: string;
      referenced_relation: string;
      referenced_columns: string[];
      one_to_one: boolean;
    }[]
  >`
    with keys as (
      select k.conrelid, array(
        select a.attname::text from unnest(k.conkey) as col
        join pg_catalog.pg_attribute a on a.attrelid = k.conrelid and a.attnum = col
        order by a.attnum
      ) as cols
      from pg_catalog.pg_constraint k
      where k.contype in ('p', 'u')
    )
    select fk.conname as name, sn.nspname as schema, src.relname as relation,
      array(
        select a.attname::text from unnest(fk.conkey) with ordinality as u(col, ord)
        join pg_catalog.pg_attribute a on a.attrelid = fk.conrelid and a.attnum = u.col
        order by u.ord
      ) as columns,
      tn.nspname as referenced_schema, tgt.relname as referenced_relation,
      array(
        select a.attname::text from unnest(fk.confkey) with ordinality as u(col, ord)
        join pg_catalog.pg_attribute a on a.attrelid = fk.confrelid and a.attnum = u.col
        order by u.ord
      ) as referenced_columns,
      exists (
        select from keys
        where keys.conrelid = fk.conrelid
          and keys.cols = array(
            select a.attname::text from unnest(fk.conkey) with ordinality as u(col, ord)
            join pg_catalog.pg_attribute a on a.attrelid = fk.conrelid and a.attnum = u.col
            order by u.ord
          )
      ) as one_to_one
    from pg_catalog.pg_constraint fk
    join pg_catalog.pg_namespace sn on sn.oid = fk.connamespace
    join pg_catalog.pg_class src on src.oid = fk.conrelid
    join pg_catalog.pg_class tgt on tgt.oid = fk.confrelid
    join pg_catalog.pg_namespace tn on tn.oid = tgt.relnamespace
    where fk.contype = 'f' and fk.conparentid = 0
      and sn.nspname <> all(${systemSchemas}::text[])
  `;
  const tableRelationships: Relationship[] = rows.map((row) => ({
    foreignKeyName: row.name,
    schema: row.schema,
    relation: row.relation,
    columns: row.columns,
    isOneToOne: row.one_to_one,
    referencedSchema: row.referenced_schema,
    referencedRelation: row.referenced_relation,
    referencedColumns: row.referenced_columns,
  }));
  const dependencies = await readViewKeyDependencies(sql);
  return [...tableRelationships, ...viewRelationships(tableRelationships, dependencies)];
}

/**
 * For every view, which of its columns show which table's primary or foreign key columns, found by
 * following each view column back through the views it reads (view-keys.ts parses the rewrite
 * rules). A key counts only when the view shows all of its columns.
 */
async function readViewKeyDependencies(sql: Sql): Promise<ViewKeyDependency[]> {
  const views = await sql<{ id: string; schema: string; name: string; definition: string }[]>`
    select c.oid::int8 as id, n.nspname as schema, c.relname as name, r.ev_action::text as definition
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    join pg_catalog.pg_rewrite r on r.ev_class = c.oid and r.rulename = '_RETURN'
    where c.relkind in ('v', 'm') and n.nspname <> all(${systemSchemas}::text[])
  `;
  if (views.length === 0) return [];
  const keys = await sql<
    { name: string; type: 'p' | 'f' | 'f_ref'; table_id: string; table_schema: string; table_name: string; cols: number[]; names: string[] }[]
  >`
    select k.conname as name, k.contype::text as type, k.conrelid::int8 as table_id,
      n.nspname as table_schema, c.relname as table_name, k.conkey::int2[] as cols,
      array(select a.attname::text from unnest(k.conkey) with ordinality u(col, ord)
            join pg_catalog.pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.col order by u.ord) as names
    from pg_catalog.pg_constraint k
    join pg_catalog.pg_class c on c.oid = k.conrelid
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where k.contype in ('p', 'f')
    union all
    select k.conname, 'f_ref', k.confrelid::int8, n.nspname, c.relname, k.confkey::int2[],
      array(select a.attname::text from unnest(k.confkey) with ordinality u(col, ord)
            join pg_catalog.pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.col order by u.ord)
    from pg_catalog.pg_constraint k
    join pg_catalog.pg_class c on c.oid = k.confrelid
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where k.contype = 'f'
  `;
  const viewColumnNames = await sql<{ view_id: string; attnum: number; name: string }[]>`
    select a.attrelid::int8 as view_id, a.attnum, a.attname as name
    from pg_catalog.pg_attribute a
    where a.attrelid = any(${views.map((view) => view.id)}::oid[]) and a.attnum > 0 and not a.attisdropped
  `;
  return viewColumnOrigins(
    views.map((view) => ({ id: Number(view.id), schema: view.schema, name: view.name, definition: view.definition })),
    viewColumnNames.map((row) => ({ viewId: Number(row.view_id), attnum: row.attnum, name: row.name })),
    keys.map((key) => ({
      name: key.name,
      type: key.type,
      tableId: Number(key.table_id),
      tableSchema: key.table_schema,
      tableName: key.table_name,
      columns: key.cols,
      columnNames: key.names,
    })),
  );
}

async function readFunctions(sql: Sql, includedSchemas: string[]): Promise<PgFunction[]> {
  const rows = await sql<
    {
      id: string;
      schema: string;
      name: string;
      modes: string[] | null;
      names: string[] | null;
      types: string[];
      nargs: number;
      ndefaults: number;
      argument_types: string;
      return_type: string;
      return_type_id: string;
      return_type_relation_id: string | null;
      retset: boolean;
      rows: number | null;
    }[]
  >`
    select p.oid::int8 as id, n.nspname as schema, p.proname as name,
      p.proargmodes::text[] as modes, p.proargnames as names,
      coalesce(p.proallargtypes::text[], string_to_array(nullif(p.proargtypes::text, ''), ' '), '{}') as types,
      p.pronargs::int as nargs, p.pronargdefaults::int as ndefaults,
      pg_catalog.pg_get_function_arguments(p.oid) as argument_types,
      pg_catalog.pg_get_function_result(p.oid) as return_type,
      p.prorettype::int8 as return_type_id,
      nullif(rt.typrelid, 0)::int8 as return_type_relation_id,
      p.proretset as retset,
      case when p.proretset then nullif(p.prorows, 0)::float8 end as rows
    from pg_catalog.pg_proc p
    join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    left join pg_catalog.pg_type rt on rt.oid = p.prorettype
    where n.nspname = any(${includedSchemas}::text[]) and p.prokind = 'f'
      and p.prorettype not in ('pg_catalog.trigger'::regtype, 'pg_catalog.event_trigger'::regtype)
  `;
  const modeNames: Record<string, ArgMode> = { i: 'in', o: 'out', b: 'inout', v: 'variadic', t: 'table' };
  return rows.map((row) => {
    // Like postgres-meta, the defaults are the last `pronargdefaults` of the first `pronargs`
    // arguments in declaration order.
    const args: FunctionArg[] = row.types.map((type, i) => ({
      mode: modeNames[row.modes?.[i] ?? 'i'] ?? 'in',
      name: row.names?.[i] ?? '',
      typeId: Number(type),
      hasDefault: i < row.nargs && i >= row.nargs - row.ndefaults,
    }));
    return {
      id: Number(row.id),
      schema: row.schema,
      name: row.name,
      args,
      argumentTypes: row.argument_types,
      returnType: row.return_type,
      returnTypeId: Number(row.return_type_id),
      returnTypeRelationId: row.return_type_relation_id === null ? null : Number(row.return_type_relation_id),
      isSetReturning: row.retset,
      rows: row.rows === null ? null : Number(row.rows),
    };
  });
}

/** Every type a column, argument or attribute can have (all schemas, array and row types too). */
async function readTypes(sql: Sql): Promise<PgType[]> {
  const rows = await sql<
    {
      id: string;
      name: string;
      schema: string;
      format: string;
      enums: string[];
      attributes: { name: string; type_id: string }[];
      type_relation_id: string | null;
    }[]
  >`
    select t.oid::int8 as id, t.typname as name, n.nspname as schema, pg_catalog.format_type(t.oid, null) as format,
      array(select e.enumlabel::text from pg_catalog.pg_enum e where e.enumtypid = t.oid order by e.enumsortorder) as enums,
      coalesce((
        select json_agg(json_build_object('name', a.attname, 'type_id', a.atttypid::int8::text) order by a.attnum)
        from pg_catalog.pg_class c join pg_catalog.pg_attribute a on a.attrelid = c.oid
        where c.oid = t.typrelid and c.relkind = 'c' and a.attnum > 0 and not a.attisdropped
      ), '[]') as attributes,
      nullif(t.typrelid, 0)::int8 as type_relation_id
    from pg_catalog.pg_type t
    join pg_catalog.pg_namespace n on n.oid = t.typnamespace
    where t.typrelid = 0
      or (select c.relkind in ('c', 'r', 'v', 'm', 'p') from pg_catalog.pg_class c where c.oid = t.typrelid)
  `;
  return rows.map((row) => ({
    id: Number(row.id),
    name: row.name,
    schema: row.schema,
    format: row.format,
    enums: row.enums,
    attributes: row.attributes.map((attribute) => ({ name: attribute.name, typeId: Number(attribute.type_id) })),
    typeRelationId: row.type_relation_id === null ? null : Number(row.type_relation_id),
  }));
}
