/**
 * Turns one decoded change into the `data` object of a postgres_changes message
 * (supabase/realtime `realtime.apply_rls`): `columns` as Postgres typnames in table order, values typed as JSON
 * the way the platform's `to_jsonb` writes them, and `old_record` cut to the primary key for a
 * DELETE on a table with RLS. `columns`, `record` and `old_record` hold only the columns the
 * subscriber may see (columns.ts: column privileges and `select`); one payload is built per
 * distinct (role, select) and shared by every subscriber with it.
 */
import type { TableInfo } from './catalog.ts';
import type { Change, ColumnValue } from './changes.ts';

/** `2026-11-25 01:05:46.20329+00` → `2026-11-25T01:05:46.203Z` (UTC, milliseconds). */
export function commitTimestamp(value: string): string {
  const time = Date.parse(value.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'));
  return Number.isNaN(time) ? value : new Date(time).toISOString();
}

/** One wal2json value as the platform's JSON: json parsed, timestamps in ISO form. */
export function jsonValue(type: string, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if ((type === 'json' || type === 'jsonb') && typeof value === 'string') {
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  }
  if (type === 'timestamptz' && typeof value === 'string')
    return value.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00');
  if (type === 'timestamp' && typeof value === 'string') return value.replace(' ', 'T');
  return value;
}

export function toRecord(values: ColumnValue[], table: TableInfo): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const column of values) record[column.name] = jsonValue(table.types.get(column.name) ?? '', column.value);
  return record;
}

/** The raw images of a change, for filters and primary keys. */
export function images(change: Change): { next: Record<string, unknown>; old: Record<string, unknown> } {
  const old: Record<string, unknown> = {};
  for (const column of change.identity) old[column.name] = column.value;
  const next: Record<string, unknown> = {};
  if (change.type !== 'DELETE') {
    // An unchanged TOASTed value is left out of the new image; the FULL old image has it.
    for (const [name, value] of Object.entries(old)) next[name] = value;
    for (const column of change.columns) next[column.name] = column.value;
  }
  return { next, old };
}

/** Primary key values of an image, in key order. */
export const primaryKeyOf = (image: Record<string, unknown>, table: TableInfo): unknown[] =>
  table.primaryKey.map((name) => image[name]);

/** `visible` limits the columns of the payload; undefined means all of them. */
export function changeData(
  change: Change,
  table: TableInfo,
  committedAt: string,
  visible?: Set<string>,
): Record<string, unknown> {
  const { next, old } = images(change);
  const shown = (name: string) => visible === undefined || visible.has(name);
  const typed = (image: Record<string, unknown>) => {
    const record: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(image))
      if (shown(name)) record[name] = jsonValue(table.types.get(name) ?? '', value);
    return record;
  };
  const data: Record<string, unknown> = {
    schema: change.schema,
    table: change.table,
    commit_timestamp: committedAt,
    type: change.type,
    columns: table.columns
      .filter((column) => shown(column.name))
      .map((column) => ({ name: column.name, type: column.type })),
  };
  if (change.type !== 'DELETE') data.record = typed(next);
  if (change.type === 'UPDATE') {
    data.old_record =
      Object.keys(old).length > 0 ? typed(old) : typed(Object.fromEntries(table.primaryKey.map((k) => [k, next[k]])));
  }
  if (change.type === 'DELETE') {
    const image = table.rls ? Object.fromEntries(table.primaryKey.map((k) => [k, old[k]])) : old;
    data.old_record = typed(image);
  }
  data.errors = null;
  return data;
}

/**
 * The platform's event for a role that may not read the primary key (§7.3 `errors`): no data,
 * just where and what, `columns: []` and `record: {}`.
 */
export function unauthorizedData(change: Change, committedAt: string): Record<string, unknown> {
  return {
    schema: change.schema,
    table: change.table,
    commit_timestamp: committedAt,
    type: change.type,
    columns: [],
    record: {},
    errors: ['Error 401: Unauthorized'],
  };
}
