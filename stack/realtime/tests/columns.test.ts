/**
 * What a payload may carry, and DELETE decided by the table's own policies, on scratch tables this
 * file creates in its own schema, publishes for the run and removes afterwards (our tables grant
 * whole-table SELECT and have one policy each, so they cannot show column privileges, `select`,
 * restrictive or cross-table policies, or the identity-DEFAULT fallback).
 *
 *   notes      RLS: own rows, or rows shared with you (a policy with a subquery naming the table),
 *              and a restrictive policy hiding body 'hidden'. authenticated may not SELECT
 *              `secret`. REPLICA IDENTITY FULL.
 *   shares     who may read whose note (not published).
 *   locked     authenticated may SELECT `body` but not the primary key.
 *   keyonly    RLS on own rows, REPLICA IDENTITY DEFAULT: a DELETE carries only the key.
 */
import type { RealtimePostgresChangesPayload } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { LocalUser } from '../../../test-support/users.ts';
import {
  adminSql,
  asUser,
  Collector,
  env,
  newUser,
  randomTopic,
  realClient,
  removeUsers,
  subscribed,
  type TestClient,
} from '../../../test-support/realtime.ts';

type Change = RealtimePostgresChangesPayload<Record<string, unknown>>;

const sql = adminSql();
const schema = `rt_scratch_${crypto.randomUUID().slice(0, 8)}`;
let alice: LocalUser;
let bob: LocalUser;
let aliceClient: TestClient;
let bobClient: TestClient;

beforeAll(async () => {
  await sql.begin(async (tx) => {
    await tx.unsafe(`
      create schema ${schema};
      grant usage on schema ${schema} to authenticated, service_role;

      create table ${schema}.notes (
        id uuid primary key default gen_random_uuid(),
        user_id uuid not null default auth.uid(),
        body text,
        secret text
      );
      create table ${schema}.shares (note_id uuid not null, user_id uuid not null);
      alter table ${schema}.notes enable row level security;
      alter table ${schema}.notes replica identity full;
      create policy own on ${schema}.notes for select to authenticated using (user_id = (select auth.uid()));
      create policy shared on ${schema}.notes for select to authenticated
        using (exists (select 1 from ${schema}.shares s where s.note_id = notes.id and s.user_id = (select auth.uid())));
      create policy not_hidden on ${schema}.notes as restrictive for select to authenticated using (body is distinct from 'hidden');
      create policy write_own on ${schema}.notes for all to authenticated using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
      grant select (id, user_id, body), insert, update, delete on ${schema}.notes to authenticated;
      grant select on ${schema}.notes to service_role;
      grant select on ${schema}.shares to authenticated;

      create table ${schema}.locked (id uuid primary key default gen_random_uuid(), body text);
      grant select (body) on ${schema}.locked to authenticated;

      create table ${schema}.keyonly (id uuid primary key default gen_random_uuid(), user_id uuid not null default auth.uid(), body text);
      alter table ${schema}.keyonly enable row level security;
      create policy own on ${schema}.keyonly for all to authenticated using (user_id = (select auth.uid()));
      grant select, insert, delete on ${schema}.keyonly to authenticated;

      alter publication supabase_realtime add table ${schema}.notes, ${schema}.locked, ${schema}.keyonly;
    `);
  });
  alice = await newUser(sql, 'alice');
  bob = await newUser(sql, 'bob');
  [aliceClient, bobClient] = await Promise.all([realClient(alice.token), realClient(bob.token)]);
});

afterAll(async () => {
  await Promise.all([aliceClient?.close(), bobClient?.close()]);
  await sql.unsafe(
    `alter publication supabase_realtime drop table ${schema}.notes, ${schema}.locked, ${schema}.keyonly`,
  );
  await sql.unsafe(`drop schema ${schema} cascade`);
  await removeUsers(sql, [alice, bob].filter(Boolean));
  await sql.end();
});

const idOf = (change: Change) => String((change.new as { id?: string }).id ?? (change.old as { id?: string }).id);

async function insertNote(user: LocalUser, body: string, secret = 'pin 1234'): Promise<string> {
  const [row] = await asUser(
    sql,
    user,
    (tx) =>
      tx<{ id: string }[]>`insert into ${sql(schema)}.notes (body, secret) values (${body}, ${secret}) returning id`,
  );
  return row!.id;
}

