/**
 * SupabaseMemoryService against the running local stack, with the real supabase-js: what an app
 * sees on two devices of one user and on a device of another user. Ada has a phone and a laptop;
 * Ben has a phone.
 */
import { IDBFactory } from 'fake-indexeddb';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalUser } from '../test-support/users.ts';
import { adminSql, newUser, removeUsers } from '../test-support/realtime.ts';
import { IndexedDbStorage } from './indexeddb-storage.ts';
import type { Rollback } from './store.ts';
import { SupabaseMemoryService } from './SupabaseMemoryService.ts';
import { eventually, openDevice, reaches, type TestDevice } from './test-support.ts';
import type { RemoteChange } from './types.ts';

let sql: postgres.Sql;
let ada: LocalUser;
let ben: LocalUser;
const devices: TestDevice[] = [];

async function service(user: LocalUser, options: Parameters<typeof openDevice>[1] = {}) {
  const device = await openDevice(user, options);
  devices.push(device);
  await device.client.start();
  return { device, service: new SupabaseMemoryService(device.client) };
}

beforeAll(async () => {
  sql = adminSql();
  ada = await newUser(sql, 'ada');
  ben = await newUser(sql, 'ben');
});

afterAll(async () => {
  await Promise.all(devices.map((device) => device.close()));
  await removeUsers(sql, [ada, ben]);
  await sql.end();
});

