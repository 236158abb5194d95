/**
 * Realtime payloads turned into the client's one change shape (`RemoteChange`), for both paths:
 *
 *   postgres_changes  `{ eventType, table, new, old, commit_timestamp }`; a DELETE on a table with
 *                     RLS carries only the primary key in `old` (no version, no local_id);
 *   broadcast         the private per-user topic fed by `realtime.broadcast_changes`: the message's
 *                     `event` is INSERT/UPDATE/DELETE and its payload `{ operation, table, schema,
 *                     record, old_record }` (the whole old row on DELETE).
 *
 * Payloads of other schemas or tables, and malformed ones, give `undefined`.
 */
import type { JsonRow, RemoteChange, SyncTable } from './types.ts';
import { syncTableNames } from './types.ts';

const isTable = (table: unknown): table is SyncTable => syncTableNames.includes(table as SyncTable);
const isObject = (value: unknown): value is JsonRow =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function change(
  table: SyncTable,
  operation: string,
  record: unknown,
  old: unknown,
  commitTimestamp?: unknown,
): RemoteChange | undefined {
  const op =
    operation === 'INSERT' || operation === 'UPDATE' ? 'upsert' : operation === 'DELETE' ? 'delete' : undefined;
  // An upsert carries the new row; a delete only the old one, which names the row and its version.
  const row = op === 'upsert' ? record : old;
  if (op === undefined || !isObject(row) || typeof row.id !== 'string') return undefined;
  return {
    table,
    op,
    id: row.id,
    local_id: typeof row.local_id === 'string' ? row.local_id : null,
    version: typeof row.version === 'number' ? row.version : null,
    row: op === 'upsert' ? row : null,
    source: 'realtime',
    ...(typeof commitTimestamp === 'string' ? { commitTimestamp } : {}),
  };
}

/** A `postgres_changes` callback's payload. */
export function fromPostgresChanges(payload: {
  schema?: string;
  table?: string;
  eventType?: string;
  new?: unknown;
  old?: unknown;
  commit_timestamp?: string;
}): RemoteChange | undefined {
  if (payload.schema !== undefined && payload.schema !== 'public') return undefined;
  if (!isTable(payload.table) || typeof payload.eventType !== 'string') return undefined;
  return change(payload.table, payload.eventType, payload.new, payload.old, payload.commit_timestamp);
}

/** A broadcast callback's message (`{ event, payload }`) from `realtime.broadcast_changes`. */
export function fromBroadcast(message: { event?: string; payload?: unknown }): RemoteChange | undefined {
  const payload = message.payload;
  if (!isObject(payload)) return undefined;
  if (payload.schema !== undefined && payload.schema !== 'public') return undefined;
  const operation = typeof payload.operation === 'string' ? payload.operation : message.event;
  if (!isTable(payload.table) || typeof operation !== 'string') return undefined;
  return change(payload.table, operation, payload.record, payload.old_record);
}

/** A change pulled through sync. */
export function fromPull(pulled: {
  table: SyncTable;
  op: 'upsert' | 'delete';
  id: string;
  local_id: string | null;
  version: number;
  row: JsonRow | null;
}): RemoteChange {
  return {
    table: pulled.table,
    op: pulled.op,
    id: pulled.id,
    local_id: pulled.local_id,
    version: pulled.version,
    row: pulled.op === 'delete' ? null : pulled.row,
    source: 'pull',
  };
}
