/**
 * The connection's guarantees that need no database, with a stand-in socket: bursts of joins
 * cannot pass the channel quota, concurrent joins of one topic leave one channel, a throwing
 * subscriber or a malformed frame ends at most its own socket, and a socket that stops reading is
 * dropped at the send-buffer bound. (The integration tests in ../tests check the same on the wire.)
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { loadConfig } from '../../config.ts';
import { Hub } from '../broadcast/hub.ts';
import type { Catalog } from '../changes/catalog.ts';
import type { Dispatcher } from '../changes/dispatcher.ts';
import { DEFAULT_LIMITS, type RealtimeLimits } from '../limits.ts';
import { Connection, type ConnectionContext } from './connection.ts';
import { v2 } from './wire.ts';

const keys = loadConfig().keys;

class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  terminated = false;
  isPaused = false;
  closedWith: number | undefined;
  readonly frames: unknown[][] = [];
  send(data: string | Buffer): void {
    this.frames.push(typeof data === 'string' ? (JSON.parse(data) as unknown[]) : ['binary', data[0]]);
  }
  pause(): void {
    this.isPaused = true;
  }
  resume(): void {
    this.isPaused = false;
  }
  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
  }
  close(code: number): void {
    this.closedWith = code;
    this.readyState = 3;
  }
  frame(value: unknown): void {
    this.emit('message', Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)), false);
  }
  replies(status?: string) {
    return this.frames.filter(
      (f) => f[3] === 'phx_reply' && (status === undefined || (f[4] as { status: string }).status === status),
    );
  }
}

function setup(limits: Partial<RealtimeLimits> = {}) {
  const hub = new Hub();
  const logs: string[] = [];
  const context: ConnectionContext = {
    catalog: {} as Catalog,
    dispatcher: { subscribe: () => undefined, unsubscribe: () => undefined } as unknown as Dispatcher,
    hub,
    keys,
    sql: {} as never,
    privateOnly: false,
    errorBackoffMs: 0,
    limits: { ...DEFAULT_LIMITS, ...limits },
    debug: false,
    log: (line) => logs.push(line),
  };
  const open = () => {
    const ws = new FakeSocket();
    const connection = new Connection(
      ws as unknown as WebSocket,
      { serializer: v2, apikey: keys.anonKey, claims: { role: 'anon' } as never },
      context,
    );
    return { ws, connection };
  };
  return { hub, logs, open };
}

/** Waits until the condition holds (frames are handled on promise queues), with a deadline. */
async function until(condition: () => boolean, what: string, deadlineMs = 5000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`not ${what} within ${deadlineMs} ms`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const join = (ws: FakeSocket, ref: string, topic: string) => ws.frame([ref, ref, topic, 'phx_join', { config: {} }]);

describe('Connection', () => {
  it('holds a burst of 500 joins to the channel quota: 100 joined, 400 refused, none past it', async () => {
    const { hub, open } = setup({ maxJoinsPerSecond: 1000 });
    const { ws } = open();
    for (let i = 0; i < 500; i++) join(ws, String(i), `realtime:burst-${i}`);
    await until(() => ws.replies().length === 500, 'every join answered');
    expect(ws.replies('ok')).toHaveLength(100);
    expect(new Set(ws.replies('error').map((f) => (f[4] as { response: { reason: string } }).response.reason))).toEqual(
      new Set(['ChannelRateLimitReached: Too many channels']),
    );
    expect(hub.sockets).toBe(100);
  });

  it('refuses joins past the per-second quota and disconnects the socket, as the platform does', async () => {
    const { hub, open } = setup({ maxJoinsPerSecond: 3 });
    const { ws } = open();
    for (let i = 0; i < 3; i++) join(ws, String(i), `realtime:rate-${i}`);
    await until(() => ws.replies('ok').length === 3, 'three joins');
    join(ws, '3', 'realtime:rate-3');
    join(ws, '4', 'realtime:rate-4');
    expect(ws.replies('error')).toEqual([
      [
        '3',
        '3',
        'realtime:rate-3',
        'phx_reply',
        { status: 'error', response: { reason: 'ClientJoinRateLimitReached: Too many joins per second' } },
      ],
    ]);
    expect(ws.closedWith).toBe(1000);
    expect(hub.sockets).toBe(0);
  });

  it('leaves exactly one channel after 50 concurrent joins of one topic, and none after leave', async () => {
    const { hub, open } = setup({ maxJoinsPerSecond: 1000 });
    const { ws } = open();
    for (let i = 0; i < 50; i++) join(ws, String(i), 'realtime:same');
    await until(() => ws.replies().length === 50, 'every join answered');
    expect(ws.replies('ok')).toHaveLength(50);
    expect(hub.sockets).toBe(1);
    const received: unknown[] = [];
    const other = open().ws;
    join(other, '1', 'realtime:same');
    await until(() => other.replies('ok').length === 1, 'the other join');
    ws.send = (data: string | Buffer) => void received.push(data);
    hub.broadcast('public:same', { topic: 'realtime:same', event: 'e', payload: {} });
    expect(received).toHaveLength(1);
    ws.frame(['49', '99', 'realtime:same', 'phx_leave', {}]);
    await until(() => hub.sockets === 1, 'the leave');
    received.length = 0;
    hub.broadcast('public:same', { topic: 'realtime:same', event: 'e', payload: {} });
    expect(received).toHaveLength(0);
  });

  it('drops malformed frames and keeps the socket: refs that are objects, non-arrays, bad binary kinds', async () => {
    const { open, logs } = setup();
    const { ws } = open();
    ws.frame('[{"toString":1},"1","realtime:x","phx_join",{}]');
    ws.frame('{"topic":"phoenix","event":"heartbeat","payload":{},"ref":{"toString":null}}');
    ws.frame('not json');
    ws.emit('message', Buffer.from([2, 0, 0]), true);
    ws.frame([null, '7', 'phoenix', 'heartbeat', {}]);
    expect(ws.frames).toEqual([[null, '7', 'phoenix', 'phx_reply', { status: 'ok', response: {} }]]);
    // Logged once a second at most, with a count of the rest.
    expect(logs.filter((line) => line.includes('MalformedWebSocketMessage'))).toHaveLength(1);
    expect(ws.terminated).toBe(false);
  });

  it('stops reading from a socket that sends more frames in a second than every quota together allows', () => {
    const { open } = setup({ maxEventsPerSecond: 10, maxJoinsPerSecond: 10, maxPresenceEventsPerSecond: 10 });
    const { ws, connection } = open();
    for (let i = 0; i < 130; i++) ws.frame([null, String(i), 'phoenix', 'heartbeat', {}]);
    expect(ws.isPaused).toBe(false);
    ws.frame([null, 'x', 'phoenix', 'heartbeat', {}]);
    expect(ws.isPaused).toBe(true);
    expect(ws.replies()).toHaveLength(131);
    connection.terminate();
  });

  it('ends only the channel whose handler throws, with phx_error', async () => {
    const { hub, open } = setup();
    const { ws } = open();
    join(ws, '1', 'realtime:boom');
    join(ws, '2', 'realtime:fine');
    await until(() => ws.replies('ok').length === 2, 'both joins');
    // The fan-out throwing stands in for any unexpected exception in a handler.
    const original = hub.broadcast.bind(hub);
    hub.broadcast = () => {
      throw new Error('a subscriber exploded');
    };
    ws.frame(['1', '6', 'realtime:boom', 'broadcast', { type: 'broadcast', event: 'e', payload: {} }]);
    await until(() => ws.frames.some((f) => f[3] === 'phx_error'), 'phx_error');
    hub.broadcast = original;
    expect(ws.frames.find((f) => f[3] === 'phx_error')).toEqual(['1', '1', 'realtime:boom', 'phx_error', {}]);
    expect(hub.sockets).toBe(1);
    ws.frame([null, '8', 'phoenix', 'heartbeat', {}]);
    expect(ws.frames.at(-1)).toEqual([null, '8', 'phoenix', 'phx_reply', { status: 'ok', response: {} }]);
  });

  it('terminates a socket that stops reading once its unsent data passes the bound, and frees its channels', async () => {
    const { hub, open } = setup({ maxBufferedBytes: 1000 });
    const slow = open().ws;
    const fast = open().ws;
    join(slow, '1', 'realtime:flow');
    join(fast, '1', 'realtime:flow');
    await until(() => slow.replies('ok').length === 1 && fast.replies('ok').length === 1, 'both joins');
    slow.bufferedAmount = 1001;
    const before = fast.frames.length;
    hub.broadcast('public:flow', { topic: 'realtime:flow', event: 'e', payload: {} });
    expect(slow.terminated).toBe(true);
    expect(fast.frames.length).toBe(before + 1);
    expect(hub.sockets).toBe(1);
  });
});
