/**
 * Presence and client broadcast on a private topic, checked against the insert policy: Ada's devices
 * share typing state and which of them are online on her own topic (`self` and `ack` as on public
 * channels); the service role may send to it; on a topic the policies let one read but not send
 * to, a broadcast is dropped and a track refused.
 */
import type { RealtimeChannel } from '@supabase/supabase-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LocalUser } from '../../../../test-support/users.ts';
import {
  adminSql,
  Collector,
  newUser,
  realClient,
  removeUsers,
  subscribed,
  type TestClient,
} from '../../../../test-support/realtime.ts';
import { type Received, syncTopic } from '../../../../test-support/private-topic.ts';

const sql = adminSql();
let ada: LocalUser;
let phone: TestClient;
let laptop: TestClient;
let service: TestClient;

const privateChannel = (client: TestClient, topic: string, config: Record<string, unknown> = {}): RealtimeChannel =>
  client.supabase.channel(topic, { config: { private: true, ...config } });

beforeAll(async () => {
  ada = await newUser(sql, 'ada');
  [phone, laptop, service] = await Promise.all([realClient(ada.token), realClient(ada.token), realClient(null)]);
  service.token.value = process.env.SERVICE_ROLE_KEY ?? null;
  await service.refresh();
});
afterEach(async () => {
  await Promise.all([phone, laptop, service].map((client) => client.supabase.removeAllChannels()));
});
afterAll(async () => {
  await Promise.all([phone.close(), laptop.close(), service.close()]);
  await removeUsers(sql, [ada]);
  await sql.end();
});

describe('broadcast on a private topic', () => {
  it('Ada’s devices share typing state; the sender hears itself only with `self`, and `ack` answers', async () => {
    const toLaptop = new Collector<Received>();
    const toPhone = new Collector<Received>();
    const sender = privateChannel(phone, syncTopic(ada), { broadcast: { self: true, ack: true } }).on(
      'broadcast',
      { event: 'typing' },
      toPhone.push,
    );
    const receiver = privateChannel(laptop, syncTopic(ada)).on('broadcast', { event: 'typing' }, toLaptop.push);
    await Promise.all([subscribed(sender), subscribed(receiver)]);
    expect(await sender.send({ type: 'broadcast', event: 'typing', payload: { conversation: 'c-1' } })).toBe('ok');
    expect((await toLaptop.waitFor(() => true, 3000, 'the typing broadcast')).payload).toEqual({ conversation: 'c-1' });
    expect((await toPhone.waitFor(() => true, 3000, 'the echo to self')).payload).toEqual({ conversation: 'c-1' });
  });

  it('the service role, which bypasses RLS, may send to Ada’s topic', async () => {
    const toLaptop = new Collector<Received>();
    const receiver = privateChannel(laptop, syncTopic(ada)).on('broadcast', { event: 'notice' }, toLaptop.push);
    const fromService = privateChannel(service, syncTopic(ada), { broadcast: { ack: true } });
    await Promise.all([subscribed(receiver), subscribed(fromService)]);
    expect(await fromService.send({ type: 'broadcast', event: 'notice', payload: { n: 1 } })).toBe('ok');
    expect((await toLaptop.waitFor(() => true, 3000, 'the service role’s broadcast')).payload).toEqual({ n: 1 });
  });
});

describe('presence on a private topic', () => {
  it('Ada’s devices see which of them are online', async () => {
    const seen = new Collector<string[]>();
    const watcher = privateChannel(laptop, syncTopic(ada), { presence: { key: 'laptop' } });
    watcher.on('presence', { event: 'sync' }, () => seen.push(Object.keys(watcher.presenceState()).sort()));
    await subscribed(watcher);
    const tracker = privateChannel(phone, syncTopic(ada), { presence: { key: 'phone' } });
    await subscribed(tracker);
    expect(await tracker.track({ device: 'phone' })).toBe('ok');
    await seen.waitFor((keys) => keys.includes('phone'), 3000, 'the phone online');
    expect(await tracker.untrack()).toBe('ok');
    await seen.waitFor((keys) => !keys.includes('phone'), 3000, 'the phone gone');
  });
});

