/**
 * One joined channel of one socket: its topic, join_ref, claims and bindings. It is the unit the
 * dispatcher (postgres changes) and the hub (broadcast, presence) deliver to, and it owns the token
 * expiry watchdog (supabase/realtime `realtime_channel.ex` `confirm_token`): at join and after every accepted token, a re-check at
 * `min(5 min, exp − now)`; an expired token ends the channel with a `system` error and `phx_close`.
 */
import type { Claims } from '../../identity/jwt.ts';
import type { Policies } from './authorization.ts';
import type { Binding, Subscriber } from '../changes/dispatcher.ts';
import { type EncodedOnce, type HubMember, hubTopic } from '../broadcast/hub.ts';
import type { JoinPlan } from './join.ts';
type Plan = JoinPlan;
import type { PresenceDiff } from '../broadcast/presence.ts';
import { msUntilExpiry } from './tokens.ts';
import type { Frame, Serializer, UserBroadcast } from '../transport/wire.ts';

export interface ChannelSocket {
  readonly serializer: Serializer;
  sendText(text: string): void;
  sendFrame(frame: Frame): void;
  sendBinary(data: Buffer): void;
}

const RECHECK_MAX_MS = 5 * 60 * 1000;

export class Channel implements Subscriber, HubMember {
  readonly topic: string;
  readonly name: string;
  readonly joinRef: string | null;
  readonly hubTopic: string;
  readonly isPrivate: boolean;
  readonly broadcastConfig: { ack: boolean; self: boolean };
  readonly presenceKey: string;
  presenceEnabled: boolean;
  token: string;
  claims: Claims;
  bindings: Binding[];
  /** What the subscriber may do here; re-decided on every new token of a private channel. */
  policies: Policies;
  /** Ids pushed by Broadcast Replay at join: the same messages arriving live are not sent again. */
  private readonly replayedIds: Set<string>;
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: ChannelSocket,
    topic: string,
    joinRef: string | null,
    plan: JoinPlan,
    private readonly onExpired: (channel: Channel, message: string) => void,
  ) {
    this.topic = topic;
    this.name = plan.name;
    this.joinRef = joinRef;
    this.isPrivate = plan.isPrivate;
    this.hubTopic = hubTopic(plan.name, plan.isPrivate);
    this.broadcastConfig = plan.broadcast;
    this.presenceKey = plan.presence.key === '' ? crypto.randomUUID() : plan.presence.key;
    this.presenceEnabled = plan.presence.enabled;
    this.token = plan.token;
    this.claims = plan.claims;
    this.bindings = plan.bindings;
    this.policies = plan.policies;
    this.replayedIds = new Set(plan.replayed.map((message) => message.id));
    this.watchExpiry();
  }

  /** A channel push: `[join_ref, null, topic, event, payload]`. */
  push(event: string, payload: Record<string, unknown>): void {
    this.socket.sendFrame({ joinRef: this.joinRef, ref: null, topic: this.topic, event, payload });
  }

  system(extension: string, status: 'ok' | 'error', message: string): void {
    this.push('system', { extension, status, message, channel: this.name });
  }

  /** phx_close / phx_error carry ref = join_ref, or the client ignores them. */
  end(event: 'phx_close' | 'phx_error'): void {
    this.socket.sendFrame({ joinRef: this.joinRef, ref: this.joinRef, topic: this.topic, event, payload: {} });
  }

  deliver(ids: number[], data: string): void {
    const topic = JSON.stringify(this.topic);
    const payload = `{"ids":${JSON.stringify(ids)},"data":${data}}`;
    this.socket.sendText(
      this.socket.serializer.vsn === '2.0.0'
        ? `[null,null,${topic},"postgres_changes",${payload}]`
        : `{"topic":${topic},"event":"postgres_changes","payload":${payload},"ref":null}`,
    );
  }

  get receivesBroadcast(): boolean {
    return this.policies.broadcast.read;
  }

  get receivesPresence(): boolean {
    return this.policies.presence.read;
  }

  /** Broadcast Replay's messages, after the join reply: JSON broadcasts with `meta.replayed`. */
  sendReplayed(messages: Plan['replayed']): void {
    for (const message of messages) {
      const meta = { replayed: true, id: message.id };
      if (message.binary) {
        if (this.socket.serializer.vsn === '2.0.0')
          this.sendEncoded({ topic: this.topic, event: message.event, payload: {}, raw: message.binary, meta });
      } else {
        this.push('broadcast', { type: 'broadcast', event: message.event, payload: message.payload, meta });
      }
    }
  }

  sendBroadcast(message: UserBroadcast, once?: EncodedOnce): void {
    const id = message.meta?.id;
    if (typeof id === 'string' && this.replayedIds.has(id)) return;
    this.sendEncoded(message, once);
  }

  private sendEncoded(message: UserBroadcast, once?: EncodedOnce): void {
    const key = `${this.socket.serializer.vsn} ${this.topic}`;
    let encoded = once?.get(key);
    if (encoded === undefined) {
      encoded = this.socket.serializer.encodeBroadcast({ ...message, topic: this.topic });
      once?.set(key, encoded);
    }
    if (typeof encoded === 'string') this.socket.sendText(encoded);
    else this.socket.sendBinary(encoded);
  }

  sendPresenceDiff(diff: PresenceDiff): void {
    this.socket.sendFrame({
      joinRef: null,
      ref: null,
      topic: this.topic,
      event: 'presence_diff',
      payload: { ...diff },
    });
  }

  /** Replaces the claims (and a private channel's policies) after an accepted `access_token`. */
  refresh(token: string, claims: Claims, policies: Policies = this.policies): void {
    this.token = token;
    this.claims = claims;
    this.policies = policies;
    this.watchExpiry();
  }

  private watchExpiry(): void {
    clearTimeout(this.expiryTimer);
    const remaining = msUntilExpiry(this.claims);
    if (remaining === undefined) return;
    this.expiryTimer = setTimeout(
      () => {
        const left = msUntilExpiry(this.claims) ?? 1;
        if (left > 0) return this.watchExpiry();
        this.onExpired(this, `Token has expired ${Math.floor(-left / 1000)} seconds ago`);
      },
      Math.max(0, Math.min(RECHECK_MAX_MS, remaining)) + 5,
    );
  }

  dispose(): void {
    clearTimeout(this.expiryTimer);
  }
}
