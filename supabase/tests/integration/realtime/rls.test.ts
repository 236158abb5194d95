/**
 * RLS on delivery: the isolation matrix of the database suite, seen through realtime. Alice writes
 * to every table; Bob subscribes every way he can (no filter, a filter naming Alice, schema `*`),
 * anon subscribes too. After each round Bob writes a marker row of his own; when the marker
 * arrives, everything Alice committed before it has been processed (commit order, and one socket
 * carries all of Bob's channels), so "Bob got nothing of Alice's" is checked without sleeping.
 *
 * DELETE is stricter here than on the platform: it reaches only subscribers who could have
 * selected the old row (the table's SELECT policies, evaluated on the REPLICA IDENTITY FULL image).
 */
import type { RealtimePostgresChangesPayload } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalUser } from '../../../../test-support/users.ts';
import {
  adminSql,
  asUser,
  Collector,
  newUser,
  randomTopic,
  realClient,
  removeUsers,
  subscribed,
  type TestClient,
} from '../../../../test-support/realtime.ts';

type Change = RealtimePostgresChangesPayload<Record<string, unknown>>;
const tables = ['conversations', 'messages', 'memories'] as const;

const sql = adminSql();
let alice: LocalUser;
let bob: LocalUser;
let aliceClient: TestClient;
let bobClient: TestClient;
let anonClient: TestClient;

beforeAll(async () => {
  alice = await newUser(sql, 'alice');
  bob = await newUser(sql, 'bob');
  [aliceClient, bobClient, anonClient] = await Promise.all([
    realClient(alice.token),
    realClient(bob.token),
    realClient(null),
  ]);
});

afterAll(async () => {
  await Promise.all([aliceClient.close(), bobClient.close(), anonClient.close()]);
  await removeUsers(sql, [alice, bob]);
  await sql.end();
});

/** Alice inserts into and updates every table. */
async function aliceWritesEverything(): Promise<{ ids: string[] }> {
  return asUser(sql, alice, async (tx) => {
    const [c] = await tx<{ id: string }[]>`insert into public.conversations (title) values ('secret') returning id`;
    const [m] = await tx<
      { id: string }[]
    >`insert into public.messages (conversation_id, role, content) values (${c!.id}, 'user', 'secret') returning id`;
    const [k] = await tx<{ id: string }[]>`insert into public.memories (content) values ('secret') returning id`;
    await tx`update public.conversations set title = 'still secret' where id = ${c!.id}`;
    await tx`update public.memories set content = 'still secret' where id = ${k!.id}`;
    return { ids: [c!.id, m!.id, k!.id] };
  });
}

function watchEverything(client: TestClient, label: string, extra: Record<string, string> = {}) {
  const got = new Collector<Change>();
  let channel = client.supabase.channel(randomTopic(label));
  for (const table of tables)
    channel = channel.on('postgres_changes', { event: '*', schema: 'public', table, ...extra }, got.push);
  return { got, channel };
}

