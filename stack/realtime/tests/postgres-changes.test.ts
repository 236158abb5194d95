/**
 * Postgres Changes through the real supabase-js client: every event type, the payload's shape, and
 * every filter operator the platform accepts. Each test uses its own topic and users.
 */
import type { RealtimePostgresChangesPayload } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalUser } from '../../../test-support/users.ts';
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
} from '../../../test-support/realtime.ts';

type Change = RealtimePostgresChangesPayload<Record<string, unknown>>;

const sql = adminSql();
let alice: LocalUser;
let client: TestClient;

beforeAll(async () => {
  alice = await newUser(sql, 'alice');
  client = await realClient(alice.token);
});

afterAll(async () => {
  await client.close();
  await removeUsers(sql, [alice]);
  await sql.end();
});

describe('postgres_changes events', () => {
  it('delivers INSERT, UPDATE and DELETE of the subscriber’s own rows on a `*` binding, typed', async () => {
    const changes = new Collector<Change>();
    const channel = client.supabase
      .channel(randomTopic())
      .on(
        'postgres_changes',
        { event: '*', schema: 'public', table: 'messages', filter: `user_id=eq.${alice.id}` },
        changes.push,
      );
    await subscribed(channel);

    const id = await asUser(sql, alice, async (tx) => {
      const [conversation] = await tx<
        { id: string }[]
      >`insert into public.conversations (title) values ('typed') returning id`;
      const [message] = await tx<{ id: string }[]>`
        insert into public.messages (conversation_id, role, content, metadata)
        values (${conversation!.id}, 'user', 'hello', '{"mood": "curious", "n": 2}') returning id`;
      return message!.id;
    });
    // INSERT and UPDATE are RLS-checked against the table's current contents (as on the platform), so
    // each is awaited before the next write can remove the row.
    const inserted = await changes.waitFor((c) => c.eventType === 'INSERT', 5000, 'INSERT');
    await asUser(sql, alice, (tx) => tx`update public.messages set content = 'hello again' where id = ${id}`);
    const updated = await changes.waitFor((c) => c.eventType === 'UPDATE', 5000, 'UPDATE');
    await asUser(sql, alice, (tx) => tx`delete from public.messages where id = ${id}`);
    const deleted = await changes.waitFor((c) => c.eventType === 'DELETE', 5000, 'DELETE');

    expect(inserted).toMatchObject({ schema: 'public', table: 'messages', errors: null });
    expect(inserted.new).toMatchObject({
      id,
      user_id: alice.id,
      content: 'hello',
      metadata: { mood: 'curious', n: 2 },
      version: 1,
    });
    expect(inserted.commit_timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(updated.new).toMatchObject({ id, content: 'hello again', version: 2 });
    // REPLICA IDENTITY FULL: the whole old row.
    expect(updated.old).toMatchObject({ id, content: 'hello', version: 1 });
    // DELETE on an RLS table: the old record is cut to the primary key, as on the platform.
    expect(deleted.old).toEqual({ id });
    expect(changes.items.map((c) => c.eventType)).toEqual(['INSERT', 'UPDATE', 'DELETE']);
  });

  it('fires an event-specific binding only for its event', async () => {
    const inserts = new Collector<Change>();
    const updates = new Collector<Change>();
    const deletes = new Collector<Change>();
    const filter = `user_id=eq.${alice.id}`;
    const channel = client.supabase
      .channel(randomTopic())
      .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'memories', filter }, inserts.push)
      .on('postgres_changes', { event: 'UPDATE', schema: 'public', table: 'memories', filter }, updates.push)
      .on('postgres_changes', { event: 'DELETE', schema: 'public', table: 'memories', filter }, deletes.push);
    await subscribed(channel);

    const [row] = await asUser(
      sql,
      alice,
      (tx) => tx<{ id: string }[]>`insert into public.memories (content) values ('likes tea') returning id`,
    );
    await inserts.waitFor(() => true, 5000, 'INSERT');
    await asUser(sql, alice, (tx) => tx`update public.memories set content = 'likes green tea' where id = ${row!.id}`);
    await updates.waitFor(() => true, 5000, 'UPDATE');
    await asUser(sql, alice, (tx) => tx`delete from public.memories where id = ${row!.id}`);

    // The DELETE is the last change; commit order means the others have arrived when it has.
    await deletes.waitFor((c) => c.eventType === 'DELETE', 5000, 'DELETE');
    expect(inserts.items.map((c) => c.eventType)).toEqual(['INSERT']);
    expect(updates.items.map((c) => c.eventType)).toEqual(['UPDATE']);
    expect(deletes.items.map((c) => c.eventType)).toEqual(['DELETE']);
  });

  it('matches schema `*` and table-less bindings to every published table', async () => {
    const everything = new Collector<Change>();
    const channel = client.supabase
      .channel(randomTopic())
      .on('postgres_changes', { event: 'INSERT', schema: '*' }, everything.push);
    await subscribed(channel);
    await asUser(sql, alice, async (tx) => {
      await tx`insert into public.conversations (title) values ('wild')`;
      await tx`insert into public.memories (content) values ('wild')`;
    });
    await everything.waitFor((c) => c.table === 'memories', 5000, 'memories INSERT');
    expect(everything.items.map((c) => c.table)).toEqual(['conversations', 'memories']);
  });

  it('reports a malformed filter and a table outside the publication as `system` errors, not join errors', async () => {
    const system = new Collector<{ status: string; message: string }>();
    const bad = client.supabase
      .channel(randomTopic())
      .on(
        'postgres_changes',
        { event: '*', schema: 'public', table: 'memories', filter: 'tag=foo.bar' },
        () => undefined,
      )
      .on('system', {}, system.push);
    await subscribed(bad);
    const error = await system.waitFor((m) => m.status === 'error', 5000, 'system error');
    expect(error.message).toMatch(/^Error parsing `filter` params/);

    const unpublished = new Collector<{ status: string; message: string }>();
    const outside = client.supabase
      .channel(randomTopic())
      .on('postgres_changes', { event: '*', schema: 'auth', table: 'users' }, () => undefined)
      .on('system', {}, unpublished.push);
    await subscribed(outside);
    const refused = await unpublished.waitFor((m) => m.status === 'error', 5000, 'system error');
    expect(refused.message).toMatch(/^Unable to subscribe to changes with given parameters/);
  });
});