describe('column privileges and select', () => {
  it('leaves out the columns the role may not SELECT, from columns, record and old_record; service_role sees them', async () => {
    const service = await realClient(process.env.SERVICE_ROLE_KEY ?? null);
    const mine = new Collector<Change>();
    const admin = new Collector<Change>();
    const channel = aliceClient.supabase
      .channel(randomTopic('cols'))
      .on('postgres_changes', { event: '*', schema, table: 'notes' }, mine.push);
    const adminChannel = service.supabase
      .channel(randomTopic('cols-admin'))
      .on('postgres_changes', { event: '*', schema, table: 'notes' }, admin.push);
    await Promise.all([subscribed(channel), subscribed(adminChannel)]);

    const id = await insertNote(alice, 'groceries');
    await mine.waitFor((c) => c.eventType === 'INSERT', 5000, 'INSERT');
    await asUser(sql, alice, (tx) => tx`update ${sql(schema)}.notes set body = 'groceries!' where id = ${id}`);
    const updated = await mine.waitFor((c) => c.eventType === 'UPDATE', 5000, 'UPDATE');
    const inserted = mine.items[0]!;

    expect(Object.keys(inserted.new).sort()).toEqual(['body', 'id', 'user_id']);
    expect(updated.new).toEqual({ id, user_id: alice.id, body: 'groceries!' });
    expect(updated.old).toEqual({ id, user_id: alice.id, body: 'groceries' });
    const adminUpdate = await admin.waitFor((c) => c.eventType === 'UPDATE', 5000, 'UPDATE (service_role)');
    expect(adminUpdate.new).toMatchObject({ id, body: 'groceries!', secret: 'pin 1234' });
    expect(adminUpdate.old).toMatchObject({ secret: 'pin 1234' });
    await service.close();
  });

  it('`select` keeps only the listed columns plus the primary key, one payload per distinct list in a channel', async () => {
    const bodyOnly = new Collector<Change>();
    const withUser = new Collector<Change>();
    const everything = new Collector<Change>();
    const channel = aliceClient.supabase
      .channel(randomTopic('select'))
      .on('postgres_changes', { event: '*', schema, table: 'notes', select: ['body'] } as never, bodyOnly.push)
      .on(
        'postgres_changes',
        { event: 'UPDATE', schema, table: 'notes', select: ['user_id', 'secret'] } as never,
        withUser.push,
      )
      .on('postgres_changes', { event: 'UPDATE', schema, table: 'notes' }, everything.push);
    await subscribed(channel);

    const id = await insertNote(alice, 'before');
    await bodyOnly.waitFor((c) => c.eventType === 'INSERT', 5000, 'INSERT');
    await asUser(sql, alice, (tx) => tx`update ${sql(schema)}.notes set body = 'after' where id = ${id}`);
    const narrow = await bodyOnly.waitFor((c) => c.eventType === 'UPDATE', 5000, 'UPDATE (select body)');
    const user = await withUser.waitFor(() => true, 5000, 'UPDATE (select user_id, secret)');
    const whole = await everything.waitFor(() => true, 5000, 'UPDATE (no select)');

    expect(bodyOnly.items[0]!.new).toEqual({ id, body: 'before' });
    expect(narrow.new).toEqual({ id, body: 'after' });
    expect(narrow.old).toEqual({ id, body: 'before' });
    // `select` cannot widen what the role may read: `secret` stays out.
    expect(user.new).toEqual({ id, user_id: alice.id });
    expect(whole.new).toEqual({ id, user_id: alice.id, body: 'after' });
  });

  it('on the wire: `columns` lists only what the message carries, and each distinct `select` is its own message with its own ids', async () => {
    const ws = new WebSocket(
      `${env.apiUrl().replace(/^http/, 'ws')}/realtime/v1/websocket?apikey=${env.anonKey()}&vsn=2.0.0`,
    );
    const frames = new Collector<[string | null, string | null, string, string, Record<string, any>]>();
    ws.on('message', (data) => frames.push(JSON.parse(data.toString())));
    await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
    const topic = `realtime:${randomTopic('wire')}`;
    const bindings = [
      { event: 'INSERT', schema, table: 'notes', select: ['body'] },
      { event: 'INSERT', schema, table: 'notes' },
    ];
    ws.send(
      JSON.stringify([
        '1',
        '1',
        topic,
        'phx_join',
        { config: { postgres_changes: bindings }, access_token: alice.token },
      ]),
    );
    const reply = await frames.waitFor((f) => f[3] === 'phx_reply' && f[1] === '1', 3000, 'the join reply');
    const [narrowId, wholeId] = (reply[4].response.postgres_changes as { id: number }[]).map((binding) => binding.id);
    await frames.waitFor((f) => f[3] === 'system' && f[4].message === 'Subscribed to PostgreSQL', 3000, 'subscribed');
    const id = await insertNote(alice, 'on the wire');
    await frames.waitFor(
      () => frames.items.filter((f) => f[3] === 'postgres_changes').length >= 2,
      5000,
      'two messages',
    );
    ws.close();
    const messages = frames.items
      .filter((f) => f[3] === 'postgres_changes')
      .map((f) => f[4] as { ids: number[]; data: Record<string, any> });
    const narrow = messages.find((m) => m.ids.includes(narrowId!))!;
    const whole = messages.find((m) => m.ids.includes(wholeId!))!;
    expect(narrow.ids).toEqual([narrowId]);
    expect(whole.ids).toEqual([wholeId]);
    expect(narrow.data.columns).toEqual([
      { name: 'id', type: 'uuid' },
      { name: 'body', type: 'text' },
    ]);
    expect(narrow.data.record).toEqual({ id, body: 'on the wire' });
    expect(whole.data.columns.map((c: { name: string }) => c.name)).toEqual(['id', 'user_id', 'body']);
    expect(whole.data.record).toEqual({ id, user_id: alice.id, body: 'on the wire' });
  });

  it('refuses `select` with table `*` or as a non-array with the platform’s system error', async () => {
    for (const binding of [
      { event: '*', schema, select: ['body'] },
      { event: '*', schema: '*', table: 'notes', select: ['body'] },
      { event: '*', schema, table: 'notes', select: 'body' },
    ]) {
      const system = new Collector<{ status: string; message: string }>();
      const channel = aliceClient.supabase
        .channel(randomTopic('bad-select'))
        .on('postgres_changes', binding as never, () => undefined)
        .on('system', {}, system.push);
      await subscribed(channel);
      const error = await system.waitFor((m) => m.status === 'error', 5000, 'system error');
      expect(error.message, JSON.stringify(binding)).toMatch(/^Unable to subscribe to changes with given parameters/);
    }
  });

  it('a role that may not SELECT the primary key gets the 401 event for INSERT and UPDATE, never data, and no DELETE', async () => {
    const got = new Collector<Change>();
    const channel = aliceClient.supabase
      .channel(randomTopic('locked'))
      .on('postgres_changes', { event: '*', schema, table: 'locked' }, got.push);
    await subscribed(channel);
    const [row] = await sql<{ id: string }[]>`insert into ${sql(schema)}.locked (body) values ('a') returning id`;
    await sql`update ${sql(schema)}.locked set body = 'b' where id = ${row!.id}`;
    await sql`delete from ${sql(schema)}.locked where id = ${row!.id}`;
    await sql`insert into ${sql(schema)}.locked (body) values ('marker')`;
    await got.waitFor(() => got.items.length >= 3, 5000, 'the marker’s 401');
    expect(got.items.map((c) => c.eventType)).toEqual(['INSERT', 'UPDATE', 'INSERT']);
    for (const change of got.items) {
      expect(change).toMatchObject({ schema, table: 'locked', new: {}, old: {}, errors: ['Error 401: Unauthorized'] });
    }
  });
});

