/**
 * message_count stays exact with many writers at once: parallel connections, each acting as a
 * signed-in user, insert, delete and move messages across the same conversations at the same time.
 * Afterwards every conversation's count must equal its real number of messages.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asRequest, userClaims } from '../../../../test-support/as-user.ts';
import { createLocalUser, deleteLocalUsers, type LocalUser } from '../../../../test-support/users.ts';

const dbUrl = process.env.DB_URL ?? 'postgresql://postgres:postgres@127.0.0.1:54322/postgres';
const workers = 12;
const operationsPerWorker = 60;

describe('conversations.message_count under concurrent writers', () => {
  const sql = postgres(dbUrl, { max: workers + 2, onnotice: () => {} });
  let ada: LocalUser;
  let ben: LocalUser;
  const adaConversations: string[] = [];
  let benConversation = '';

  beforeAll(async () => {
    ada = await createLocalUser(sql, `ada-${crypto.randomUUID()}@tests.virgil.test`);
    ben = await createLocalUser(sql, `ben-${crypto.randomUUID()}@tests.virgil.test`);
    await asRequest(sql, userClaims(ada.id), async (tx) => {
      for (let i = 0; i < 3; i += 1) {
        const [row] = await tx<
          { id: string }[]
        >`insert into public.conversations (title) values (${`topic ${i}`}) returning id`;
        adaConversations.push(row!.id);
      }
    });
    await asRequest(sql, userClaims(ben.id), async (tx) => {
      const [row] = await tx<
        { id: string }[]
      >`insert into public.conversations (title) values ('Ben''s only') returning id`;
      benConversation = row!.id;
    });
  });

  afterAll(async () => {
    await deleteLocalUsers(sql, [ada.id, ben.id]);
    await sql.end({ timeout: 5 });
  });

  /** One worker's random mix of writes, each in its own request transaction. */
  async function work(seed: number): Promise<void> {
    let state = seed;
    const random = (n: number) => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state % n;
    };
    for (let i = 0; i < operationsPerWorker; i += 1) {
      const conversation = adaConversations[random(adaConversations.length)]!;
      const other = adaConversations[random(adaConversations.length)]!;
      switch (random(5)) {
        case 0:
        case 1: // insert one to three messages in one statement
          await asRequest(
            sql,
            userClaims(ada.id),
            (tx) => tx`
            insert into public.messages (conversation_id, role, content)
            select ${conversation}, 'user', 'm' || g from generate_series(1, ${1 + random(3)}) g`,
          );
          break;
        case 2: // delete one message, if the conversation has any
          await asRequest(
            sql,
            userClaims(ada.id),
            (tx) => tx`
            delete from public.messages where id = (
              select id from public.messages where conversation_id = ${conversation} limit 1 for update skip locked)`,
          );
          break;
        case 3: // move one message to another conversation
          await asRequest(
            sql,
            userClaims(ada.id),
            (tx) => tx`
            update public.messages set conversation_id = ${other} where id = (
              select id from public.messages where conversation_id = ${conversation} limit 1 for update skip locked)`,
          );
          break;
        default: // Ben writes into his own conversation at the same time
          await asRequest(
            sql,
            userClaims(ben.id),
            (tx) => tx`
            insert into public.messages (conversation_id, role, content) values (${benConversation}, 'user', 'hi')`,
          );
      }
    }
  }

  it('keeps every count equal to the real number of messages', async () => {
    await Promise.all(Array.from({ length: workers }, (_, i) => work(i + 1)));

    const rows = await sql<{ id: string; message_count: number; actual: number }[]>`
      select c.id, c.message_count, (select count(*)::int from public.messages m where m.conversation_id = c.id) as actual
      from public.conversations c where c.user_id in (${ada.id}, ${ben.id})`;
    expect(rows).toHaveLength(4);
    for (const row of rows) expect(row.message_count, `conversation ${row.id}`).toBe(row.actual);
    const total = rows.reduce((sum, row) => sum + row.actual, 0);
    expect(total).toBeGreaterThan(0);
  });
});