describe('RLS on delivery', () => {
  it('Bob receives nothing of Alice’s INSERTs and UPDATEs, with or without a filter naming her, while Alice receives all', async () => {
    const aliceSees = watchEverything(aliceClient, 'alice');
    const bobPlain = watchEverything(bobClient, 'bob-plain');
    const bobSpoof = watchEverything(bobClient, 'bob-spoof', { filter: `user_id=eq.${alice.id}` });
    const bobWild = new Collector<Change>();
    const wild = bobClient.supabase
      .channel(randomTopic('bob-wild'))
      .on('postgres_changes', { event: '*', schema: '*' }, bobWild.push);
    await Promise.all([
      subscribed(aliceSees.channel),
      subscribed(bobPlain.channel),
      subscribed(bobSpoof.channel),
      subscribed(wild),
    ]);

    const { ids } = await aliceWritesEverything();
    await aliceSees.got.waitFor((c) => c.table === 'memories' && c.eventType === 'UPDATE', 5000, 'Alice’s last change');
    const marker = await asUser(
      sql,
      bob,
      (tx) => tx<{ id: string }[]>`insert into public.memories (content) values ('bob marker') returning id`,
    );
    await bobPlain.got.waitFor((c) => (c.new as { id?: string }).id === marker[0]!.id, 5000, 'Bob’s marker (plain)');
    await bobWild.waitFor((c) => (c.new as { id?: string }).id === marker[0]!.id, 5000, 'Bob’s marker (wildcard)');

    // The message insert also bumps the conversation's message_count (an UPDATE by trigger).
    expect(aliceSees.got.items.map((c) => `${c.eventType} ${c.table}`)).toEqual([
      'INSERT conversations',
      'INSERT messages',
      'UPDATE conversations',
      'INSERT memories',
      'UPDATE conversations',
      'UPDATE memories',
    ]);
    const leaked = (items: Change[]) =>
      items.filter((c) => ids.includes(String((c.new as { id?: string }).id ?? (c.old as { id?: string }).id)));
    expect(leaked(bobPlain.got.items)).toEqual([]);
    expect(leaked(bobSpoof.got.items)).toEqual([]);
    expect(leaked(bobWild.items)).toEqual([]);
    expect(bobSpoof.got.items).toEqual([]);
  });

  it('anon (the API key alone, no SELECT grant) gets only the platform’s 401 event for INSERT/UPDATE: no row, no key, no DELETE', async () => {
    const anonSees = watchEverything(anonClient, 'anon');
    await subscribed(anonSees.channel);
    const { ids } = await aliceWritesEverything();
    await asUser(sql, alice, (tx) => tx`delete from public.memories where id = ${ids[2]!}`);
    await asUser(sql, alice, (tx) => tx`insert into public.memories (content) values ('second marker')`);
    // The marker INSERT is the last change anon hears of; the DELETE before it was decided by then.
    await anonSees.got.waitFor(
      (c) => anonSees.got.items.length >= 7 && c.eventType === 'INSERT' && c.table === 'memories',
      5000,
      'the marker’s 401',
    );
    expect(anonSees.got.items.map((c) => `${c.eventType} ${c.table}`)).toEqual([
      'INSERT conversations',
      'INSERT messages',
      'UPDATE conversations',
      'INSERT memories',
      'UPDATE conversations',
      'UPDATE memories',
      'INSERT memories',
    ]);
    for (const change of anonSees.got.items) {
      expect(change).toMatchObject({ new: {}, old: {}, errors: ['Error 401: Unauthorized'] });
    }
  });

  it('DELETE: Bob, unfiltered or filtered on Alice’s user_id, receives none of Alice’s; her devices receive them with and without a filter', async () => {
    const alicePhone = await realClient(alice.token);
    const aliceFiltered = watchEverything(aliceClient, 'alice-del-filtered', { filter: `user_id=eq.${alice.id}` });
    const alicePlain = watchEverything(alicePhone, 'alice-del-plain');
    const bobPlain = watchEverything(bobClient, 'bob-del');
    const bobSpoof = watchEverything(bobClient, 'bob-del-spoof', { filter: `user_id=eq.${alice.id}` });
    const bobWild = new Collector<Change>();
    const wild = bobClient.supabase
      .channel(randomTopic('bob-del-wild'))
      .on('postgres_changes', { event: 'DELETE', schema: '*' }, bobWild.push);
    await Promise.all([
      subscribed(aliceFiltered.channel),
      subscribed(alicePlain.channel),
      subscribed(bobPlain.channel),
      subscribed(bobSpoof.channel),
      subscribed(wild),
    ]);

    const { ids } = await aliceWritesEverything();
    const [conversation, message, memory] = ids as [string, string, string];
    await aliceFiltered.got.waitFor(
      (c) => c.table === 'memories' && c.eventType === 'UPDATE',
      5000,
      'Alice’s last write',
    );
    await asUser(sql, alice, async (tx) => {
      await tx`delete from public.memories where id = ${memory}`;
      await tx`delete from public.messages where id = ${message}`;
      await tx`delete from public.conversations where id = ${conversation}`;
    });
    // Bob's own row, inserted and deleted: his unfiltered channels must get his DELETE, and it comes after Alice's.
    const [own] = await asUser(
      sql,
      bob,
      (tx) => tx<{ id: string }[]>`insert into public.memories (content) values ('bob marker') returning id`,
    );
    await asUser(sql, bob, (tx) => tx`delete from public.memories where id = ${own!.id}`);
    const ownDelete = await bobPlain.got.waitFor(
      (c) => c.eventType === 'DELETE' && (c.old as { id?: string }).id === own!.id,
      5000,
      'Bob’s own DELETE',
    );
    expect(ownDelete.old).toEqual({ id: own!.id });
    await bobWild.waitFor((c) => (c.old as { id?: string }).id === own!.id, 5000, 'Bob’s own DELETE (schema *)');

    const deletesOf = (items: Change[]) =>
      items.filter((c) => c.eventType === 'DELETE').map((c) => `${c.table} ${JSON.stringify(c.old)}`);
    const expected = [
      `memories {"id":"${memory}"}`,
      `messages {"id":"${message}"}`,
      `conversations {"id":"${conversation}"}`,
    ];
    await alicePlain.got.waitFor(
      (c) => c.eventType === 'DELETE' && c.table === 'conversations',
      5000,
      'Alice’s DELETEs (unfiltered device)',
    );
    await aliceFiltered.got.waitFor(
      (c) => c.eventType === 'DELETE' && c.table === 'conversations',
      5000,
      'Alice’s DELETEs (filtered device)',
    );
    expect(deletesOf(alicePlain.got.items)).toEqual(expected);
    expect(deletesOf(aliceFiltered.got.items)).toEqual(expected);

    const aliceIds = (items: Change[]) =>
      items.filter((c) => ids.includes(String((c.old as { id?: string }).id ?? (c.new as { id?: string }).id)));
    expect(aliceIds(bobPlain.got.items)).toEqual([]);
    expect(aliceIds(bobWild.items)).toEqual([]);
    expect(bobSpoof.got.items).toEqual([]);
    expect(deletesOf(bobPlain.got.items)).toEqual([`memories {"id":"${own!.id}"}`]);
    await alicePhone.close();
  });

  it('service_role, which bypasses RLS, receives every user’s rows and DELETEs', async () => {
    const service = await realClient(process.env.SERVICE_ROLE_KEY ?? null);
    const sees = new Collector<Change>();
    const channel = service.supabase
      .channel(randomTopic('service'))
      .on('postgres_changes', { event: '*', schema: 'public', table: 'memories' }, sees.push);
    await subscribed(channel);
    const [row] = await asUser(
      sql,
      bob,
      (tx) => tx<{ id: string }[]>`insert into public.memories (content) values ('for the admin') returning id`,
    );
    await sees.waitFor((c) => (c.new as { id?: string }).id === row!.id, 5000, 'Bob’s row');
    await asUser(sql, bob, (tx) => tx`delete from public.memories where id = ${row!.id}`);
    const deleted = await sees.waitFor((c) => c.eventType === 'DELETE', 5000, 'Bob’s DELETE');
    expect(deleted.old).toEqual({ id: row!.id });
    await service.close();
  });
});
