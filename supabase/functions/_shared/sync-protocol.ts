/**
 * @module The sync protocol's shapes: one zod schema per message, shared by the `sync` function,
 * the tests and `scripts/` (bench). docs/sync-protocol.md describes the same thing in prose.
 *
 * Validation here is about shape (types, known tables and columns, bounds of the batch). Whether a
 * well-shaped item can be written (a conversation that exists, a role the table allows) is for the
 * database to say, per item, as a `rejected` result.
 */
import { z } from 'zod';

export const syncLimits = {
  /** Items per push. More is answered 413 batch_too_large. */
  maxItems: 1000,
  /** Bytes per request body. More is answered 413 payload_too_large. */
  maxBodyBytes: 4 * 1024 * 1024,
  /** Changes per pull page; the default when the device does not say. */
  maxPullChanges: 10_000,
  defaultPullChanges: 1000,
  /** How deeply arrays and objects may nest in a request (metadata included). More is 400 json_too_deep. */
  maxJsonDepth: 32,
  /**
   * The largest push a device should send, in items and in bytes of request body. maxItems and
   * maxBodyBytes are what the function accepts; this is what keeps a normal push well clear of the
   * statement timeout (8 s, then 503): with 32 devices pushing at once on a 2-core machine under
   * load, the push's database step stayed under 1.3 s for messages and 1.1 s for new memories, where
   * 1,000 memories took up to 7.3 s (`npm run bench:sync:batch`, docs/functions.md).
   */
  devicePushItems: 500,
  devicePushBytes: 1024 * 1024,
} as const;

export const syncTables = ['conversations', 'messages', 'memories'] as const;
export type SyncTable = (typeof syncTables)[number];

const localId = z.string().min(1).max(128);
const timestamp = z.iso.datetime({ offset: true });
const jsonObject = z.record(z.string(), z.json());

export const conversationFields = z.strictObject({
  title: z.string().max(500).nullable().optional(),
  created_at: timestamp.optional(),
});

export const messageFields = z.strictObject({
  conversation_id: z.uuid().optional(),
  conversation_local_id: localId.optional(),
  role: z.enum(['user', 'assistant', 'system']).optional(),
  content: z.string().max(100_000).optional(),
  timestamp: timestamp.optional(),
  metadata: jsonObject.nullable().optional(),
});

export const memoryFields = z.strictObject({
  content: z.string().min(1).max(10_000).optional(),
  context: z.string().max(10_000).nullable().optional(),
  tag: z.string().min(1).max(64).nullable().optional(),
  importance_score: z.number().min(0).max(1).optional(),
  created_at: timestamp.optional(),
});

const itemBase = {
  op: z.enum(['upsert', 'delete']),
  /** The device's id for the row; rows are addressed by it. */
  local_id: localId,
  /** Made up by the device once per edit; a replay with the same change_id changes nothing. */
  change_id: z.uuid(),
  /** When the device made the edit: decides last-write-wins. */
  client_updated_at: timestamp,
  /** The row version the device last saw; null or absent for a row it created. */
  base_version: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable().optional(),
  /** lww (default): the later edit wins a concurrent update. cas: only if base_version is current. */
  mode: z.enum(['lww', 'cas']).optional(),
};

export const syncItem = z
  .discriminatedUnion('table', [
    z.strictObject({ table: z.literal('conversations'), ...itemBase, fields: conversationFields.optional() }),
    z.strictObject({ table: z.literal('messages'), ...itemBase, fields: messageFields.optional() }),
    z.strictObject({ table: z.literal('memories'), ...itemBase, fields: memoryFields.optional() }),
  ])
  .superRefine((item, ctx) => {
    if (item.op === 'delete' && item.fields !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['fields'], message: 'a delete carries no fields' });
    }
    if (item.table === 'messages' && item.fields?.conversation_id && item.fields.conversation_local_id) {
      ctx.addIssue({
        code: 'custom',
        path: ['fields'],
        message: 'give conversation_id or conversation_local_id, not both',
      });
    }
  });
export type SyncItem = z.infer<typeof syncItem>;

export const pullRequest = z.strictObject({
  /** The cursor the previous pull answered with; absent or null for a first pull. */
  cursor: z.string().min(1).max(8192).nullable().optional(),
  limit: z.number().int().min(1).max(syncLimits.maxPullChanges).optional(),
});

