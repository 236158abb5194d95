/**
 * @module What `sync` does once the request is known good: push in one transaction as the user,
 * then pull in another (so a device gets its own writes back with their server versions).
 * The database decides everything (migrations, chapters 8–13); this only shapes the answer.
 */
import type { UserClaims } from './auth.ts';
import { asUser, type Sql } from './db.ts';
import { answerFor, invalidCursor } from './errors.ts';
import { withRetries } from './retry.ts';
import { contentImportance } from './scoring.ts';
import {
  decodeCursor,
  encodeCursor,
  syncLimits,
  type DatabaseCursor,
  type PulledChange,
  type PushResult,
  type SyncItem,
  type SyncRequest,
  type SyncResponse,
} from './sync-protocol.ts';

/** Memories pushed without a score get the scoring model's importance (docs/memory-scoring.md). */
export function withImportance(item: SyncItem): SyncItem {
  if (
    item.table !== 'memories' ||
    item.op !== 'upsert' ||
    !item.fields?.content ||
    item.fields.importance_score !== undefined
  ) {
    return item;
  }
  const { content_importance } = contentImportance({
    content: item.fields.content,
    context: item.fields.context,
    tag: item.fields.tag,
  });
  return { ...item, fields: { ...item.fields, importance_score: content_importance } };
}

type DbResult = Omit<PushResult, 'index' | 'table' | 'local_id' | 'change_id'>;

type Timing = { mark(step: string): void };

export async function push(sql: Sql, claims: UserClaims, items: SyncItem[], timing?: Timing): Promise<PushResult[]> {
  if (items.length === 0) return [];
  const prepared = items.map(withImportance);
  timing?.mark('score');
  // One transaction; cancelled by the database (deadlock, serialization, lost connection), it runs
  // again: a replayed item answers from its receipt, so a retry never writes twice.
  const rows = await withRetries(() =>
    asUser(sql, claims, (tx) => {
      // Waiting for one of the pooled connections is its own step: the statement timeout counts only `database`.
      timing?.mark('connection');
      return tx`select public.sync_push(${tx.json(prepared as never)}::jsonb) as results`;
    }),
  );
  timing?.mark('database');
  const results = (rows[0]?.results ?? []) as DbResult[];
  return results.map((result, index) => ({
    index,
    table: items[index]!.table,
    local_id: items[index]!.local_id,
    change_id: items[index]!.change_id,
    ...result,
  }));
}

interface DbPull {
  changes: (PulledChange & { txid: string })[];
  cursor: DatabaseCursor;
  has_more: boolean;
}

/** The device's cursor, checked; a forged one is refused before anything (a push included) is applied. */
export function readCursor(cursorText: string | null | undefined): DatabaseCursor | null {
  const cursor = cursorText ? decodeCursor(cursorText) : null;
  if (cursor === undefined) throw invalidCursor();
  return cursor;
}

export async function pull(sql: Sql, claims: UserClaims, cursor: DatabaseCursor | null, limit: number | undefined) {
  const page = await withRetries(() =>
    asUser(
      sql,
      claims,
      (tx) =>
        tx`select public.sync_pull(${cursor === null ? null : tx.json(cursor as never)}::jsonb, ${limit ?? syncLimits.defaultPullChanges}::integer) as page`,
      { readOnly: true },
    ),
  )
    // decodeCursor already refused what pg_snapshot would; should a cursor still fail a cast in SQL,
    // it is the cursor's fault all the same.
    .catch((error: unknown) => {
      throw answerFor(error, invalidCursor) ?? error;
    });
  const result = page[0]?.page as DbPull;
  return {
    changes: result.changes.map(({ txid: _txid, ...change }) => change),
    cursor: encodeCursor(result.cursor),
    has_more: result.has_more,
  };
}

export async function sync(sql: Sql, claims: UserClaims, request: SyncRequest, timing?: Timing): Promise<SyncResponse> {
  const response: SyncResponse = {};
  const cursor = request.pull ? readCursor(request.pull.cursor) : null;
  if (request.push) {
    response.push = { results: await push(sql, claims, request.push, timing) };
    timing?.mark('shape');
  }
  if (request.pull) {
    response.pull = await pull(sql, claims, cursor, request.pull.limit);
    timing?.mark('pull');
  }
  return response;
}
