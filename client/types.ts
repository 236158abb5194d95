/**
 * The shapes the device client works with: rows as the database holds them, the changes that reach
 * a device (from realtime or from sync's pull), and the outbox's queued edits.
 *
 * Wire shapes (sync items, push results, pulled changes) are the sync function's own zod types in
 * supabase/functions/_shared/sync-protocol.ts; this file only adds what lives on the device.
 */
import type { Database } from '../supabase/functions/_shared/database.types.ts';
import type { SyncItem, SyncTable } from '../supabase/functions/_shared/sync-protocol.ts';

export type { SyncTable } from '../supabase/functions/_shared/sync-protocol.ts';
export const syncTableNames = ['conversations', 'messages', 'memories'] as const satisfies readonly SyncTable[];

type Tables = Database['public']['Tables'];
export type ConversationRow = Tables['conversations']['Row'];
export type MessageRow = Tables['messages']['Row'];
export type MemoryRow = Tables['memories']['Row'];
export interface RowOf {
  conversations: ConversationRow;
  messages: MessageRow;
  memories: MemoryRow;
}

/** A row as a device sees it: the server's columns, with `id` and `version` null until the server has it. */
export type LocalRow<T extends SyncTable = SyncTable> = Omit<RowOf[T], 'id' | 'version'> & {
  id: string | null;
  version: number | null;
  /** True while an edit of this row waits in the outbox (the view is optimistic). */
  pending: boolean;
  /** messages only: the conversation's local id, when the message named it that way. */
  conversation_local_id?: string | null;
};

/** Any row in its JSON form (what realtime and pull deliver). */
export type JsonRow = Record<string, unknown>;

/** One change that reached the device, whatever the path: realtime event or pulled change. */
export interface RemoteChange {
  table: SyncTable;
  op: 'upsert' | 'delete';
  id: string;
  local_id: string | null;
  /** Null when the event does not say (a realtime DELETE on an RLS table carries only the key). */
  version: number | null;
  row: JsonRow | null;
  source: 'realtime' | 'pull';
  /** realtime only: Postgres' commit time (ISO), when the payload carries it. */
  commitTimestamp?: string;
}

/** A queued edit: a sync item plus the outbox's bookkeeping. */
export type OutboxItem = SyncItem & {
  /** Position in the queue (increasing); items are pushed in this order. */
  seq: number;
  /** Set once the item has been sent: from then on it is only ever retried unchanged (same change_id). */
  sent: boolean;
};

/** What the device stores of a row besides the outbox: the server's last known state. */
export interface StoredEntry {
  table: SyncTable;
  /** local_id, or `#<id>` for a row created elsewhere without one. */
  key: string;
  local_id: string | null;
  id: string | null;
  /** The server's row as last known, null when it has none (never pushed, or deleted). */
  server: JsonRow | null;
  /** True when `server` was assembled from a push result (id and version) rather than a full row. */
  partial: boolean;
}

export type ConnectionState = 'connected' | 'disconnected' | 'reconnecting';