describe('filter operators', () => {
  // Three memories; each filter names the contents it must (and only it must) deliver.
  const rows = [
    { content: 'alpha', tag: 'red', importance_score: 0.2 },
    { content: 'beta', tag: 'blue', importance_score: 0.5 },
    { content: 'Gamma', tag: null, importance_score: 0.9 },
  ];
  const cases: [string, string[]][] = [
    ['tag=eq.red', ['alpha']],
    ['tag=neq.red', ['beta']],
    ['importance_score=lt.0.5', ['alpha']],
    ['importance_score=lte.0.5', ['alpha', 'beta']],
    ['importance_score=gt.0.5', ['Gamma']],
    ['importance_score=gte.0.5', ['beta', 'Gamma']],
    ['tag=in.(red,blue)', ['alpha', 'beta']],
    ['content=like.%mm%', ['Gamma']],
    ['content=ilike.g%', ['Gamma']],
    ['content=match.^[ab]', ['alpha', 'beta']],
    ['content=imatch.^g', ['Gamma']],
    ['tag=is.null', ['Gamma']],
    ['tag=isdistinct.red', ['beta', 'Gamma']],
    ['tag=not.eq.red', ['beta']],
    ['tag=not.is.null', ['alpha', 'beta']],
    ['content=eq."alpha",importance_score=lt.1', ['alpha']],
  ];

  it.each([['2.0.0'], ['1.0.0']] as const)(
    'each operator delivers exactly the rows it matches (vsn %s)',
    async (vsn) => {
      const local = vsn === '2.0.0' ? client : await realClient(alice.token, { vsn });
      const seen = cases.map(() => new Collector<Change>());
      const marker = new Collector<Change>();
      const batch = randomTopic('batch');
      let channel = local.supabase.channel(randomTopic());
      cases.forEach(([filter], i) => {
        channel = channel.on(
          'postgres_changes',
          { event: 'INSERT', schema: 'public', table: 'memories', filter: `${filter},context=eq.${batch}` },
          seen[i]!.push,
        );
      });
      channel = channel.on(
        'postgres_changes',
        { event: 'INSERT', schema: 'public', table: 'memories', filter: `tag=eq.${batch}` },
        marker.push,
      );
      await subscribed(channel);

      await asUser(sql, alice, async (tx) => {
        for (const row of rows) {
          await tx`insert into public.memories (content, tag, importance_score, context) values (${row.content}, ${row.tag}, ${row.importance_score}, ${batch})`;
        }
      });
      await asUser(sql, alice, (tx) => tx`insert into public.memories (content, tag) values ('marker', ${batch})`);
      await marker.waitFor(() => true, 5000, 'the marker');

      const delivered = Object.fromEntries(
        cases.map(([filter], i) => [filter, seen[i]!.items.map((c) => (c.new as Record<string, unknown>).content)]),
      );
      expect(delivered).toEqual(Object.fromEntries(cases));
      if (local !== client) await local.close();
    },
  );
});
