/**
 * Broadcast from Database with the real client, as the design's device subscribes:
 * `supabase.channel('virgil-sync-' + uid, { config: { private: true } }).on('broadcast', { event: '*' }, …)`.
 * Every insert, update and delete of conversations, messages and memories reaches each of the owner's
 * devices, in commit order, in realtime.broadcast_changes' payload; nothing reaches anyone else.
 */
import type { RealtimeChannel } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalUser } from '../../../../test-support/users.ts';
import {
  adminSql,
  asUser,
  Collector,
  insertConversation,
  newUser,
  realClient,
  removeUsers,
  subscribed,
  type TestClient,
} from '../../../../test-support/realtime.ts';
import { type Received, syncTopic } from '../../../../test-support/private-topic.ts';

const sql = adminSql();
let ada: LocalUser;
let ben: LocalUser;
let adaPhone: TestClient;
let adaLaptop: TestClient;
let benPhone: TestClient;
const toAdaPhone = new Collector<Received>();
const toAdaLaptop = new Collector<Received>();
const toBen = new Collector<Received>();

const listen = async (client: TestClient, user: LocalUser, into: Collector<Received>): Promise<RealtimeChannel> => {
  const channel = client.supabase
    .channel(syncTopic(user), { config: { private: true } })
    .on('broadcast', { event: '*' }, into.push);
  await subscribed(channel);
  return channel;
};

const record = (item: Received) => (item.payload.record ?? item.payload.old_record) as Record<string, unknown>;

beforeAll(async () => {
  [ada, ben] = await Promise.all([newUser(sql, 'ada'), newUser(sql, 'ben')]);
  [adaPhone, adaLaptop, benPhone] = await Promise.all([
    realClient(ada.token),
    realClient(ada.token, { vsn: '1.0.0' }),
    realClient(ben.token),
  ]);
  await Promise.all([
    listen(adaPhone, ada, toAdaPhone),
    listen(adaLaptop, ada, toAdaLaptop),
    listen(benPhone, ben, toBen),
  ]);
});
afterAll(async () => {
  await Promise.all([adaPhone.close(), adaLaptop.close(), benPhone.close()]);
  await removeUsers(sql, [ada, ben]);
  await sql.end();
});

describe('row changes on the owner’s private topic', () => {
  it('every event type of every table reaches both of Ada’s devices, in commit order, with the platform’s payload', async () => {
    const conversation = await insertConversation(sql, ada, 'Lisbon');
    await asUser(sql, ada, async (tx) => {
      await tx`insert into public.messages (local_id, conversation_id, role, content) values ('m-1', ${conversation}, 'user', 'Hi')`;
      await tx`insert into public.memories (local_id, content) values ('mem-1', 'likes tea')`;
    });
    await asUser(sql, ada, (tx) => tx`update public.memories set content = 'likes green tea' where local_id = 'mem-1'`);
    await asUser(sql, ada, (tx) => tx`delete from public.messages where local_id = 'm-1'`);
    await asUser(sql, ada, (tx) => tx`delete from public.memories where local_id = 'mem-1'`);
    const last = (item: Received) => item.event === 'DELETE' && item.payload.table === 'memories';
    for (const device of [toAdaPhone, toAdaLaptop]) {
      await device.waitFor(last, 5000, 'the memory DELETE');
      expect(device.items.map((item) => `${item.event} ${item.payload.table}`)).toEqual([
        'INSERT conversations',
        'INSERT messages',
        'UPDATE conversations', // message_count, in the same transaction
        'INSERT memories',
        'UPDATE memories',
        'DELETE messages',
        'UPDATE conversations',
        'DELETE memories',
      ]);
    }
    const items = toAdaPhone.items;
    const insert = items.find((item) => item.event === 'INSERT' && item.payload.table === 'conversations')!;
    expect(Object.keys(insert.payload).sort()).toEqual(['id', 'old_record', 'operation', 'record', 'schema', 'table']);
    expect(insert.payload).toMatchObject({
      operation: 'INSERT',
      schema: 'public',
      table: 'conversations',
      old_record: null,
    });
    expect(record(insert)).toMatchObject({ id: conversation, title: 'Lisbon', user_id: ada.id, version: 1 });
    expect(insert.meta?.id).toBe(insert.payload.id);
    const update = items.find((item) => item.event === 'UPDATE' && item.payload.table === 'memories')!;
    expect([
      (update.payload.old_record as { content: string }).content,
      (update.payload.record as { content: string }).content,
    ]).toEqual(['likes tea', 'likes green tea']);
    const deleted = items.find((item) => item.event === 'DELETE' && item.payload.table === 'messages')!;
    expect(deleted.payload.record).toBeNull();
    expect(deleted.payload.old_record).toMatchObject({ local_id: 'm-1', content: 'Hi', user_id: ada.id });
    // 1.0.0 (JSON) and 2.0.0 (binary) devices receive the same payloads.
    expect(toAdaLaptop.items.map((item) => item.payload)).toEqual(items.map((item) => item.payload));
  });

  it('Ada’s DELETE reaches only Ada: Ben hears nothing of her rows', async () => {
    const before = toBen.items.length;
    await insertConversation(sql, ada, 'Secret');
    await asUser(sql, ada, (tx) => tx`delete from public.conversations where title = 'Secret'`);
    await toAdaPhone.waitFor(
      (item) => item.event === 'DELETE' && (item.payload.old_record as { title?: string }).title === 'Secret',
      5000,
      'Ada’s DELETE',
    );
    // Ben's own marker arrives after everything committed before it.
    const marker = await insertConversation(sql, ben, 'marker');
    await toBen.waitFor((item) => record(item).id === marker, 5000, 'Ben’s marker');
    const leaked = toBen.items.slice(before).filter((item) => record(item).user_id !== ben.id);
    expect(leaked).toEqual([]);
  });

  it('a row written by the service role for Ada goes to Ada', async () => {
    await sql`insert into public.memories (user_id, local_id, content) values (${ada.id}, 'server-side', 'from the server')`;
    const got = await toAdaPhone.waitFor(
      (item) => record(item).local_id === 'server-side',
      5000,
      'the service role’s memory',
    );
    expect(got.event).toBe('INSERT');
  });
});
