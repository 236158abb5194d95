/**
 * One client socket: decodes frames, answers heartbeats, and runs each channel event
 * (realtime-protocol.md §3–§9). Join errors are replied after `errorBackoffMs`, as the platform
 * waits before an error reply so that a retrying client does not spin.
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
import { authorizePrivate, runJoin } from '../joins/join.ts';
import { claimsFor } from '../joins/tokens.ts';
import { type Frame, type Serializer, WireError } from './wire.ts';
import { sleep } from '../../lib/sleep.ts';

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
  /** Logs every decoded frame (VIRGIL_REALTIME_DEBUG=1). */
  debug: boolean;
  log(line: string): void;
}

export class Connection implements ChannelSocket {
  readonly serializer: Serializer;
  private readonly channels = new Map<string, Channel>();
  private closed = false;
  alive = true;

  constructor(
    private readonly ws: WebSocket,
    private readonly handshake: Handshake,
    private readonly context: ConnectionContext,
  ) {
    this.serializer = handshake.serializer;
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('pong', () => (this.alive = true));
    ws.on('close', () => this.onClose());
    ws.on('error', () => undefined);
  }

  sendText(text: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(text);
  }

  sendBinary(data: Buffer): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(data, { binary: true });
  }

  sendFrame(frame: Frame): void {
    this.sendText(this.serializer.encode(frame));
  }

  /** Closes the socket (used by the service's close and by fault injection). */
  terminate(): void {
    this.ws.terminate();
  }

  private reply(frame: Frame, status: 'ok' | 'error', response: Record<string, unknown>): void {
    this.sendFrame({ joinRef: frame.joinRef, ref: frame.ref, topic: frame.topic, event: 'phx_reply', payload: { status, response } });
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    let frame: Frame;
    try {
      frame = this.serializer.decode(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data), isBinary);
    } catch (error) {
      if (error instanceof WireError) return this.context.log(`[realtime] dropped a frame: ${error.message}`);
      throw error;
    }
    if (this.context.debug) this.context.log(`[realtime] <- ${JSON.stringify(frame).slice(0, 400)}`);
    this.handle(frame).catch((error: unknown) => {
      this.context.log(`[realtime] ${frame.event} on ${frame.topic} failed: ${(error as Error).stack ?? error}`);
      const channel = this.channels.get(frame.topic);
      if (channel) {
        channel.end('phx_error');
        this.removeChannel(channel);
      }
    });
  }

  private async handle(frame: Frame): Promise<void> {
    if (frame.topic === 'phoenix') {
      if (frame.event === 'heartbeat') this.reply(frame, 'ok', {});
      return;
    }
    if (frame.event === 'phx_join') return this.join(frame);
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
        return this.broadcast(channel, frame);
      case 'presence':
        return this.presence(channel, frame);
      default:
        return; // any other event on a joined topic is ignored, without a reply
    }
  }

  private async join(frame: Frame): Promise<void> {
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
        openChannels: this.channels.size,
        catalog: this.context.catalog,
        keys: this.context.keys,
        sql: this.context.sql,
        privateOnly: this.context.privateOnly,
      });
    } catch (error) {
      if (!(error instanceof RealtimeError)) throw error;
      if (this.context.errorBackoffMs > 0) await sleep(this.context.errorBackoffMs);
      return this.reply(frame, 'error', { reason: reasonFor(error) });
    }
    if (this.closed) return;
    const channel = new Channel(this, frame.topic, frame.joinRef, plan, (expired, message) => this.shutdown(expired, message));
    this.channels.set(frame.topic, channel);
    this.reply(frame, 'ok', { postgres_changes: plan.echo });
    this.context.hub.add(channel);
    channel.sendReplayed(plan.replayed);
    if (channel.presenceEnabled && channel.receivesPresence) channel.push('presence_state', this.context.hub.presence.state(channel.hubTopic));
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
      const lost = (['broadcast', 'presence'] as const).some((extension) => channel.policies[extension].read && !policies![extension].read);
      if (lost) return this.shutdown(channel, `You no longer have permission to read from this Channel topic: ${channel.name}`);
    }
    channel.refresh(token, claims, policies);
    if (channel.bindings.length > 0) channel.system('postgres_changes', 'ok', 'Subscribed to PostgreSQL');
  }

  private broadcast(channel: Channel, frame: Frame): void {
    // On a private channel without the insert policy's consent the platform drops the message
    // silently, with no reply even when `ack` was asked (the client's send() then times out).
    if (!channel.policies.broadcast.write) return;
    const { event, payload } = frame.payload as { event?: unknown; payload?: unknown };
    if (typeof event === 'string') {
      const raw = payload instanceof Uint8Array ? payload : undefined;
      this.context.hub.broadcast(
        channel.hubTopic,
        raw ? { topic: channel.topic, event, payload: {}, raw } : { topic: channel.topic, event, payload: payload ?? {} },
        channel,
        channel.broadcastConfig.self,
      );
    }
    if (channel.broadcastConfig.ack) this.reply(frame, 'ok', {});
  }

  private presence(channel: Channel, frame: Frame): void {
    const { event, payload } = frame.payload as { event?: unknown; payload?: unknown };
    const hub = this.context.hub;
    if (event === 'track') {
      // A private channel may track only with the insert policy's consent; the platform answers `error`.
      if (!channel.policies.presence.write) return this.reply(frame, 'error', {});
      if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
        return this.reply(frame, 'error', { reason: 'Presence track payload must be a map' });
      }
      if (!channel.presenceEnabled) {
        // Tracking turns presence on for the channel; it then needs the current state first.
        channel.presenceEnabled = true;
        if (channel.receivesPresence) channel.push('presence_state', hub.presence.state(channel.hubTopic));
      }
      const diff = hub.presence.track(channel.hubTopic, channel, channel.presenceKey, payload as Record<string, unknown>);
      this.reply(frame, 'ok', {});
      if (diff) hub.sendDiff(channel.hubTopic, diff);
      return;
    }
    if (event === 'untrack') {
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
    this.context.dispatcher.unsubscribe(channel);
    this.context.hub.remove(channel);
  }

  private onClose(): void {
    this.closed = true;
    for (const channel of [...this.channels.values()]) this.removeChannel(channel);
  }
}
