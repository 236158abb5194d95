/**
 * Many writers into one conversation, through every path that changes messages, at the same
 * moment: devices pushing new messages set-wise (chapter 12), devices pushing mixed batches item by
 * item (edits, deletes, a conversation deleted with its messages), and plain inserts, updates,
 * moves and deletes as the user, as the Data API sends them. Every sync answer must be a 200 with
 * per-item results, every plain write must succeed, and afterwards every count is exact, every
 * item applied once, every edited row one version up, and the other user untouched.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalUser } from '../../../../test-support/users.ts';
import { asRequest, userClaims } from '../../../../test-support/as-user.ts';
import type { SyncItem } from '../../../functions/_shared/sync-protocol.ts';
import { connectDb, footprint, functionsUrl, item, push, device, userPool } from './support.ts';

const sql = connectDb(12);
const users = userPool(sql);
const rounds = 2;
let ada: LocalUser;
let ben: LocalUser;
let shared = '';

beforeAll(async () => {
  ada = await users.create('ada');
  ben = await users.create('ben');
  await push(device(ben), [item.conversation('ben-c'), item.message('ben-m', 'ben-c', 'Ben writes alone')]);
  const results = await push(device(ada), [item.conversation('shared', { title: 'everyone at once' })]);
  shared = results[0]!.id!;
});
afterAll(async () => {
  await users.dropAll();
  await sql.end({ timeout: 5 });
});

async function pushRaw(items: SyncItem[]): Promise<{ status: number; statuses: string[] }> {
  const response = await fetch(`${functionsUrl}/sync`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ada.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ push: items }),
  });
  const body = (await response.json()) as { push?: { results: { status: string }[] } };
  return { status: response.status, statuses: body.push?.results.map((result) => result.status) ?? [] };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Rows each round's item-by-item writers edit and delete, created before the round starts. */
async function seedRound(round: number) {
  const seeded: SyncItem[] = [item.conversation(`doomed-${round}`)];
  for (const writer of [0, 1]) {
    for (const i of range(10))
      seeded.push(item.message(`r${round}-w${writer}-old-${i}`, 'shared', 'to edit or delete'));
    for (const i of range(3))
      seeded.push(item.message(`r${round}-doomed-${writer}-${i}`, `doomed-${round}`, 'goes with its conversation'));
  }
  const [side] = await asRequest(
    sql,
    userClaims(ada.id),
    (tx) => tx<{ id: string }[]>`insert into public.conversations (title) values ('side') returning id`,
  );
  await asRequest(
    sql,
    userClaims(ada.id),
    (tx) => tx`
    insert into public.messages (conversation_id, role, content, local_id)
    select ${side!.id}, 'user', 'plain ' || g, ${`r${round}-plain-old-`} || g from generate_series(1, 20) g`,
  );
  await asRequest(
    sql,
    userClaims(ada.id),
    (tx) => tx`
    insert into public.messages (conversation_id, role, content, local_id)
    select ${shared}, 'user', 'plain ' || g, ${`r${round}-plain-own-`} || g from generate_series(1, 20) g`,
  );
  expect((await push(device(ada), seeded)).every((result) => result.status === 'applied')).toBe(true);
  return side!.id;
}

