/**
 * Wire-level details that break realtime-js silently when missed, checked with a raw socket:
 * heartbeat replies, the exact echo of bindings, presence_state after every presence join,
 * phx_leave → reply + phx_close with ref = join_ref, unmatched topics, duplicate joins, the
 * 1.0.0 object framing, and kind-3 in / kind-4 out for broadcasts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Collector, env, randomTopic } from '../../../test-support/realtime.ts';

type Arr = [string | null, string | null, string, string, Record<string, any>];

class RawSocket {
  readonly frames = new Collector<Arr>();
  readonly binary = new Collector<Buffer>();
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) this.binary.push(data as Buffer);
      else {
        const parsed = JSON.parse(data.toString());
        this.frames.push(
          Array.isArray(parsed)
            ? (parsed as Arr)
            : [null, parsed.ref, parsed.topic, parsed.event, { ...parsed.payload, __object: Object.keys(parsed) }],
        );
      }
    });
  }
  static async open(vsn = '2.0.0'): Promise<RawSocket> {
    const ws = new WebSocket(
      `${env.apiUrl().replace(/^http/, 'ws')}/realtime/v1/websocket?apikey=${env.anonKey()}&vsn=${vsn}`,
    );
    await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
    return new RawSocket(ws);
  }
  send(frame: Arr | Record<string, unknown>): void {
    this.ws.send(JSON.stringify(frame));
  }
  reply(ref: string) {
    return this.frames.waitFor((f) => f[3] === 'phx_reply' && f[1] === ref, 3000, `the reply to ${ref}`);
  }
}

const opened: RawSocket[] = [];
const open = async (vsn?: string) => {
  const socket = await RawSocket.open(vsn);
  opened.push(socket);
  return socket;
};
afterEach(() => {
  for (const socket of opened.splice(0)) socket.ws.close();
});

describe('wire protocol', () => {
  it('answers heartbeats on topic phoenix', async () => {
    const s = await open();
    s.send([null, '3', 'phoenix', 'heartbeat', {}]);
    expect(await s.reply('3')).toEqual([null, '3', 'phoenix', 'phx_reply', { status: 'ok', response: {} }]);
  });

  it('echoes each binding exactly (no added keys) with an id, then says "Subscribed to PostgreSQL"', async () => {
    const s = await open();
    const topic = `realtime:${randomTopic()}`;
    const bindings = [
      { event: '*', schema: 'public', table: 'memories', filter: 'tag=eq.a' },
      { event: 'INSERT', schema: 'public', table: 'messages' },
      { event: 'UPDATE', schema: 'public', table: 'memories', select: ['tag'] },
    ];
    s.send([
      '6',
      '6',
      topic,
      'phx_join',
      {
        config: {
          broadcast: { ack: false, self: false },
          presence: { key: '', enabled: false },
          postgres_changes: bindings,
          private: false,
        },
      },
    ]);
    const [joinRef, , , , payload] = await s.reply('6');
    expect(joinRef).toBe('6');
    expect(payload.status).toBe('ok');
    const echoed = payload.response.postgres_changes as Record<string, unknown>[];
    expect(echoed.map(({ id: _id, ...rest }) => rest)).toEqual(bindings);
    expect(echoed.every((b) => typeof b.id === 'number')).toBe(true);
    const system = await s.frames.waitFor((f) => f[3] === 'system', 3000, 'the system message');
    expect(system).toEqual([
      '6',
      null,
      topic,
      'system',
      { extension: 'postgres_changes', status: 'ok', message: 'Subscribed to PostgreSQL', channel: topic.slice(9) },
    ]);
  });

  it('always sends postgres_changes: [] and sends presence_state after a presence-enabled join and rejoin', async () => {
    const s = await open();
    const topic = `realtime:${randomTopic()}`;
    s.send(['1', '1', topic, 'phx_join', { config: { presence: { key: 'k', enabled: true } } }]);
    expect((await s.reply('1'))[4]).toEqual({ status: 'ok', response: { postgres_changes: [] } });
    expect(await s.frames.waitFor((f) => f[3] === 'presence_state', 3000, 'presence_state')).toEqual([
      '1',
      null,
      topic,
      'presence_state',
      {},
    ]);
    // A duplicate join closes the old instance (phx_close with its join_ref) and gets its own state.
    s.send(['2', '2', topic, 'phx_join', { config: { presence: { key: 'k', enabled: true } } }]);
    expect(await s.frames.waitFor((f) => f[3] === 'phx_close', 3000, 'phx_close')).toEqual([
      '1',
      '1',
      topic,
      'phx_close',
      {},
    ]);
    await s.reply('2');
    await s.frames.waitFor((f) => f[3] === 'presence_state' && f[0] === '2', 3000, 'the second presence_state');
  });

  it('answers phx_leave with ok then phx_close (ref = join_ref), and leave on an unknown topic with ok', async () => {
    const s = await open();
    const topic = `realtime:${randomTopic()}`;
    s.send(['4', '4', topic, 'phx_join', { config: {} }]);
    await s.reply('4');
    s.send(['4', '5', topic, 'phx_leave', {}]);
    expect(await s.reply('5')).toEqual(['4', '5', topic, 'phx_reply', { status: 'ok', response: {} }]);
    expect(await s.frames.waitFor((f) => f[3] === 'phx_close', 3000, 'phx_close')).toEqual([
      '4',
      '4',
      topic,
      'phx_close',
      {},
    ]);
    s.send([null, '6', 'realtime:never-joined', 'phx_leave', {}]);
    expect((await s.reply('6'))[4]).toEqual({ status: 'ok', response: {} });
  });

  it('replies "unmatched topic" to other events on a topic that is not joined', async () => {
    const s = await open();
    s.send(['9', '9', 'realtime:nowhere', 'presence', { type: 'presence', event: 'track', payload: {} }]);
    expect((await s.reply('9'))[4]).toEqual({ status: 'error', response: { reason: 'unmatched topic' } });
  });

  it('refuses an empty topic name with TopicNameRequired', async () => {
    const s = await open();
    s.send(['1', '1', 'realtime:', 'phx_join', { config: {} }]);
    expect((await s.reply('1'))[4]).toEqual({
      status: 'error',
      response: { reason: 'TopicNameRequired: You must provide a topic name' },
    });
  });

  it('speaks 1.0.0 object frames without join_ref', async () => {
    const s = await open('1.0.0');
    s.send({ topic: 'phoenix', event: 'heartbeat', payload: {}, ref: '1' });
    const [, ref, topic, event, payload] = await s.reply('1');
    expect([ref, topic, event]).toEqual(['1', 'phoenix', 'phx_reply']);
    expect(payload.__object).toEqual(['topic', 'event', 'payload', 'ref']);
  });

  it('relays a kind-3 broadcast as a kind-4 frame to another 2.0.0 socket', async () => {
    const [sender, receiver] = await Promise.all([open(), open()]);
    const name = randomTopic();
    const topic = `realtime:${name}`;
    receiver.send(['1', '1', topic, 'phx_join', { config: {} }]);
    sender.send(['1', '1', topic, 'phx_join', { config: { broadcast: { ack: true } } }]);
    await Promise.all([receiver.reply('1'), sender.reply('1')]);
    const parts = ['1', '2', topic, 'cursor', ''].map((text) => Buffer.from(text));
    sender.ws.send(
      Buffer.concat([Buffer.from([3, ...parts.map((p) => p.length), 1]), ...parts, Buffer.from('{"x":9}')]),
    );
    expect((await sender.reply('2'))[4]).toEqual({ status: 'ok', response: {} });
    const frame = await receiver.binary.waitFor(() => true, 3000, 'the kind-4 frame');
    expect(frame[0]).toBe(4);
    expect(frame.subarray(5).toString()).toBe(`${topic}cursor{"x":9}`);
  });
});
