/**
 * What the functions' integration tests share: the stack's addresses (set by `npm test`'s vitest
 * stage), users with tokens, a supabase-js client per device, and direct SQL for looking behind the
 * functions' backs.
 */
import { createClient, FunctionsHttpError, type SupabaseClient } from '@supabase/supabase-js';
import postgres from 'postgres';
import WebSocket from 'ws';
import { createLocalUser, deleteLocalUsers, type LocalUser } from '../../../../test-support/users.ts';
import type { PushResult, SyncItem, SyncResponse } from '../../../functions/_shared/sync-protocol.ts';

export const apiUrl = process.env.API_URL ?? 'http://127.0.0.1:54321';
export const anonKey = process.env.ANON_KEY ?? '';
export const dbUrl = process.env.DB_URL ?? 'postgresql://postgres:postgres@127.0.0.1:54322/postgres';
export const jwtSecret = process.env.JWT_SECRET ?? 'super-secret-jwt-token-with-at-least-32-characters-long';
export const functionsUrl = `${apiUrl}/functions/v1`;

export const connectDb = (max = 4) => postgres(dbUrl, { max, onnotice: () => {} });

/** A device of a user: a supabase-js client carrying the user's access token. */
export function device(user: LocalUser): SupabaseClient {
  return createClient(apiUrl, anonKey || 'anon', {
    auth: { persistSession: false, autoRefreshToken: false },
    // Node 20 has no WebSocket of its own; the functions tests never open one, but the client wants it.
    realtime: { transport: WebSocket as never },
    global: { headers: { Authorization: `Bearer ${user.token}` } },
  });
}

export interface Answer<T> {
  status: number;
  body: T;
}

/** Calls a function through supabase-js and returns status and JSON body, error or not. */
export async function invoke<T = unknown>(client: SupabaseClient, name: string, body: unknown): Promise<Answer<T>> {
  const { data, error, response } = await client.functions.invoke(name, { body: body as Record<string, unknown> });
  if (error) {
    if (error instanceof FunctionsHttpError) {
      const res = error.context as Response;
      return { status: res.status, body: (await res.json()) as T };
    }
    throw error;
  }
  return { status: response?.status ?? 200, body: data as T };
}

export async function sync(
  client: SupabaseClient,
  body: { push?: SyncItem[]; pull?: { cursor?: string | null; limit?: number } },
) {
  const answer = await invoke<SyncResponse>(client, 'sync', body);
  if (answer.status !== 200) throw new Error(`sync answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body;
}

export async function push(client: SupabaseClient, items: SyncItem[]): Promise<PushResult[]> {
  return (await sync(client, { push: items })).push!.results;
}

/** Pulls every page from `cursor` and returns the changes and the final cursor. */
export async function pullAll(client: SupabaseClient, cursor: string | null = null, limit = 1000) {
  const changes: NonNullable<SyncResponse['pull']>['changes'] = [];
  let pages = 0;
  for (;;) {
    const page = (await sync(client, { pull: { cursor, limit } })).pull!;
    changes.push(...page.changes);
    cursor = page.cursor;
    pages += 1;
    if (!page.has_more) return { changes, cursor, pages };
  }
}

let counter = 0;
/** A fresh edit time, later than every earlier call's. */
export function editTime(offsetMs = 0): string {
  counter += 1;
  return new Date(Date.now() + offsetMs + counter).toISOString();
}

export const item = {
  conversation: (localId: string, fields: { title?: string | null } = {}, extra: Partial<SyncItem> = {}): SyncItem =>
    ({
      table: 'conversations',
      op: 'upsert',
      local_id: localId,
      change_id: crypto.randomUUID(),
      client_updated_at: editTime(),
      fields,
      ...extra,
    }) as SyncItem,
  message: (localId: string, conversationLocalId: string, content: string, extra: Partial<SyncItem> = {}): SyncItem =>
    ({
      table: 'messages',
      op: 'upsert',
      local_id: localId,
      change_id: crypto.randomUUID(),
      client_updated_at: editTime(),
      fields: { conversation_local_id: conversationLocalId, role: 'user', content },
      ...extra,
    }) as SyncItem,
  memory: (localId: string, fields: Record<string, unknown>, extra: Partial<SyncItem> = {}): SyncItem =>
    ({
      table: 'memories',
      op: 'upsert',
      local_id: localId,
      change_id: crypto.randomUUID(),
      client_updated_at: editTime(),
      fields,
      ...extra,
    }) as SyncItem,
  remove: (table: SyncItem['table'], localId: string, extra: Partial<SyncItem> = {}): SyncItem =>
    ({
      table,
      op: 'delete',
      local_id: localId,
      change_id: crypto.randomUUID(),
      client_updated_at: editTime(),
      ...extra,
    }) as SyncItem,
};

/** Users for one test file, deleted (with everything they own) afterwards. */
export function userPool(sql: postgres.Sql) {
  const made: LocalUser[] = [];
  return {
    async create(name: string, tokenOptions: { expiresIn?: number } = {}): Promise<LocalUser> {
      const user = await createLocalUser(sql, `${name}-${crypto.randomUUID()}@tests.virgil.test`, tokenOptions);
      made.push(user);
      return user;
    },
    async dropAll(): Promise<void> {
      await deleteLocalUsers(
        sql,
        made.map((u) => u.id),
      );
    },
  };
}

/** Everything a user has in the database, for "nothing was written" checks. */
export async function footprint(sql: postgres.Sql, userId: string) {
  const [row] = await sql<
    { conversations: number; messages: number; memories: number; changes: number; receipts: number; versions: string }[]
  >`
    select
      (select count(*)::int from public.conversations where user_id = ${userId}) as conversations,
      (select count(*)::int from public.messages where user_id = ${userId}) as messages,
      (select count(*)::int from public.memories where user_id = ${userId}) as memories,
      (select count(*)::int from sync.changes where user_id = ${userId}) as changes,
      (select count(*)::int from sync.receipts where user_id = ${userId}) as receipts,
      (select coalesce(string_agg(table_name || ':' || row_id || ':' || version || ':' || change_txid::text, ',' order by table_name, row_id), '')
         from sync.changes where user_id = ${userId}) as versions`;
  return row!;
}