describe('many writers into one conversation, every path at once', () => {
  it('answers every push, fails no plain write, and keeps every count and version exact', async () => {
    const benBefore = await footprint(sql, ben.id);
    for (const round of range(rounds)) {
      const side = await seedRound(round);
      const setWise = range(3).map((writer) =>
        range(50).map((i) => item.message(`r${round}-set-${writer}-${i}`, 'shared', `set-wise ${writer}/${i}`)),
      );
      const itemByItem = range(2).map((writer) => [
        item.conversation('shared', { title: `writer ${writer} was here` }),
        ...range(20).map((i) => item.message(`r${round}-item-${writer}-${i}`, 'shared', `item ${writer}/${i}`)),
        ...range(5).map((i) => item.message(`r${round}-w${writer}-old-${i}`, 'shared', `edited by ${writer}`)),
        ...range(5).map((i) => item.remove('messages', `r${round}-w${writer}-old-${5 + i}`)),
        ...(writer === 0 ? [item.remove('conversations', `doomed-${round}`)] : []),
      ]);
      const claims = userClaims(ada.id);
      const plain = [
        // Inserts of 50 messages, as `supabase.from('messages').insert([...])` sends them.
        () =>
          asRequest(
            sql,
            claims,
            (tx) => tx`
          insert into public.messages (conversation_id, role, content, local_id)
          select ${shared}, 'assistant', 'plain insert ' || g, ${`r${round}-plain-new-`} || g from generate_series(1, 50) g`,
          ),
        // Updates and deletes of the user's own messages in the shared conversation.
        () =>
          asRequest(
            sql,
            claims,
            (tx) => tx`
          update public.messages set content = 'plain edit' where user_id = ${ada.id} and local_id like ${`r${round}-plain-own-1_`}`,
          ),
        () =>
          asRequest(
            sql,
            claims,
            (tx) => tx`
          delete from public.messages where user_id = ${ada.id} and local_id in (${`r${round}-plain-own-2`}, ${`r${round}-plain-own-3`}, ${`r${round}-plain-own-4`})`,
          ),
        // Messages moved into the shared conversation, then their old conversation deleted (cascade).
        () =>
          asRequest(sql, claims, async (tx) => {
            await tx`update public.messages set conversation_id = ${shared} where conversation_id = ${side} and local_id like ${`r${round}-plain-old-1_`}`;
            await tx`delete from public.conversations where id = ${side}`;
          }),
      ];

      const answers = await Promise.all([
        ...setWise.map((items) => pushRaw(items)),
        ...itemByItem.map((items) => pushRaw(items)),
        ...plain.map((write) => write().then(() => ({ status: 200, statuses: [] as string[] }))),
      ]);
      expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
      for (const answer of answers.slice(0, 3)) expect(answer.statuses).toEqual(range(50).map(() => 'applied'));
      for (const answer of answers.slice(3, 5))
        expect(answer.statuses.filter((status) => status === 'applied').length).toBeGreaterThanOrEqual(30);
    }

    // Every count exact, for every conversation of Ada's.
    const counts = await sql<{ id: string; message_count: number; actual: number }[]>`
      select c.id, c.message_count, (select count(*)::int from public.messages m where m.conversation_id = c.id) as actual
      from public.conversations c where c.user_id = ${ada.id}`;
    for (const row of counts) expect(row.message_count, `conversation ${row.id}`).toBe(row.actual);
    // Each pushed message once; each edited message one version up; deletes gone.
    const [rows] = await sql<
      { setwise: number; items: number; edited: number; edited_v2: number; deleted: number; plain_edited: number }[]
    >`
      select
        (select count(*)::int from public.messages where user_id = ${ada.id} and local_id like 'r%-set-%') as setwise,
        (select count(*)::int from public.messages where user_id = ${ada.id} and local_id like 'r%-item-%') as items,
        (select count(*)::int from public.messages where user_id = ${ada.id} and content like 'edited by %') as edited,
        (select count(*)::int from public.messages where user_id = ${ada.id} and content like 'edited by %' and version = 2) as edited_v2,
        (select count(*)::int from public.messages where user_id = ${ada.id} and (local_id ~ '-old-[5-9]$' and local_id ~ '-w[01]-')) as deleted,
        (select count(*)::int from public.messages where user_id = ${ada.id} and content = 'plain edit' and version = 2) as plain_edited`;
    expect(rows).toEqual({
      setwise: rounds * 150,
      items: rounds * 40,
      edited: rounds * 10,
      edited_v2: rounds * 10,
      deleted: 0,
      plain_edited: rounds * 10,
    });
    const [doomed] = await sql<{ n: number }[]>`
      select count(*)::int as n from public.messages where user_id = ${ada.id} and local_id like 'r%-doomed-%'`;
    expect(doomed!.n).toBe(0);
    expect(await footprint(sql, ben.id)).toEqual(benBefore);
  }, 120_000);

  it('property: any mix of concurrent writers, started in any order fast-check picks, leaves every count exact', async () => {
    const benBefore = await footprint(sql, ben.id);
    const [second] = await push(device(ada), [item.conversation('shared-2', { title: 'the other one' })]);
    const conversations = { shared, 'shared-2': second!.id! };
    let run = 0;
    const writer = fc.record({
      path: fc.constantFrom('set-wise', 'set-wise', 'item-by-item', 'plain insert', 'plain delete', 'plain move'),
      into: fc.constantFrom<keyof typeof conversations>('shared', 'shared-2'),
      size: fc.integer({ min: 10, max: 60 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(writer, { minLength: 3, maxLength: 10 }),
        fc.scheduler(),
        async (writers, scheduler) => {
          run += 1;
          const claims = userClaims(ada.id);
          const tag = `p${run}`;
          const write = async ({ path, into, size }: (typeof writers)[number], w: number): Promise<number> => {
            const local = (i: number) => `${tag}-w${w}-${i}`;
            const conversationId = conversations[into];
            switch (path) {
              case 'set-wise':
                return (await pushRaw(range(size).map((i) => item.message(local(i), into, 'new')))).status;
              case 'item-by-item':
                return (
                  await pushRaw([
                    item.conversation(into, { title: `${tag} ${w}` }),
                    ...range(size).map((i) => item.message(local(i), into, 'new')),
                    item.remove('messages', local(0)),
                  ])
                ).status;
              case 'plain insert':
                await asRequest(
                  sql,
                  claims,
                  (tx) => tx`
                insert into public.messages (conversation_id, role, content, local_id)
                select ${conversationId}, 'user', 'plain', ${`${tag}-w${w}-`} || g from generate_series(1, ${size}) g`,
                );
                return 200;
              case 'plain delete':
                await asRequest(
                  sql,
                  claims,
                  (tx) => tx`
                delete from public.messages where id in (
                  select id from public.messages where user_id = ${ada.id} and conversation_id = ${conversationId}
                    and local_id like 'r%-plain-own-%' order by random() limit ${size} for update skip locked)`,
                );
                return 200;
              case 'plain move': {
                const other = into === 'shared' ? conversations['shared-2'] : shared;
                await asRequest(
                  sql,
                  claims,
                  (tx) => tx`
                update public.messages set conversation_id = ${conversationId} where id in (
                  select id from public.messages where user_id = ${ada.id} and conversation_id = ${other}
                    and local_id like '%-set-%' order by random() limit ${size} for update skip locked)`,
                );
                return 200;
              }
            }
          };
          const statuses = await Promise.all(
            writers
              .map(async (spec, w) => {
                await scheduler.schedule(Promise.resolve(), `writer ${w}: ${spec.path} ${spec.size} into ${spec.into}`);
                return write(spec, w);
              })
              .concat([scheduler.waitAll().then(() => 200)]),
          );
          expect(statuses).toEqual(statuses.map(() => 200));
          const counts = await sql<{ message_count: number; actual: number }[]>`
          select c.message_count, (select count(*)::int from public.messages m where m.conversation_id = c.id) as actual
          from public.conversations c where c.user_id = ${ada.id}`;
          for (const row of counts) expect(row.message_count).toBe(row.actual);
        },
      ),
      { numRuns: 12, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );
    expect(await footprint(sql, ben.id)).toEqual(benBefore);
  }, 120_000);
});
