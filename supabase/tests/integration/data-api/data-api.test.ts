/**
 * The Data API (/rest/v1, the real PostgREST) as an app uses it, with the real supabase-js and the
 * package's committed types: Ada reads and writes her rows, Ben sees and changes none of them, anon
 * sees nothing, and the platform's guards hold (per-role statement timeout; an UPDATE or DELETE with
 * no WHERE is refused). Writes through the Data API are counted (message_count) and enter the sync
 * change log like any other write.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalUser } from '../../../../test-support/users.ts';
import type { Database } from '../../../functions/_shared/database.types.ts';
import { anonKey, apiUrl, connectDb } from '../functions/support.ts';
import { createLocalUser, deleteLocalUsers } from '../../../../test-support/users.ts';
import { waitFor } from '../../../../test-support/wait.ts';
import { realClient, subscribed } from '../../../../test-support/realtime.ts';

const sql = connectDb();
let ada: LocalUser;
let ben: LocalUser;

const clientFor = (token?: string): SupabaseClient<Database> =>
  createClient<Database>(apiUrl, anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    ...(token ? { global: { headers: { Authorization: `Bearer ${token}` } } } : {}),
  });

let asAda: SupabaseClient<Database>;
let asBen: SupabaseClient<Database>;
let adaConversation: string;

beforeAll(async () => {
  const tag = crypto.randomUUID().slice(0, 8);
  ada = await createLocalUser(sql, `ada-rest-${tag}@virgil.test`);
  ben = await createLocalUser(sql, `ben-rest-${tag}@virgil.test`);
  asAda = clientFor(ada.token);
  asBen = clientFor(ben.token);
  const { data, error } = await asAda
    .from('conversations')
    .insert({ local_id: 'rest-c1', title: 'Through PostgREST' })
    .select()
    .single();
  expect(error).toBeNull();
  adaConversation = data!.id;
  const messages = Array.from({ length: 5 }, (_, i) => ({
    conversation_id: adaConversation,
    local_id: `rest-m${i}`,
    role: 'user',
    content: `message ${i}`,
  }));
  expect((await asAda.from('messages').insert(messages)).error).toBeNull();
});

afterAll(async () => {
  await deleteLocalUsers(sql, [ada.id, ben.id]);
  await sql.end({ timeout: 5 });
});

describe('the Data API as the signed-in owner', () => {
  it('lists with filters, ordering, ranges and an exact count', async () => {
    const { data, error, count } = await asAda
      .from('messages')
      .select('local_id, content', { count: 'exact' })
      .eq('conversation_id', adaConversation)
      .ilike('content', 'message%')
      .order('local_id', { ascending: false })
      .range(1, 2);
    expect(error).toBeNull();
    expect(count).toBe(5);
    expect(data!.map((row) => row.local_id)).toEqual(['rest-m3', 'rest-m2']);
  });

  it('embeds the conversation of each message', async () => {
    const { data, error } = await asAda
      .from('messages')
      .select('local_id, conversations(title)')
      .eq('local_id', 'rest-m0')
      .single();
    expect(error).toBeNull();
    expect(data).toEqual({ local_id: 'rest-m0', conversations: { title: 'Through PostgREST' } });
  });

  it('counts messages written through it exactly, and logs them for sync', async () => {
    const [row] = await sql<
      { message_count: number }[]
    >`select message_count from public.conversations where id = ${adaConversation}`;
    expect(row!.message_count).toBe(5);
    const [logged] = await sql<
      { n: number }[]
    >`select count(*)::int as n from sync.changes where user_id = ${ada.id} and table_name = 'messages'`;
    expect(logged!.n).toBe(5);
  });

  it('updates, upserts and deletes with select()', async () => {
    const [current] = await sql<
      { version: string }[]
    >`select version from public.conversations where id = ${adaConversation}`;
    const updated = await asAda
      .from('conversations')
      .update({ title: 'Renamed' })
      .eq('id', adaConversation)
      .select('title, version')
      .single();
    expect(updated.error).toBeNull();
    expect(updated.data).toEqual({ title: 'Renamed', version: Number(current!.version) + 1 });

    const upserted = await asAda
      .from('memories')
      .upsert({ local_id: 'rest-mem', content: 'first', user_id: ada.id }, { onConflict: 'user_id,local_id' })
      .select('content')
      .single();
    expect(upserted.error).toBeNull();
    const again = await asAda
      .from('memories')
      .upsert({ local_id: 'rest-mem', content: 'second', user_id: ada.id }, { onConflict: 'user_id,local_id' })
      .select('content, version')
      .single();
    expect(again.data).toEqual({ content: 'second', version: 2 });

    const removed = await asAda.from('messages').delete().eq('local_id', 'rest-m4').select('local_id');
    expect(removed.data).toEqual([{ local_id: 'rest-m4' }]);
    const [row] = await sql<
      { message_count: number }[]
    >`select message_count from public.conversations where id = ${adaConversation}`;
    expect(row!.message_count).toBe(4);
  });

  it('calls search_memories over rpc', async () => {
    const { data, error } = await asAda.rpc('search_memories', { query: 'second', match_count: 5 });
    expect(error).toBeNull();
    expect(data!.map((row) => row.local_id)).toContain('rest-mem');
  });
});

describe('writes through the Data API on both realtime paths', () => {
  it("reach Ada's Postgres Changes subscription and her private sync topic", async () => {
    const device = await realClient(ada.token);
    const changes: { local_id?: string }[] = [];
    const broadcasts: { event: string; local_id?: string }[] = [];
    try {
      const viaChanges = device.supabase
        .channel(`data-api-${crypto.randomUUID().slice(0, 8)}`)
        .on(
          'postgres_changes' as never,
          { event: 'INSERT', schema: 'public', table: 'memories', filter: `user_id=eq.${ada.id}` },
          (payload: { new: { local_id?: string } }) => changes.push(payload.new),
        );
      const viaBroadcast = device.supabase
        .channel(`virgil-sync-${ada.id}`, { config: { private: true } })
        .on('broadcast', { event: '*' }, (message: { event: string; payload: { record?: { local_id?: string } } }) =>
          broadcasts.push({ event: message.event, local_id: message.payload.record?.local_id }),
        );
      await Promise.all([subscribed(viaChanges), subscribed(viaBroadcast)]);
      const { error } = await asAda
        .from('memories')
        .insert({ local_id: 'rest-live', content: 'written through the Data API' });
      expect(error).toBeNull();
      await waitFor(() => changes.some((row) => row.local_id === 'rest-live'), {
        timeoutMs: 10_000,
        what: 'the Postgres Changes event',
      });
      await waitFor(() => broadcasts.some((row) => row.event === 'INSERT' && row.local_id === 'rest-live'), {
        timeoutMs: 10_000,
        what: 'the broadcast on the private topic',
      });
    } finally {
      await device.close();
    }
  });
});

describe('the Data API for everyone else', () => {
  it("gives Ben empty lists and a 406 for Ada's row", async () => {
    const list = await asBen.from('conversations').select('*');
    expect(list.error).toBeNull();
    expect(list.data).toEqual([]);
    const single = await asBen.from('conversations').select('*').eq('id', adaConversation).single();
    expect(single.status).toBe(406);
    expect(single.error?.code).toBe('PGRST116');
    const rpc = await asBen.rpc('search_memories', { query: 'second', match_count: 5 });
    expect(rpc.data).toEqual([]);
  });

  it("refuses Ben a row with Ada's user_id (42501) and changes nothing of Ada's", async () => {
    const insert = await asBen.from('conversations').insert({ local_id: 'forged', title: 'forged', user_id: ada.id });
    expect(insert.error?.code).toBe('42501');
    const before = await sql`select id, title, version from public.conversations where user_id = ${ada.id} order by id`;
    const update = await asBen.from('conversations').update({ title: 'taken' }).eq('id', adaConversation).select();
    expect(update.data).toEqual([]);
    const removed = await asBen.from('messages').delete().eq('conversation_id', adaConversation).select();
    expect(removed.data).toEqual([]);
    expect(
      await sql`select id, title, version from public.conversations where user_id = ${ada.id} order by id`,
    ).toEqual(before);
    const [messages] = await sql<
      { n: number }[]
    >`select count(*)::int as n from public.messages where user_id = ${ada.id}`;
    expect(messages!.n).toBe(4);
  });

  it('shows anon nothing', async () => {
    for (const table of ['conversations', 'messages', 'memories'] as const) {
      const { data, error } = await clientFor().from(table).select('*');
      expect(data ?? [], table).toEqual([]);
      if (error) expect(error.code, table).toBe('42501');
    }
  });

  it('refuses an unknown key before PostgREST sees it', async () => {
    const response = await fetch(`${apiUrl}/rest/v1/conversations`, {
      headers: { apikey: 'sb_secret_totally-made-up' },
    });
    expect(response.status).toBe(401);
    await response.body?.cancel();
  });
});

describe("the platform's guards on the Data API", () => {
  const fn = 'data_api_test_sleep';
  beforeAll(async () => {
    await sql.unsafe(
      `create function public.${fn}(seconds double precision) returns void language sql as 'select pg_sleep(seconds)'`,
    );
    await sql.unsafe(`grant execute on function public.${fn}(double precision) to anon`);
    await sql`select pg_notify('pgrst', 'reload schema')`;
    // The schema cache has the function once PostgREST stops answering PGRST202 for it.
    await waitFor(
      async () => (await clientFor().rpc(fn as never, { seconds: 0 } as never)).error?.code !== 'PGRST202',
      { timeoutMs: 10_000, what: 'the schema cache reload' },
    );
  });
  afterAll(async () => {
    await sql.unsafe(`drop function if exists public.${fn}(double precision)`);
    await sql`select pg_notify('pgrst', 'reload schema')`;
  });

  it("cancels anon's slow query at anon's statement_timeout (3 s)", async () => {
    const started = performance.now();
    const { error } = await clientFor().rpc(fn as never, { seconds: 4 } as never);
    const elapsed = performance.now() - started;
    expect(error?.code).toBe('57014');
    expect(elapsed).toBeGreaterThan(2900);
    expect(elapsed).toBeLessThan(3900);
  }, 15_000);

  it('refuses an UPDATE or DELETE with no filter (21000) and changes nothing', async () => {
    const before = await sql`select id, title, version from public.conversations where user_id = ${ada.id} order by id`;
    const update = await asAda.from('conversations').update({ title: 'everything' }).select();
    expect(update.error?.code).toBe('21000');
    expect(update.error?.message).toBe('UPDATE requires a WHERE clause');
    const removed = await asAda.from('messages').delete();
    expect(removed.error?.code).toBe('21000');
    expect(removed.error?.message).toBe('DELETE requires a WHERE clause');
    expect(
      await sql`select id, title, version from public.conversations where user_id = ${ada.id} order by id`,
    ).toEqual(before);
  });
});
