/**
 * One client socket: decodes frames, answers heartbeats, and runs each channel event
 * (as supabase/realtime `realtime_channel.ex` and Phoenix channels answer them). Join errors are replied after `errorBackoffMs`, as the platform
 * waits before an error reply so that a retrying client does not spin.
 *
 * Nothing a client sends ends more than its own socket: a frame that does not decode is dropped
 * (the platform's MalformedWebSocketMessage), a handler that throws ends its channel with
 * `phx_error` (or answers the join with an error), and a socket whose unsent data passes
 * `maxBufferedBytes` is terminated. Frames of one topic run one after another, as Phoenix runs them
 * in the channel's process, so concurrent joins of a topic leave exactly one channel. The quotas
 * (limits.ts) are decided as each frame arrives, before anything awaits, so a burst cannot pass them.
 */
import type { KeySet } from '../../identity/keys.ts';
import type { Sql } from 'postgres';
import type { WebSocket } from 'ws';
import { type Policies } from '../joins/authorization.ts';
import { Channel, type ChannelSocket } from '../joins/channel.ts';
import type { Catalog } from '../changes/catalog.ts';
import type { Dispatcher } from '../changes/dispatcher.ts';
import { RealtimeError, reasonFor } from '../errors.ts';
import type { Handshake } from './handshake.ts';
import type { Hub } from '../broadcast/hub.ts';
import { authorizePrivate, channelLimit, runJoin } from '../joins/join.ts';
import { maxPayloadBytes, nestsDeeperThan, RateWindow, type RealtimeLimits } from '../limits.ts';
import { presenceMetaProblem } from '../broadcast/presence.ts';
import { claimsFor } from '../joins/tokens.ts';
import { type Frame, type Serializer, WireError } from './wire.ts';

export interface ConnectionContext {
  catalog: Catalog;
  dispatcher: Dispatcher;
  hub: Hub;
  keys: KeySet;
  /** The shared pool, for private channel authorization and replay. */
  sql: Sql;
  /** Refuse public channels (the platform's "Allow public access" switched off). */
  privateOnly: boolean;
  errorBackoffMs: number;
  limits: RealtimeLimits;
  /** Logs every decoded frame (VIRGIL_REALTIME_DEBUG=1). */
  debug: boolean;
  log(line: string): void;
}

/** Frames a socket may have read per second: every quota's worth, plus room for heartbeats and leaves. */
export const inboundFramesPerSecond = (limits: RealtimeLimits) =>
  limits.maxEventsPerSecond + limits.maxJoinsPerSecond + limits.maxPresenceEventsPerSecond + 100;

/** Bytes a socket may have read per second: the largest payload plus a second of broadcast bytes. */
export const inboundBytesPerSecond = (limits: RealtimeLimits) => maxPayloadBytes(limits) + limits.maxBytesPerSecond;

export class Connection implements ChannelSocket {
  readonly serializer: Serializer;
  private readonly channels = new Map<string, Channel>();
  /** The tail of each topic's frame queue. */
  private readonly queues = new Map<string, Promise<void>>();
  /** Joins queued or running, by topic: they hold a channel slot until they end. */
  private readonly joining = new Map<string, number>();
  private readonly joinRate: RateWindow;
  private readonly eventRate: RateWindow;
  private readonly byteRate: RateWindow;
  private readonly presenceRate: RateWindow;
  private readonly channelPresenceRate = new WeakMap<Channel, RateWindow>();
  /** Frames read per second, of any kind: past it the server stops reading until the next second. */
  private readonly inboundRate: RateWindow;
  private readonly inboundBytes: RateWindow;
  private resumeTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Malformed frames dropped since the last log line: a flood of them must not become a flood of logs. */
  private malformed = { dropped: 0, loggedAt: 0 };
  alive = true;

  constructor(
    private readonly ws: WebSocket,
    private readonly handshake: Handshake,
    private readonly context: ConnectionContext,
  ) {
    this.serializer = handshake.serializer;
    const limits = context.limits;
    this.joinRate = new RateWindow(limits.maxJoinsPerSecond);
    this.eventRate = new RateWindow(limits.maxEventsPerSecond);
    this.byteRate = new RateWindow(limits.maxBytesPerSecond);
    this.presenceRate = new RateWindow(limits.maxPresenceEventsPerSecond);
    this.inboundRate = new RateWindow(inboundFramesPerSecond(limits));
    this.inboundBytes = new RateWindow(inboundBytesPerSecond(limits));
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('pong', () => (this.alive = true));
    ws.on('close', () => this.onClose());
    ws.on('error', () => undefined);
  }

  sendText(text: string): void {
    this.send(text, false);
  }

  sendBinary(data: Buffer): void {
    this.send(data, true);
  }

