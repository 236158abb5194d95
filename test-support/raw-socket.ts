/**
 * A raw realtime socket for tests that send what supabase-js never would: frames are decoded into
 * `[join_ref, ref, topic, event, payload]` (1.0.0 objects are mapped to the same shape), binary
 * kind-4 frames are kept as bytes, and the close code is recorded.
 */
import WebSocket from 'ws';
import { Collector, env } from './realtime.ts';

export class HandshakeRefused extends Error {
  constructor(readonly status: number) {
    super(`handshake refused with ${status}`);
  }
}

export type ArrayFrame = [string | null, string | null, string, string, Record<string, any>];

export class RawSocket {
  readonly frames = new Collector<ArrayFrame>();
  readonly binary = new Collector<Buffer>();
  readonly closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) return this.binary.push(data as Buffer);
      const parsed = JSON.parse(data.toString());
      this.frames.push(
        Array.isArray(parsed) ? (parsed as ArrayFrame) : [null, parsed.ref, parsed.topic, parsed.event, parsed.payload],
      );
    });
    this.closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
  }

  /** Opens a socket on the stack of the test variables, or on `url` with `apikey` (benchmarks). */
  static async open(options: { vsn?: string; apikey?: string; url?: string } = {}): Promise<RawSocket> {
    const query = `apikey=${encodeURIComponent(options.apikey ?? env.anonKey())}&vsn=${options.vsn ?? '2.0.0'}`;
    const ws = new WebSocket(`${(options.url ?? env.apiUrl()).replace(/^http/, 'ws')}/realtime/v1/websocket?${query}`);
    ws.on('error', () => undefined);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('unexpected-response', (_request, response) => reject(new HandshakeRefused(response.statusCode ?? 0)));
      ws.once('error', reject);
    });
    return new RawSocket(ws);
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  reply(ref: string, deadlineMs = 5000): Promise<ArrayFrame> {
    return this.frames.waitFor((f) => f[3] === 'phx_reply' && f[1] === ref, deadlineMs, `the reply to ${ref}`);
  }

  async join(
    topic: string,
    ref: string,
    config: Record<string, unknown> = {},
    extra: Record<string, unknown> = {},
  ): Promise<ArrayFrame> {
    this.send([ref, ref, `realtime:${topic}`, 'phx_join', { config, ...extra }]);
    return this.reply(ref);
  }

  /** Round-trips a heartbeat: proves the socket (and the server) still answer. */
  async heartbeat(ref: string): Promise<void> {
    this.send([null, ref, 'phoenix', 'heartbeat', {}]);
    await this.reply(ref, 3000);
  }

  close(): void {
    this.ws.close();
  }
}

/** A kind-3 frame, exactly as realtime-js 2.119.0 sends `channel.send({type:'broadcast', …})`. */
export function kind3(joinRef: string, ref: string, topic: string, event: string, payload: unknown): Buffer {
  const parts = [joinRef, ref, topic, event, ''].map((text) => Buffer.from(text, 'utf8'));
  return Buffer.concat([
    Buffer.from([3, ...parts.map((part) => part.length), 1]),
    ...parts,
    Buffer.from(JSON.stringify(payload)),
  ]);
}