describe('DELETE decided by the table’s SELECT policies', () => {
  it('goes to whoever could read the old row: the owner, a user it was shared with (subquery policy), no one past a restrictive policy', async () => {
    const aliceSees = new Collector<Change>();
    const bobSees = new Collector<Change>();
    const bobSpoof = new Collector<Change>();
    const aliceChannel = aliceClient.supabase
      .channel(randomTopic('a'))
      .on('postgres_changes', { event: 'DELETE', schema, table: 'notes' }, aliceSees.push);
    const bobChannel = bobClient.supabase
      .channel(randomTopic('b'))
      .on('postgres_changes', { event: 'DELETE', schema, table: 'notes' }, bobSees.push)
      .on(
        'postgres_changes',
        { event: 'DELETE', schema, table: 'notes', filter: `user_id=eq.${alice.id}` },
        bobSpoof.push,
      );
    await Promise.all([subscribed(aliceChannel), subscribed(bobChannel)]);

    const shared = await insertNote(alice, 'shared with bob');
    const private_ = await insertNote(alice, 'just mine');
    const hidden = await insertNote(alice, 'x');
    await sql`insert into ${sql(schema)}.shares (note_id, user_id) values (${shared}, ${bob.id})`;
    // As the owner of the tables: RLS would refuse Alice a row she could not read back.
    await sql`update ${sql(schema)}.notes set body = 'hidden' where id = ${hidden}`;
    await asUser(sql, alice, async (tx) => {
      await tx`delete from ${sql(schema)}.notes where id = ${shared}`;
      await tx`delete from ${sql(schema)}.notes where id = ${private_}`;
    });
    // The restrictive policy says Alice could not have read it: her DELETE is not sent to her either.
    await sql`delete from ${sql(schema)}.notes where id = ${hidden}`;
    const bobsOwn = await insertNote(bob, 'bob marker');
    await asUser(sql, bob, (tx) => tx`delete from ${sql(schema)}.notes where id = ${bobsOwn}`);
    const aliceMarker = await insertNote(alice, 'alice marker');
    await asUser(sql, alice, (tx) => tx`delete from ${sql(schema)}.notes where id = ${aliceMarker}`);

    await bobSees.waitFor((c) => idOf(c) === bobsOwn, 5000, 'Bob’s own DELETE');
    await aliceSees.waitFor((c) => idOf(c) === aliceMarker, 5000, 'Alice’s marker DELETE');
    expect(aliceSees.items.map(idOf)).toEqual([shared, private_, aliceMarker]);
    expect(bobSees.items.map(idOf)).toEqual([shared, bobsOwn]);
    // Both of Bob's bindings match the shared note: one message with both ids.
    expect(bobSpoof.items.map(idOf)).toEqual([shared]);
    expect(bobSees.items[0]!.old).toEqual({ id: shared });
  });

  it('decides two deletes of one primary key in one transaction apart, by their own old images', async () => {
    const aliceSees = new Collector<Change>();
    const bobSees = new Collector<Change>();
    const aliceChannel = aliceClient.supabase
      .channel(randomTopic('a2'))
      .on('postgres_changes', { event: 'DELETE', schema, table: 'notes' }, aliceSees.push);
    const bobChannel = bobClient.supabase
      .channel(randomTopic('b2'))
      .on('postgres_changes', { event: 'DELETE', schema, table: 'notes' }, bobSees.push);
    await Promise.all([subscribed(aliceChannel), subscribed(bobChannel)]);
    const id = crypto.randomUUID();
    await sql.begin(async (tx) => {
      await tx`insert into ${sql(schema)}.notes (id, user_id, body) values (${id}, ${alice.id}, 'first owner')`;
      await tx`delete from ${sql(schema)}.notes where id = ${id}`;
      await tx`insert into ${sql(schema)}.notes (id, user_id, body) values (${id}, ${bob.id}, 'second owner')`;
      await tx`delete from ${sql(schema)}.notes where id = ${id}`;
    });
    const marker = await insertNote(bob, 'marker');
    await asUser(sql, bob, (tx) => tx`delete from ${sql(schema)}.notes where id = ${marker}`);
    await bobSees.waitFor((c) => idOf(c) === marker, 5000, 'Bob’s marker');
    await aliceSees.waitFor((c) => idOf(c) === id, 5000, 'Alice’s DELETE');
    expect(aliceSees.items.map(idOf)).toEqual([id]);
    expect(bobSees.items.map(idOf)).toEqual([id, marker]);
  });

  it('with REPLICA IDENTITY DEFAULT the policy cannot be decided: the platform’s rule, key only to every filter-matching subscriber', async () => {
    const bobSees = new Collector<Change>();
    const bobFiltered = new Collector<Change>();
    const channel = bobClient.supabase
      .channel(randomTopic('keyonly'))
      .on('postgres_changes', { event: 'DELETE', schema, table: 'keyonly' }, bobSees.push)
      .on(
        'postgres_changes',
        { event: 'DELETE', schema, table: 'keyonly', filter: `user_id=eq.${alice.id}` },
        bobFiltered.push,
      );
    await subscribed(channel);
    const [row] = await asUser(
      sql,
      alice,
      (tx) => tx<{ id: string }[]>`insert into ${sql(schema)}.keyonly (body) values ('x') returning id`,
    );
    await asUser(sql, alice, (tx) => tx`delete from ${sql(schema)}.keyonly where id = ${row!.id}`);
    const deleted = await bobSees.waitFor(() => true, 5000, 'the DELETE');
    expect(deleted.old).toEqual({ id: row!.id });
    // The filter names a column the key-only image lacks, so it never matches (as on the platform).
    expect(bobFiltered.items).toEqual([]);
  });
});
