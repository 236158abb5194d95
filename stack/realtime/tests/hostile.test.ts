/**
 * What a hostile client sends, on the wire against the running server: malformed frames, made-up
 * keys, floods past the quotas (limits.ts, with their defaults), oversized payloads, presence
 * keys that reach Object.prototype, and bad input to the HTTP broadcast endpoints. Each ends at
 * most the sender's own channel or socket, with the platform's answer, and never reaches anyone else.
 */
import type { RealtimePostgresChangesPayload } from '@supabase/supabase-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { syncTopic } from '../../../test-support/private-topic.ts';
import { kind3, RawSocket } from '../../../test-support/raw-socket.ts';
import {
  adminSql,
  Collector,
  env,
  insertConversation,
  newUser,
  randomTopic,
  realClient,
  removeUsers,
  subscribed,
  type TestClient,
} from '../../../test-support/realtime.ts';
import type { LocalUser } from '../../../test-support/users.ts';

const MADE_UP = 'sb_secret_totally-made-up';
const sql = adminSql();
let ada: LocalUser;
let adaClient: TestClient;
const opened: RawSocket[] = [];

async function open(options: { vsn?: string; apikey?: string } = {}): Promise<RawSocket> {
  const socket = await RawSocket.open(options);
  opened.push(socket);
  return socket;
}

beforeAll(async () => {
  ada = await newUser(sql, 'ada');
  adaClient = await realClient(ada.token);
});
afterEach(() => {
  for (const socket of opened.splice(0)) socket.close();
});
afterAll(async () => {
  await adaClient.close();
  await removeUsers(sql, [ada]);
  await sql.end();
});

