/**
 * Which columns a subscriber's payload may carry (supabase/realtime `realtime.apply_rls`, in `lib/realtime/tenants/repo/migrations/`): those
 * its role may SELECT, narrowed by the binding's `select` (§7.1), which always keeps the primary
 * key. Column privileges come from the catalog (catalog.ts), per role.
 */
import type { TableInfo } from './catalog.ts';

const NONE = new Set<string>();

export const selectableBy = (table: TableInfo, role: string): Set<string> => table.selectable.get(role) ?? NONE;

/**
 * Whether the role may read no column of the primary key: INSERT and UPDATE then become the
 * platform's `Error 401: Unauthorized` event instead of data.
 */
export function primaryKeyHidden(table: TableInfo, role: string): boolean {
  const selectable = selectableBy(table, role);
  return table.primaryKey.length > 0 && !table.primaryKey.some((name) => selectable.has(name));
}

/** The columns of the payload for `role` and a binding's `select` (undefined: every column). */
export function payloadColumns(table: TableInfo, role: string, select: string[] | undefined): Set<string> {
  const selectable = selectableBy(table, role);
  const wanted = select === undefined ? undefined : new Set([...select, ...table.primaryKey]);
  return new Set(
    table.columns
      .map((column) => column.name)
      .filter((name) => selectable.has(name) && (wanted === undefined || wanted.has(name))),
  );
}