  sendFrame(frame: Frame): void {
    this.sendText(this.serializer.encode(frame));
  }

  /** Queues data unless the peer stopped reading: past the bound the socket is dropped, not buffered. */
  private send(data: string | Buffer, binary: boolean): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > this.context.limits.maxBufferedBytes) {
      this.context.log(
        `[realtime] terminated a socket with ${this.ws.bufferedAmount} bytes unsent (bound ${this.context.limits.maxBufferedBytes})`,
      );
      this.terminate();
      return;
    }
    this.ws.send(data, { binary });
  }

  /** Closes the socket (used by the service's close, back-pressure and fault injection). */
  terminate(): void {
    this.ws.terminate();
    this.onClose();
  }

  /** A normal close (1000) with a reason, as Phoenix's `disconnect` does. */
  private disconnect(reason: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(1000, reason);
    this.onClose();
  }

  private reply(frame: Frame, status: 'ok' | 'error', response: unknown): void {
    this.sendFrame({
      joinRef: frame.joinRef,
      ref: frame.ref,
      topic: frame.topic,
      event: 'phx_reply',
      payload: { status, response },
    });
  }

  private onMessage(data: Buffer | Buffer[], isBinary: boolean): void {
    if (this.closed) return;
    const size = Array.isArray(data) ? data.reduce((sum, part) => sum + part.length, 0) : data.length;
    if (
      !this.inboundRate.take() ||
      !this.inboundBytes.take(Math.min(size, inboundBytesPerSecond(this.context.limits)))
    ) {
      // Whatever the quotas, a socket cannot make the server decode (and queue) frames or bytes
      // without end: reading stops for the rest of the second and TCP holds the client back. The
      // frame itself still runs.
      if (!this.ws.isPaused) {
        this.ws.pause();
        this.resumeTimer = setTimeout(() => this.closed || this.ws.resume(), 1000);
      }
    }
    let frame: Frame;
    let bytes: number;
    try {
      const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      bytes = buffer.length;
      frame = this.serializer.decode(buffer, isBinary);
    } catch (error) {
      return this.dropMalformed(error instanceof WireError ? error.message : String(error));
    }
    try {
      if (this.context.debug) this.context.log(`[realtime] <- ${JSON.stringify(frame).slice(0, 400)}`);
      this.admit(frame, bytes);
    } catch (error) {
      this.failed(frame, error);
    }
  }

  /** Logs a dropped frame, at most once a second per socket (with how many were dropped meanwhile). */
  private dropMalformed(why: string): void {
    this.malformed.dropped++;
    const now = Date.now();
    if (now - this.malformed.loggedAt < 1000) return;
    const also = this.malformed.dropped > 1 ? ` (and ${this.malformed.dropped - 1} more since the last report)` : '';
    this.context.log(`[realtime] MalformedWebSocketMessage: dropped a frame: ${why}${also}`);
    this.malformed = { dropped: 0, loggedAt: now };
  }

  /** The quotas that are decided as a frame arrives; then the frame joins its topic's queue. */
  private admit(frame: Frame, bytes: number): void {
    if (frame.topic === 'phoenix') {
      if (frame.event === 'heartbeat') this.reply(frame, 'ok', {});
      return;
    }
    if (frame.event === 'phx_join') {
      if (!this.joinRate.take()) {
        // As the platform: the join is refused and the whole socket is disconnected.
        this.reply(frame, 'error', { reason: 'ClientJoinRateLimitReached: Too many joins per second' });
        return this.disconnect('Too many joins per second');
      }
      const holdsSlot = this.channels.has(frame.topic) || this.joining.has(frame.topic);
      if (!holdsSlot) {
        try {
          channelLimit(
            this.channels.size + [...this.joining.keys()].filter((topic) => !this.channels.has(topic)).length,
            this.context.limits.maxChannelsPerClient,
          );
        } catch (error) {
          return void this.replyError(frame, error as RealtimeError);
        }
      }
      this.joining.set(frame.topic, (this.joining.get(frame.topic) ?? 0) + 1);
      return this.enqueue(frame, () =>
        this.join(frame).finally(() => {
          const left = (this.joining.get(frame.topic) ?? 1) - 1;
          if (left > 0) this.joining.set(frame.topic, left);
          else this.joining.delete(frame.topic);
        }),
      );
    }
    this.enqueue(frame, () => this.handle(frame, bytes));
  }

  /** Runs the frame after every earlier frame of its topic. */
  private enqueue(frame: Frame, task: () => Promise<void> | void): void {
    const previous = this.queues.get(frame.topic) ?? Promise.resolve();
    const next = previous.then(task).catch((error: unknown) => this.failed(frame, error));
    this.queues.set(frame.topic, next);
    void next.then(() => {
      if (this.queues.get(frame.topic) === next) this.queues.delete(frame.topic);
    });
  }

  /** A handler threw: the channel ends with phx_error (the client rejoins), a join gets an error reply. */
  private failed(frame: Frame, error: unknown): void {
    try {
      this.context.log(
        `[realtime] UnknownErrorOnChannel: ${frame.event} on ${frame.topic} failed: ${(error as Error)?.stack ?? String(error)}`,
      );
      const channel = this.channels.get(frame.topic);
      if (channel) {
        channel.end('phx_error');
        this.removeChannel(channel);
      } else if (frame.event === 'phx_join') {
        this.reply(frame, 'error', { reason: 'Unknown Error on Channel' });
      }
    } catch (inner) {
      this.context.log(`[realtime] terminated a socket whose error could not be answered: ${String(inner)}`);
      this.terminate();
    }
  }

  private async replyError(frame: Frame, error: RealtimeError): Promise<void> {
    if (this.context.errorBackoffMs > 0)
      await new Promise((resolve) => setTimeout(resolve, this.context.errorBackoffMs));
    this.reply(frame, 'error', { reason: reasonFor(error) });
  }

  private async handle(frame: Frame, bytes: number): Promise<void> {
    if (this.closed) return;
    const channel = this.channels.get(frame.topic);
    if (frame.event === 'phx_leave') {
      this.reply(frame, 'ok', {});
      if (channel) {
        channel.end('phx_close');
        this.removeChannel(channel);
      }
      return;
    }
    if (!channel) return this.reply(frame, 'error', { reason: 'unmatched topic' });
    switch (frame.event) {
      case 'access_token':
        return this.refreshToken(channel, frame.payload.access_token);
      case 'broadcast':
        return this.broadcast(channel, frame, bytes);
      case 'presence':
        return this.presence(channel, frame, bytes);
      default:
        return; // any other event on a joined topic is ignored, without a reply
    }
  }

  private async join(frame: Frame): Promise<void> {
    if (this.closed) return;
    const previous = this.channels.get(frame.topic);
    if (previous) {
      // Phoenix closes the old instance of a duplicate join first.
      previous.end('phx_close');
      this.removeChannel(previous);
    }
    let plan;
    try {
      plan = await runJoin({
        topic: frame.topic,
        payload: frame.payload,
        apikey: this.handshake.apikey,
        catalog: this.context.catalog,
        keys: this.context.keys,
        sql: this.context.sql,
        privateOnly: this.context.privateOnly,
      });
    } catch (error) {
      if (!(error instanceof RealtimeError)) throw error;
      // The reply waits out the backoff without holding the topic's queue.
      return void this.replyError(frame, error);
    }
    if (this.closed) return;
    const channel = new Channel(this, frame.topic, frame.joinRef, plan, (expired, message) =>
      this.shutdown(expired, message),
    );
    this.channels.set(frame.topic, channel);
    this.channelPresenceRate.set(
      channel,
      new RateWindow(this.context.limits.clientPresenceMaxCalls, this.context.limits.clientPresenceWindowMs),
    );
    this.reply(frame, 'ok', { postgres_changes: plan.echo });
    this.context.hub.add(channel);
    channel.sendReplayed(plan.replayed);
    if (channel.presenceEnabled && channel.receivesPresence)
      channel.push('presence_state', this.context.hub.presence.state(channel.hubTopic));
    if (plan.replicationReady) channel.system('system', 'ok', 'Replication connection established');
    if (plan.bindingError) {
      channel.system('postgres_changes', 'error', plan.bindingError);
    } else if (plan.bindings.length > 0) {
      this.context.dispatcher.subscribe(channel);
      channel.system('postgres_changes', 'ok', 'Subscribed to PostgreSQL');
    }
  }

  /** Ends a channel from the server side: system error, then phx_close; the client does not rejoin. */
  private shutdown(channel: Channel, message: string): void {
    if (this.channels.get(channel.topic) !== channel) return;
    channel.system('system', 'error', message);
    channel.end('phx_close');
    this.removeChannel(channel);
  }

  private async refreshToken(channel: Channel, token: unknown): Promise<void> {
    if (typeof token !== 'string' || token === channel.token || token.startsWith('sb_')) return;
    let claims;
    try {
      claims = await claimsFor(token, this.context.keys);
    } catch (error) {
      if (!(error instanceof RealtimeError)) throw error;
      return this.shutdown(channel, error.message);
    }
    let policies: Policies | undefined;
    if (channel.isPrivate) {
      // Re-decided with the new claims, as at join; losing a read right the old token had ends it too.
      try {
        policies = await authorizePrivate(this.context.sql, true, channel.name, claims);
      } catch (error) {
        if (!(error instanceof RealtimeError)) throw error;
        return this.shutdown(channel, error.message);
      }
      const lost = (['broadcast', 'presence'] as const).some(
        (extension) => channel.policies[extension].read && !policies![extension].read,
      );
      if (lost)
        return this.shutdown(channel, `You no longer have permission to read from this Channel topic: ${channel.name}`);
    }
    channel.refresh(token, claims, policies);
    if (channel.bindings.length > 0) channel.system('postgres_changes', 'ok', 'Subscribed to PostgreSQL');
  }

  private broadcast(channel: Channel, frame: Frame, bytes: number): void {
    // On a private channel without the insert policy's consent the platform drops the message
    // silently, with no reply even when `ack` was asked (the client's send() then times out).
    if (!channel.policies.broadcast.write) return;
    const limits = this.context.limits;
    if (bytes > maxPayloadBytes(limits)) {
      // As the platform: not relayed; with `ack` the reply says why.
      if (channel.broadcastConfig.ack) this.reply(frame, 'error', 'payload_size_exceeded');
      return;
    }
    if (!this.eventRate.take()) return this.shutdown(channel, 'Too many messages per second');
    if (!this.byteRate.take(bytes)) return this.shutdown(channel, 'Too many bytes per second');
    const { event, payload } = frame.payload as { event?: unknown; payload?: unknown };
    if (!(payload instanceof Uint8Array) && nestsDeeperThan(payload)) {
      // Re-encoding it for every subscriber would overflow the stack; nobody gets it.
      if (channel.broadcastConfig.ack) this.reply(frame, 'error', 'payload_too_deep');
      return;
    }
    if (typeof event === 'string') {
      const raw = payload instanceof Uint8Array ? payload : undefined;
      this.context.hub.broadcast(
        channel.hubTopic,
        raw
          ? { topic: channel.topic, event, payload: {}, raw }
          : { topic: channel.topic, event, payload: payload ?? {} },
        channel,
        channel.broadcastConfig.self,
      );
    }
    if (channel.broadcastConfig.ack) this.reply(frame, 'ok', {});
  }

  private presence(channel: Channel, frame: Frame, bytes: number): void {
    const { event, payload } = frame.payload as { event?: unknown; payload?: unknown };
    const hub = this.context.hub;
    const limits = this.context.limits;
    if (!this.channelPresenceRate.get(channel)!.take())
      return this.shutdown(channel, 'Client presence rate limit exceeded');
    if (event === 'track') {
      // A private channel may track only with the insert policy's consent; the platform answers `error`.
      if (!channel.policies.presence.write) return this.reply(frame, 'error', {});
      if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
        return this.reply(frame, 'error', { reason: 'Presence track payload must be a map' });
      }
      if (bytes > maxPayloadBytes(limits)) return this.shutdown(channel, 'Track message size exceeded');
      const problem = presenceMetaProblem(payload as Record<string, unknown>, limits.maxPresenceKeys);
      if (problem) return this.reply(frame, 'error', { reason: problem });
      if (!this.presenceRate.take()) return this.shutdown(channel, 'Too many presence messages per second');
      if (!channel.presenceEnabled) {
        // Tracking turns presence on for the channel; it then needs the current state first.
        channel.presenceEnabled = true;
        if (channel.receivesPresence) channel.push('presence_state', hub.presence.state(channel.hubTopic));
      }
      const diff = hub.presence.track(
        channel.hubTopic,
        channel,
        channel.presenceKey,
        payload as Record<string, unknown>,
      );
      this.reply(frame, 'ok', {});
      if (diff) hub.sendDiff(channel.hubTopic, diff);
      return;
    }
    if (event === 'untrack') {
      if (!this.presenceRate.take()) return this.shutdown(channel, 'Too many presence messages per second');
      const diff = hub.presence.untrack(channel.hubTopic, channel);
      this.reply(frame, 'ok', {});
      if (diff) hub.sendDiff(channel.hubTopic, diff);
      return;
    }
    this.reply(frame, 'error', { reason: `unknown presence event ${String(event)}` });
  }

  private removeChannel(channel: Channel): void {
    if (this.channels.get(channel.topic) === channel) this.channels.delete(channel.topic);
    channel.dispose();
    try {
      this.context.dispatcher.unsubscribe(channel);
    } finally {
      this.context.hub.remove(channel);
    }
  }

  /** Every channel (and its presence) goes with the socket, once. */
  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.resumeTimer);
    for (const channel of [...this.channels.values()]) {
      try {
        this.removeChannel(channel);
      } catch (error) {
        this.context.log(`[realtime] removing ${channel.topic} failed: ${String(error)}`);
      }
    }
  }
}