function handshake(query: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${env.apiUrl().replace(/^http/, 'ws')}/realtime/v1/websocket?${query}`);
    ws.on('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    ws.on('open', () => (ws.close(), reject(new Error('the handshake was accepted'))));
    ws.on('error', () => undefined);
  });
}

const post = (path: string, body: string | null, headers: Record<string, string> = {}) =>
  fetch(`${env.apiUrl()}/realtime/v1/api/broadcast${path}`, {
    method: 'POST',
    headers: { apikey: env.anonKey(), 'content-type': 'application/json', ...headers },
    ...(body === null ? {} : { body }),
  });

/** Two public sockets on one topic: `sender` and a `receiver` collecting every broadcast it gets. */
async function pair(config: Record<string, unknown> = {}) {
  const name = randomTopic('hostile');
  const [sender, receiver] = await Promise.all([open(), open()]);
  expect((await receiver.join(name, '1'))[4].status).toBe('ok');
  expect((await sender.join(name, '1', config))[4].status).toBe('ok');
  const events = () =>
    receiver.binary.items.map((frame) => frame.toString('utf8', 5 + frame[1]!, 5 + frame[1]! + frame[2]!));
  /** A second sender's broadcast the receiver must see: everything sent before it has arrived. */
  const marker = async () => {
    const other = await open();
    await other.join(name, '1');
    other.ws.send(kind3('1', '2', `realtime:${name}`, 'marker', {}));
    await receiver.binary.waitFor((frame) => frame.includes('marker'), 5000, 'the marker');
  };
  return { name, topic: `realtime:${name}`, sender, receiver, events, marker };
}

describe('malformed frames end nothing', () => {
  it('a ref or join_ref that is an object, in either serializer, is dropped; that socket and others keep working', async () => {
    const [bystander, v2socket, v1socket] = await Promise.all([open(), open(), open({ vsn: '1.0.0' })]);
    v2socket.send('[{"toString":1},"1","realtime:x","phx_join",{}]');
    v2socket.send('["1",{"toString":null},"realtime:x","phx_join",{}]');
    v1socket.send('{"topic":"phoenix","event":"heartbeat","payload":{},"ref":{"toString":null}}');
    v2socket.ws.send(Buffer.from([0, 1, 2, 3]));
    await v2socket.heartbeat('9');
    v1socket.send({ topic: 'phoenix', event: 'heartbeat', payload: {}, ref: '9' });
    await v1socket.reply('9');
    await bystander.heartbeat('9');
    expect((await fetch(`${env.apiUrl()}/health`)).status).toBe(200);
  });
});

describe('keys that are not the stack’s own', () => {
  it('refuses the socket handshake', async () => {
    const refused = await handshake(`apikey=${MADE_UP}&vsn=2.0.0`);
    expect(refused.status).toBe(401);
    // The gateway refuses a foreign sb_ key before realtime sees it, as the platform's gateway does.
    expect(JSON.parse(refused.body).message).toBe('Invalid API key');
  });

  it('refuses a join with it as access_token: no private topic of another person, no postgres changes', async () => {
    const own = new Collector<RealtimePostgresChangesPayload<Record<string, unknown>>>();
    const adaChannel = adaClient.supabase
      .channel(randomTopic('own'))
      .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'conversations' }, own.push);
    await subscribed(adaChannel);
    const attacker = await open();
    const privateJoin = await attacker.join(syncTopic(ada), '1', { private: true }, { access_token: MADE_UP });
    expect(privateJoin[4]).toMatchObject({
      status: 'error',
      response: { reason: expect.stringMatching(/^InvalidJWTToken: /) },
    });
    const changesJoin = await attacker.join(
      randomTopic('spy'),
      '2',
      { postgres_changes: [{ event: '*', schema: 'public', table: 'conversations' }] },
      { access_token: MADE_UP },
    );
    expect(changesJoin[4].status).toBe('error');
    const id = await insertConversation(sql, ada, 'secret title');
    await own.waitFor((change) => (change.new as { id?: string }).id === id, 8000, 'Ada’s own change');
    expect(attacker.frames.items.filter((f) => f[3] === 'postgres_changes' || f[3] === 'broadcast')).toEqual([]);
    await adaClient.supabase.removeChannel(adaChannel);
  });

  it('refuses the HTTP broadcast endpoints: nothing is injected into another person’s private topic', async () => {
    const got = new Collector<{ event: string; payload: Record<string, unknown> }>();
    const channel = adaClient.supabase
      .channel(syncTopic(ada), { config: { private: true } })
      .on('broadcast', { event: '*' }, got.push);
    await subscribed(channel);
    const forged = JSON.stringify({
      messages: [{ topic: syncTopic(ada), event: 'INSERT', payload: { forged: true }, private: true }],
    });
    for (const headers of [
      { apikey: MADE_UP, authorization: `Bearer ${MADE_UP}` },
      { authorization: `Bearer ${MADE_UP}` },
    ] as Record<string, string>[]) {
      const answer = await post('', forged, headers);
      expect(answer.status).toBe(401);
      // Refused by the gateway (Invalid API key) or by realtime (Unauthorized): never accepted.
      expect(['Invalid API key', 'Unauthorized']).toContain(((await answer.json()) as { message: string }).message);
    }
    const single = await post(`/${syncTopic(ada)}/events/INSERT?private=true`, '{"forged":true}', {
      authorization: `Bearer ${MADE_UP}`,
    });
    expect(single.status).toBe(401);
    const marker = JSON.stringify({
      messages: [{ topic: syncTopic(ada), event: 'marker', payload: {}, private: true }],
    });
    expect((await post('', marker, { authorization: `Bearer ${process.env.SERVICE_ROLE_KEY}` })).status).toBe(202);
    await got.waitFor((message) => message.event === 'marker', 5000, 'the marker');
    expect(got.items.map((message) => message.event)).toEqual(['marker']);
    await adaClient.supabase.removeChannel(channel);
  });
});

describe('quotas', () => {
  it('500 joins sent at once: at most 100 channels, the rest refused, and the socket disconnected for the join rate', async () => {
    const socket = await open();
    for (let i = 0; i < 500; i++)
      socket.send([String(i), String(i), `realtime:${randomTopic('burst')}`, 'phx_join', { config: {} }]);
    expect(await socket.closed).toBe(1000);
    const replies = socket.frames.items.filter((f) => f[3] === 'phx_reply');
    expect(replies.filter((f) => f[4].status === 'ok').length).toBeLessThanOrEqual(100);
    expect(replies.some((f) => f[4].response?.reason === 'ClientJoinRateLimitReached: Too many joins per second')).toBe(
      true,
    );
  });

  it('150 broadcasts at once: 100 relayed, then the sender’s channel is shut with "Too many messages per second"', async () => {
    const { topic, sender, events, marker } = await pair();
    for (let i = 0; i < 150; i++) sender.ws.send(kind3('1', String(100 + i), topic, 'flood', { i }));
    const system = await sender.frames.waitFor((f) => f[3] === 'system', 5000, 'the system message');
    expect(system[4]).toMatchObject({ extension: 'system', status: 'error', message: 'Too many messages per second' });
    await sender.frames.waitFor((f) => f[3] === 'phx_close' && f[1] === '1', 3000, 'phx_close');
    await marker();
    expect(events().filter((event) => event === 'flood')).toHaveLength(100);
  });

  it('a broadcast past the bytes per second is not relayed and shuts the channel; one past the frame bound closes the socket (1009)', async () => {
    const { topic, sender, events, marker } = await pair({ broadcast: { ack: true } });
    sender.ws.send(kind3('1', '2', topic, 'big', { blob: 'x'.repeat(256 * 1024) }));
    const system = await sender.frames.waitFor((f) => f[3] === 'system', 5000, 'the system message');
    expect(system[4].message).toBe('Too many bytes per second');
    const huge = await open();
    await huge.join(topic.slice('realtime:'.length), '1');
    huge.ws.send(kind3('1', '2', topic, 'huge', { blob: 'x'.repeat(3_900_000) }));
    expect(await huge.closed).toBe(1009);
    await marker();
    expect(events().filter((event) => event === 'big' || event === 'huge')).toEqual([]);
  });

  it('with ack, a broadcast over the payload limit is answered payload_size_exceeded and not relayed', async () => {
    const { topic, sender, events, marker } = await pair({ broadcast: { ack: true } });
    // A 1.0.0-style JSON push within the frame bound but over 3,000 KB + 500 bytes.
    sender.send([
      '1',
      '5',
      topic,
      'broadcast',
      { type: 'broadcast', event: 'over', payload: { blob: 'x'.repeat(3_000_600) } },
    ]);
    expect((await sender.reply('5', 8000))[4]).toEqual({ status: 'error', response: 'payload_size_exceeded' });
    await marker();
    expect(events()).not.toContain('over');
  });
});

describe('presence', () => {
  it('refuses a presence key named like a prototype property at join, and meta with prototype keys or more than 10 keys', async () => {
    const socket = await open();
    for (const [ref, key] of [
      ['1', '__proto__'],
      ['2', 'constructor'],
    ] as const) {
      const reply = await socket.join(randomTopic('proto'), ref, { presence: { key, enabled: true } });
      expect(reply[4]).toMatchObject({
        status: 'error',
        response: { reason: expect.stringMatching(/^InvalidJoinPayload: .*prototype/) },
      });
    }
    const name = randomTopic('meta');
    expect((await socket.join(name, '3', { presence: { key: 'k', enabled: true } }))[4].status).toBe('ok');
    const track = (ref: string, payload: unknown) =>
      socket.send(['3', ref, `realtime:${name}`, 'presence', { type: 'presence', event: 'track', payload }]);
    track('4', JSON.parse('{"__proto__":{"polluted":true}}'));
    expect((await socket.reply('4'))[4]).toEqual({
      status: 'error',
      response: { reason: 'Presence track payload may not use the key __proto__' },
    });
    track('5', Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, i])));
    expect((await socket.reply('5'))[4]).toEqual({
      status: 'error',
      response: { reason: 'Presence track payload may have at most 10 keys' },
    });
    track('6', { nested: { constructor: 1 } });
    expect((await socket.reply('6'))[4].status).toBe('error');
    track('7', { ok: true });
    expect((await socket.reply('7'))[4]).toEqual({ status: 'ok', response: {} });
    const other = await open();
    await other.join(name, '1', { presence: { key: 'o', enabled: true } });
    const state = await other.frames.waitFor((f) => f[3] === 'presence_state', 3000, 'presence_state');
    expect(Object.keys(state[4])).toEqual(['k']);
  });

  it('a tracked entry dies with its socket, even one dropped without a close frame', async () => {
    const name = randomTopic('gone');
    const [tracker, watcher] = await Promise.all([open(), open()]);
    await watcher.join(name, '1', { presence: { key: 'w', enabled: true } });
    await tracker.join(name, '1', { presence: { key: 'gone', enabled: true } });
    tracker.send([
      '1',
      '2',
      `realtime:${name}`,
      'presence',
      { type: 'presence', event: 'track', payload: { here: true } },
    ]);
    await watcher.frames.waitFor((f) => f[3] === 'presence_diff' && 'gone' in f[4].joins, 3000, 'the join diff');
    tracker.ws.terminate();
    await watcher.frames.waitFor((f) => f[3] === 'presence_diff' && 'gone' in f[4].leaves, 5000, 'the leave diff');
    const late = await open();
    await late.join(name, '1', { presence: { key: 'l', enabled: true } });
    expect((await late.frames.waitFor((f) => f[3] === 'presence_state', 3000, 'presence_state'))[4]).toEqual({});
  });

  it('shuts a channel that tracks more than 5 times in 30 s (the platform’s client presence limit)', async () => {
    const name = randomTopic('retrack');
    const socket = await open();
    await socket.join(name, '1', { presence: { key: 'r', enabled: true } });
    for (let i = 0; i < 6; i++)
      socket.send([
        '1',
        String(10 + i),
        `realtime:${name}`,
        'presence',
        { type: 'presence', event: 'track', payload: { i } },
      ]);
    const system = await socket.frames.waitFor((f) => f[3] === 'system', 3000, 'the system message');
    expect(system[4]).toMatchObject({ status: 'error', message: 'Client presence rate limit exceeded' });
    expect(
      socket.frames.items.filter((f) => f[3] === 'phx_reply' && f[4].status === 'ok' && Number(f[1]) >= 10),
    ).toHaveLength(5);
  });
});

describe('concurrent joins of one topic on one socket', () => {
  it('leave exactly one channel: one copy of each broadcast, none after leave', async () => {
    const name = randomTopic('dup');
    const [listener, sender] = await Promise.all([open(), open()]);
    await sender.join(name, '1');
    for (let i = 0; i < 20; i++) listener.send([String(i), String(i), `realtime:${name}`, 'phx_join', { config: {} }]);
    await listener.reply('19');
    const marker = randomTopic('mark');
    await listener.join(marker, '50');
    await sender.join(marker, '2');
    sender.ws.send(kind3('1', '3', `realtime:${name}`, 'once', {}));
    sender.ws.send(kind3('2', '4', `realtime:${marker}`, 'mark-1', {}));
    await listener.binary.waitFor((frame) => frame.includes('mark-1'), 3000, 'the first marker');
    expect(listener.binary.items.filter((frame) => frame.includes('once'))).toHaveLength(1);
    listener.send(['19', '60', `realtime:${name}`, 'phx_leave', {}]);
    await listener.reply('60');
    sender.ws.send(kind3('1', '5', `realtime:${name}`, 'after', {}));
    sender.ws.send(kind3('2', '6', `realtime:${marker}`, 'mark-2', {}));
    await listener.binary.waitFor((frame) => frame.includes('mark-2'), 3000, 'the second marker');
    expect(listener.binary.items.filter((frame) => frame.includes('after'))).toHaveLength(0);
  });
});

describe('HTTP broadcast input', () => {
  it('answers bad input with 4xx, and a v2 subscriber still gets the next good message', async () => {
    const name = randomTopic('http');
    const listener = await open();
    await listener.join(name, '1');
    const long = 'e'.repeat(300);
    const answers = await Promise.all([
      post('/%ZZ/events/x', '{}'),
      post(`/${name}/events/%E0%A4%A`, '{}'),
      post('', 'null'),
      post('', '{"messages":null}'),
      post('', JSON.stringify({ messages: [{ topic: name, event: long, payload: {} }] })),
      post('', JSON.stringify({ messages: [{ topic: name, event: 'e', payload: {}, id: 'i'.repeat(300) }] })),
      post(`/${name}/events/${long}`, '{}'),
      post(
        '',
        `{"messages":[{"topic":"${name}","event":"deep","payload":${'['.repeat(10_000)}${']'.repeat(10_000)}}]}`,
      ),
    ]);
    expect(answers.map((answer) => answer.status)).toEqual([400, 400, 422, 422, 422, 422, 422, 422]);
    for (const answer of answers) expect(typeof ((await answer.json()) as { message: string }).message).toBe('string');
    expect(
      (await fetch(`${env.apiUrl()}/realtime/v1/api/broadcast`, { method: 'GET', headers: { apikey: env.anonKey() } }))
        .status,
    ).toBe(405);
    expect(
      (await post('', JSON.stringify({ messages: [{ topic: name, event: 'good', payload: {}, id: 'm1' }] }))).status,
    ).toBe(202);
    await listener.binary.waitFor((frame) => frame.includes('good'), 3000, 'the good message');
    expect(listener.binary.items.filter((frame) => frame.includes('deep') || frame.includes(long))).toEqual([]);
  });
});