export const syncRequest = z
  .strictObject({
    push: z.array(syncItem).max(syncLimits.maxItems).optional(),
    pull: pullRequest.optional(),
  })
  .refine((request) => request.push !== undefined || request.pull !== undefined, {
    message: 'send push, pull or both',
  });
export type SyncRequest = z.infer<typeof syncRequest>;

// Answers -----------------------------------------------------------------------------------------

export const itemStatus = z.enum(['applied', 'unchanged', 'conflict', 'rejected']);

export const pushResult = z.object({
  index: z.number().int(),
  table: z.enum(syncTables),
  local_id: z.string(),
  change_id: z.string(),
  status: itemStatus,
  id: z.uuid().nullable().optional(),
  version: z.number().int().nullable().optional(),
  /** conflict: the server's current row (null when it was deleted). */
  row: jsonObject.nullable().optional(),
  deleted: z.boolean().optional(),
  /** rejected: a stable reason code, the database's explanation and the constraint. */
  reason: z.string().optional(),
  detail: z.string().optional(),
  constraint: z.string().optional(),
});
export type PushResult = z.infer<typeof pushResult>;

export const pulledChange = z.object({
  table: z.enum(syncTables),
  op: z.enum(['upsert', 'delete']),
  id: z.uuid(),
  local_id: z.string().nullable(),
  version: z.number().int(),
  row: jsonObject.nullable(),
});
export type PulledChange = z.infer<typeof pulledChange>;

export const syncResponse = z.object({
  push: z.object({ results: z.array(pushResult) }).optional(),
  pull: z.object({ changes: z.array(pulledChange), cursor: z.string(), has_more: z.boolean() }).optional(),
});
export type SyncResponse = z.infer<typeof syncResponse>;

// Cursor ------------------------------------------------------------------------------------------

/** The largest xid8 (a 64-bit unsigned transaction id). */
const maxTxid = 2n ** 64n - 1n;
const txidText = z
  .string()
  .regex(/^\d{1,20}$/)
  .refine((text) => BigInt(text) <= maxTxid, 'a transaction id is at most 2^64 - 1');

/**
 * Whether text is a snapshot pg_snapshot's input accepts (PostgreSQL src/backend/utils/adt/xid8funcs.c
 * parse_snapshot): `xmin:xmax:xip,…` with 0 < xmin <= xmax, and every in-progress id within
 * [xmin, xmax), in ascending order. Checked here so that a forged cursor is a 400 and never
 * reaches SQL, where it would fail the cast.
 */
export function isSnapshotText(text: string): boolean {
  const match = /^(\d{1,20}):(\d{1,20}):((?:\d{1,20})(?:,\d{1,20})*)?$/.exec(text);
  if (!match) return false;
  const xmin = BigInt(match[1]!);
  const xmax = BigInt(match[2]!);
  if (xmin === 0n || xmax > maxTxid || xmax < xmin) return false;
  let last = xmin;
  for (const part of match[3] ? match[3].split(',') : []) {
    const xip = BigInt(part);
    if (xip < last || xip >= xmax) return false;
    last = xip;
  }
  return true;
}

/** What the database's cursor holds (chapter 13): snapshots in pg_snapshot's text form. */
const snapshotText = z.string().max(4096).refine(isSnapshotText, 'not a snapshot');
export const databaseCursor = z.strictObject({
  since: snapshotText.optional(),
  upto: snapshotText.optional(),
  after: z.strictObject({ txid: txidText, table: z.enum(syncTables), id: z.uuid() }).optional(),
});
export type DatabaseCursor = z.infer<typeof databaseCursor>;

const cursorPrefix = 'v1.';

function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): string {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

/** The opaque string devices keep between pulls. */
export function encodeCursor(cursor: DatabaseCursor): string {
  return cursorPrefix + toBase64Url(JSON.stringify(cursor));
}

/** The database cursor inside a device's string, or undefined when it is not one of ours. */
export function decodeCursor(text: string): DatabaseCursor | undefined {
  if (!text.startsWith(cursorPrefix) || !/^[A-Za-z0-9_-]*$/.test(text.slice(cursorPrefix.length))) return undefined;
  try {
    const parsed = databaseCursor.safeParse(JSON.parse(fromBase64Url(text.slice(cursorPrefix.length))));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
