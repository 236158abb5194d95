/**
 * Broadcast and Presence as supabase-js uses them: binary kind-3 sends from the default vsn,
 * `self` and `ack`, a 1.0.0 client receiving from a 2.0.0 sender, the HTTP endpoints, and presence
 * track/untrack/state/diffs, including the leave a closed socket causes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalUser } from '../../../test-support/users.ts';
import {
  adminSql,
  Collector,
  newUser,
  randomTopic,
  realClient,
  removeUsers,
  subscribed,
  type TestClient,
} from '../../../test-support/realtime.ts';

interface Message {
  event: string;
  payload: Record<string, unknown>;
}

const sql = adminSql();
let alice: LocalUser;
let a: TestClient;
let b: TestClient;

beforeAll(async () => {
  alice = await newUser(sql, 'alice');
  [a, b] = await Promise.all([realClient(alice.token), realClient(alice.token)]);
});
afterAll(async () => {
  await Promise.all([a.close(), b.close()]);
  await removeUsers(sql, [alice]);
  await sql.end();
});

describe('broadcast', () => {
  it('relays to the other subscribers but not to the sender unless `self`', async () => {
    const topic = randomTopic('bc');
    const toB = new Collector<Message>();
    const toA = new Collector<Message>();
    const receiver = b.supabase.channel(topic).on('broadcast', { event: 'typing' }, toB.push);
    const sender = a.supabase.channel(topic).on('broadcast', { event: 'typing' }, toA.push);
    await Promise.all([subscribed(receiver), subscribed(sender)]);
    expect(await sender.send({ type: 'broadcast', event: 'typing', payload: { who: 'a', text: 'héllo' } })).toBe('ok');
    expect((await toB.waitFor(() => true, 3000, 'the broadcast')).payload).toEqual({ who: 'a', text: 'héllo' });
    // A second message from B to A proves A's socket works, so A's empty list means "not to self".
    await receiver.send({ type: 'broadcast', event: 'typing', payload: { who: 'b' } });
    await toA.waitFor((m) => m.payload.who === 'b', 3000, 'B’s broadcast');
    expect(toA.items.map((m) => m.payload.who)).toEqual(['b']);
  });

  it('echoes to the sender with `self` and acknowledges with `ack`', async () => {
    const topic = randomTopic('self');
    const mine = new Collector<Message>();
    const channel = a.supabase
      .channel(topic, { config: { broadcast: { self: true, ack: true } } })
      .on('broadcast', { event: '*' }, mine.push);
    await subscribed(channel);
    expect(await channel.send({ type: 'broadcast', event: 'ping', payload: { n: 1 } })).toBe('ok');
    expect((await mine.waitFor(() => true, 3000, 'my own broadcast')).payload).toEqual({ n: 1 });
  });

  it('delivers from a 2.0.0 (binary) sender to a 1.0.0 (JSON) receiver', async () => {
    const old = await realClient(alice.token, { vsn: '1.0.0' });
    const topic = randomTopic('vsn');
    const got = new Collector<Message>();
    const receiver = old.supabase.channel(topic).on('broadcast', { event: 'cursor' }, got.push);
    const sender = a.supabase.channel(topic);
    await Promise.all([subscribed(receiver), subscribed(sender)]);
    await sender.send({ type: 'broadcast', event: 'cursor', payload: { x: 9 } });
    expect((await got.waitFor(() => true, 3000, 'the cursor')).payload).toEqual({ x: 9 });
    await old.close();
  });

  it('accepts httpSend (202) and the REST batch fallback, and relays both', async () => {
    const topic = randomTopic('http');
    const got = new Collector<Message>();
    const receiver = b.supabase.channel(topic).on('broadcast', { event: '*' }, got.push);
    await subscribed(receiver);
    const unjoined = a.supabase.channel(topic);
    await unjoined.httpSend('from-http', { via: 'httpSend' });
    expect((await got.waitFor((m) => m.event === 'from-http', 3000, 'the httpSend message')).payload).toEqual({
      via: 'httpSend',
    });
    // send() on a channel that never joined falls back to the batch endpoint.
    expect(await unjoined.send({ type: 'broadcast', event: 'from-rest', payload: { via: 'rest' } })).toBe('ok');
    expect((await got.waitFor((m) => m.event === 'from-rest', 3000, 'the REST message')).payload).toEqual({
      via: 'rest',
    });
    await a.supabase.removeChannel(unjoined);
  });
});

describe('presence', () => {
  it('tracks, syncs state to later joiners, diffs to everyone including the tracker, and untracks', async () => {
    const topic = randomTopic('online');
    const joinsSeenByA = new Collector<string>();
    const joinsSeenByB = new Collector<string>();
    const leavesSeenByB = new Collector<string>();
    const chA = a.supabase
      .channel(topic, { config: { presence: { key: 'device-a' } } })
      .on('presence', { event: 'join' }, ({ key }) => joinsSeenByA.push(key));
    await subscribed(chA);
    expect(await chA.track({ online_at: 'now', device: 'a' })).toBe('ok');
    await joinsSeenByA.waitFor((key) => key === 'device-a', 3000, 'A’s own join');

    const chB = b.supabase
      .channel(topic, { config: { presence: { key: 'device-b' } } })
      .on('presence', { event: 'join' }, ({ key }) => joinsSeenByB.push(key))
      .on('presence', { event: 'leave' }, ({ key }) => leavesSeenByB.push(key));
    await subscribed(chB);
    // B learns about A from presence_state, sent right after its join.
    await joinsSeenByB.waitFor((key) => key === 'device-a', 3000, 'A in B’s state');
    expect(chB.presenceState()['device-a']).toMatchObject([{ device: 'a', online_at: 'now' }]);

    await chB.track({ device: 'b' });
    await joinsSeenByA.waitFor((key) => key === 'device-b', 3000, 'B’s join seen by A');

    expect(await chA.untrack()).toBe('ok');
    await leavesSeenByB.waitFor((key) => key === 'device-a', 3000, 'A’s leave');
    expect(chB.presenceState()['device-a']).toBeUndefined();
    expect(Object.keys(chB.presenceState())).toEqual(['device-b']);
  });

  it('sends a leave when a tracked socket goes away', async () => {
    const topic = randomTopic('gone');
    const leaves = new Collector<string>();
    const joins = new Collector<string>();
    const watcher = b.supabase
      .channel(topic)
      .on('presence', { event: 'join' }, ({ key }) => joins.push(key))
      .on('presence', { event: 'leave' }, ({ key }) => leaves.push(key));
    await subscribed(watcher);
    const transient = await realClient(alice.token);
    const tracked = transient.supabase.channel(topic, { config: { presence: { key: 'phone' } } });
    await subscribed(tracked);
    await tracked.track({ device: 'phone' });
    await joins.waitFor((key) => key === 'phone', 3000, 'the phone’s join');
    transient.supabase.realtime.disconnect();
    await leaves.waitFor((key) => key === 'phone', 3000, 'the phone’s leave');
  });
});