describe('SupabaseMemoryService', () => {
  it("Ada's message, marked important on her phone, reaches her laptop as a message and a memory", async () => {
    const phone = await service(ada);
    const laptop = await service(ada);
    await Promise.all([reaches(phone.device.client, 'connected'), reaches(laptop.device.client, 'connected')]);

    const trip = phone.service.createConversation({ title: 'Lisbon trip' });
    const message = phone.service.saveMessage(trip.local_id!, {
      role: 'user',
      content: 'Remember: my flight to Lisbon leaves on 3 May at 7am',
    });
    const memory = phone.service.markImportant(message.local_id!, { tag: 'plan' });
    expect(phone.service.listMessages(trip.local_id!).map((m) => m.content)).toEqual([message.content]);
    expect(memory.pending).toBe(true);
    await phone.service.whenSynced();

    await eventually(
      () => laptop.service.getMemory(memory.local_id!)?.content === message.content,
      'the memory on the laptop',
    );
    await eventually(
      () => laptop.service.getConversation(trip.local_id!)?.message_count === 1,
      "the laptop's conversation counting one message",
    );
    expect(laptop.service.listMessages(trip.local_id!).map((m) => m.content)).toEqual([message.content]);
    const onLaptop = laptop.service.getMemory(memory.local_id!)!;
    expect(onLaptop).toMatchObject({ tag: 'plan', pending: false, version: 1, user_id: ada.id });
    // The server scored it (importance from the content's signals), and the phone has the same row.
    expect(onLaptop.importance_score).toBeGreaterThan(0.5);
    expect(phone.service.getMemory(memory.local_id!)).toEqual(onLaptop);
  });

  it("Ben's device never holds or hears of Ada's rows, and Ada's never of Ben's", async () => {
    const adaPhone = await service(ada);
    const benPhone = await service(ben);
    const heardByBen: RemoteChange[] = [];
    benPhone.device.client.events.on('change', (change) => heardByBen.push(change));
    await Promise.all([reaches(adaPhone.device.client, 'connected'), reaches(benPhone.device.client, 'connected')]);

    const secret = adaPhone.service.saveMemory({ content: 'Ada: my bank PIN hint is the cat', tag: 'fact' });
    const adaChat = adaPhone.service.createConversation({ title: "Ada's private chat" });
    adaPhone.service.saveMessage(adaChat.local_id!, { role: 'user', content: 'only for Ada' });
    await adaPhone.service.whenSynced();
    adaPhone.service.deleteMemory(secret.local_id!);
    await adaPhone.service.whenSynced();
    // Ben's own write, after Ada's: once his phone has it, everything before it was delivered.
    const marker = benPhone.service.saveMemory({ content: "Ben's marker" });
    await benPhone.service.whenSynced();
    await eventually(
      () => heardByBen.some((change) => change.row?.local_id === marker.local_id && change.source === 'realtime'),
      "Ben's own marker over realtime",
    );

    for (const table of ['conversations', 'messages', 'memories'] as const) {
      expect(
        benPhone.device.client.store.list(table).every((row) => row.user_id === ben.id),
        `Ben's ${table}`,
      ).toBe(true);
      expect(
        adaPhone.device.client.store.list(table).every((row) => row.user_id === ada.id),
        `Ada's ${table}`,
      ).toBe(true);
    }
    expect(heardByBen.filter((change) => change.row && change.row.user_id !== ben.id)).toEqual([]);
    expect(benPhone.service.getMemory(secret.local_id!)).toBeNull();
    expect(benPhone.service.listMemories().map((m) => m.content)).toEqual(["Ben's marker"]);
  });

  it("edits made offline survive a restart of the app from the IndexedDB outbox, and reach Ada's laptop", async () => {
    const indexedDB = new IDBFactory();
    const storageName = `virgil-sync-${ada.id}`;
    const phone = await service(ada, { storage: new IndexedDbStorage(storageName, indexedDB), online: false });
    const laptop = await service(ada);
    await reaches(laptop.device.client, 'connected');

    const note = phone.service.saveMemory({ content: 'written in the tunnel', tag: 'fact' });
    phone.service.updateMemory(note.local_id!, { content: 'written in the tunnel, then edited' });
    const chat = phone.service.createConversation({ title: 'offline chat' });
    phone.service.saveMessage(chat.local_id!, { role: 'user', content: 'sent with no signal' });
    await phone.device.close(); // the app is killed before it ever went online

    const [row] = await sql<
      { count: number }[]
    >`select count(*)::int as count from public.memories where local_id = ${note.local_id!}`;
    expect(row!.count).toBe(0);

    const restarted = await service(ada, { storage: new IndexedDbStorage(storageName, indexedDB) });
    expect(restarted.service.getMemory(note.local_id!)).toMatchObject({
      content: 'written in the tunnel, then edited',
      pending: true,
    });
    await restarted.service.whenSynced();
    await eventually(
      () => laptop.service.getMemory(note.local_id!)?.content === 'written in the tunnel, then edited',
      'the offline memory on the laptop',
    );
    await eventually(
      () => laptop.service.listMessages(chat.local_id!).length === 1,
      'the offline message on the laptop',
    );
    const [stored] = await sql<{ count: number; version: number }[]>`
      select count(*)::int as count, max(version)::int as version from public.memories where local_id = ${note.local_id!}`;
    expect(stored).toEqual({ count: 1, version: 1 });
  });

  it('a conflicting edit is rolled back to the server row, and the app is told', async () => {
    const phone = await service(ada);
    const laptop = await service(ada);
    await Promise.all([reaches(phone.device.client, 'connected'), reaches(laptop.device.client, 'connected')]);
    const rollbacks: Rollback[] = [];
    phone.service.onRollback((rollback) => rollbacks.push(rollback));

    const shared = phone.service.saveMemory({ content: 'allergic to peanuts', tag: 'health' });
    await phone.service.whenSynced();
    await eventually(() => laptop.service.getMemory(shared.local_id!)?.version === 1, 'version 1 on the laptop');
    await phone.device.client.setOnline(false);
    laptop.service.updateMemory(shared.local_id!, { content: 'allergic to peanuts and shellfish' });
    await laptop.service.whenSynced();

    // The phone, offline, edits what it last saw (version 1), only if nobody changed it since.
    const optimistic = phone.service.updateMemory(
      shared.local_id!,
      { content: 'not allergic after all' },
      { mode: 'cas' },
    );
    expect(optimistic.content).toBe('not allergic after all');
    await phone.device.client.setOnline(true);
    await phone.service.whenSynced();

    expect(rollbacks).toEqual([
      expect.objectContaining({ status: 'conflict', table: 'memories', local_id: shared.local_id }),
    ]);
    expect(phone.service.getMemory(shared.local_id!)).toMatchObject({
      content: 'allergic to peanuts and shellfish',
      version: 2,
      pending: false,
    });
    const [row] = await sql<
      { content: string }[]
    >`select content from public.memories where local_id = ${shared.local_id!}`;
    expect(row!.content).toBe('allergic to peanuts and shellfish');
  });

  it('a reply lost after the server applied the batch: the retry sends the same change_ids and nothing is written twice', async () => {
    let loseReplies = 0;
    const sent: string[][] = [];
    const lossyFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (
        String(input instanceof Request ? input.url : input).includes('/functions/v1/sync') &&
        typeof init?.body === 'string'
      ) {
        const body = JSON.parse(init.body) as { push?: { change_id: string }[] };
        if (body.push) sent.push(body.push.map((item) => item.change_id));
        if (loseReplies > 0) {
          loseReplies--;
          await response.arrayBuffer();
          throw new TypeError('fetch failed (reply lost on the way back)');
        }
      }
      return response;
    };
    const phone = await service(ada, { fetch: lossyFetch });
    await reaches(phone.device.client, 'connected');
    await phone.service.whenSynced();
    sent.length = 0;

    loseReplies = 1;
    const chat = phone.service.createConversation({ title: 'on a bad line' });
    const said = phone.service.saveMessage(chat.local_id!, { role: 'user', content: 'said once' });
    await phone.service.whenSynced();

    expect(sent.length).toBe(2);
    expect(sent[1]).toEqual(sent[0]);
    // Version 2: created, then its first message counted. Written twice, it would count 2 at version 3.
    expect(phone.service.getConversation(chat.local_id!)).toMatchObject({
      version: 2,
      message_count: 1,
      pending: false,
    });
    const [row] = await sql<{ messages: number; version: number; receipts: number }[]>`
      select (select count(*)::int from public.messages where user_id = ${ada.id} and content = 'said once') as messages,
             (select version::int from public.conversations where local_id = ${chat.local_id!}) as version,
             (select count(*)::int from sync.receipts where change_id = any(${sent[0]!}::uuid[])) as receipts`;
    expect(row).toEqual({ messages: 1, version: 2, receipts: 2 });
    expect(phone.service.getMessage(said.local_id!)).toMatchObject({ content: 'said once', version: 1 });
  });

  it('a rejected item is rolled back with its reason, and the rest of the batch is kept', async () => {
    const phone = await service(ada);
    await reaches(phone.device.client, 'connected');
    const rollbacks: Rollback[] = [];
    phone.service.onRollback((rollback) => rollbacks.push(rollback));

    const stray = phone.service.saveMessage(`no-such-conversation-${crypto.randomUUID()}`, {
      role: 'user',
      content: 'into the void',
    });
    const kept = phone.service.saveMemory({ content: 'kept despite the stray message' });
    expect(phone.service.getMessage(stray.local_id!)).toMatchObject({ content: 'into the void', pending: true });
    await phone.service.whenSynced();

    expect(rollbacks).toEqual([
      expect.objectContaining({
        status: 'rejected',
        table: 'messages',
        local_id: stray.local_id,
        reason: 'reference_not_found',
        row: null,
      }),
    ]);
    expect(phone.service.getMessage(stray.local_id!)).toBeNull();
    expect(phone.service.getMemory(kept.local_id!)).toMatchObject({ pending: false, version: 1 });
  });
});
