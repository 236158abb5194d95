/** Fixtures the realtime unit tests share. */
import type { TableInfo } from './catalog.ts';

/** A published table as the catalog describes it: columns as `[name, type]`, key `id`, RLS on, no policies. */
export function testTable(
  schema: string,
  table: string,
  columns: [name: string, type: string][],
  rest: Partial<TableInfo> = {},
): TableInfo {
  return {
    schema,
    table,
    rls: true,
    columns: columns.map(([name, type]) => ({ name, type })),
    types: new Map(columns),
    primaryKey: ['id'],
    selectPolicies: [],
    selectable: new Map(),
    ...rest,
  };
}