describe('a topic whose policies allow reading but not sending', () => {
  // A policy of this test's own: Ada may read `readonly-<id>` but no insert policy lets her send there.
  const topic = `readonly-${crypto.randomUUID()}`;
  beforeAll(async () => {
    await sql.unsafe(
      `create policy "test: ${topic} is read-only" on realtime.messages for select to authenticated using (realtime.topic() = '${topic}')`,
    );
  });
  afterAll(async () => {
    await sql.unsafe(`drop policy if exists "test: ${topic} is read-only" on realtime.messages`);
  });

  it('a broadcast is dropped without an answer (ack times out), as on the platform', async () => {
    const toLaptop = new Collector<Received>();
    const receiver = privateChannel(laptop, topic).on('broadcast', { event: '*' }, toLaptop.push);
    const sender = privateChannel(phone, topic, { broadcast: { ack: true } });
    await Promise.all([subscribed(receiver), subscribed(sender)]);
    expect(await sender.send({ type: 'broadcast', event: 'typing', payload: { n: 1 } }, { timeout: 1500 })).toBe(
      'timed out',
    );
    // A marker from the service role (which may send here) travels the same topic after it.
    const fromService = privateChannel(service, topic, { broadcast: { ack: true } });
    await subscribed(fromService);
    expect(await fromService.send({ type: 'broadcast', event: 'marker', payload: { n: 2 } })).toBe('ok');
    await toLaptop.waitFor((item) => item.event === 'marker', 3000, 'the service role’s marker');
    expect(toLaptop.items.map((item) => item.event)).toEqual(['marker']);
  });

  it('a presence track is answered with an error and nobody sees it', async () => {
    const seen = new Collector<string[]>();
    const watcher = privateChannel(laptop, topic, { presence: { key: 'laptop' } });
    watcher.on('presence', { event: 'sync' }, () => seen.push(Object.keys(watcher.presenceState())));
    const tracker = privateChannel(phone, topic, { presence: { key: 'phone' } });
    await Promise.all([subscribed(watcher), subscribed(tracker)]);
    expect(await tracker.track({ device: 'phone' })).toBe('error');
    // A marker: the service role (which may track here) comes online after the refused track.
    const marker = privateChannel(service, topic, { presence: { key: 'service' } });
    await subscribed(marker);
    expect(await marker.track({ device: 'service' })).toBe('ok');
    await seen.waitFor((keys) => keys.includes('service'), 3000, 'the service role online');
    expect(seen.items.flat().filter((key) => key !== 'service')).toEqual([]);
  });
});

describe('the HTTP broadcast endpoint on a private topic', () => {
  it('sends Ada’s message to her topic, and skips Ben’s (202 both, as on the platform)', async () => {
    const ben = await newUser(sql, 'ben');
    const benClient = await realClient(ben.token);
    try {
      const toLaptop = new Collector<Received>();
      const receiver = privateChannel(laptop, syncTopic(ada)).on('broadcast', { event: '*' }, toLaptop.push);
      await subscribed(receiver);
      // Channels not joined: httpSend goes straight to POST /api/broadcast/<topic>/events/<event>?private=true.
      expect(
        await benClient.supabase
          .channel(syncTopic(ada), { config: { private: true } })
          .httpSend('spoof', { from: 'ben' }),
      ).toEqual({ success: true });
      expect(
        await phone.supabase.channel(syncTopic(ada), { config: { private: true } }).httpSend('note', { from: 'ada' }),
      ).toEqual({ success: true });
      await toLaptop.waitFor((item) => item.event === 'note', 3000, 'Ada’s HTTP broadcast');
      expect(toLaptop.items.map((item) => item.payload)).toEqual([{ from: 'ada' }]);
    } finally {
      await benClient.close();
      await removeUsers(sql, [ben]);
    }
  });
});
