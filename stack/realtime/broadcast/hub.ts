/**
 * The channels of every socket, by topic, for what crosses sockets: user broadcasts and presence.
 * Public and private channels of the same name are different topics (`public:x`, `private:x`).
 * Delivery is a fan-out by topic: a private channel's rights were decided at join (and on each new
 * token), so no message costs a database query, however many subscribers there are.
 */
import { PresenceRegistry, type PresenceDiff } from './presence.ts';
import type { UserBroadcast } from '../transport/wire.ts';

export interface HubMember {
  readonly hubTopic: string;
  /** False on a private channel whose subscriber may not read broadcasts (presence only). */
  readonly receivesBroadcast: boolean;
  readonly receivesPresence: boolean;
  /** Sends a user broadcast in the member's wire format, reusing an encoding from `encoded`. */
  sendBroadcast(message: UserBroadcast, encoded?: EncodedOnce): void;
  sendPresenceDiff(diff: PresenceDiff): void;
}

/** One message's encodings by wire format and topic: a fan-out encodes each once, not per member. */
export type EncodedOnce = Map<string, string | Buffer>;

export const hubTopic = (name: string, isPrivate: boolean) => `${isPrivate ? 'private' : 'public'}:${name}`;

export class Hub {
  private readonly topics = new Map<string, Set<HubMember>>();
  readonly presence = new PresenceRegistry<HubMember>();

  constructor(private readonly onMemberError: (member: HubMember, error: unknown) => void = () => undefined) {}

  add(member: HubMember): void {
    let members = this.topics.get(member.hubTopic);
    if (!members) this.topics.set(member.hubTopic, (members = new Set()));
    members.add(member);
  }

  /** Removes a member and its presence; the others get the `leaves` diff. */
  remove(member: HubMember): void {
    const members = this.topics.get(member.hubTopic);
    members?.delete(member);
    if (members?.size === 0) this.topics.delete(member.hubTopic);
    const diff = this.presence.untrack(member.hubTopic, member);
    if (diff) this.sendDiff(member.hubTopic, diff);
  }

  /** Relays a broadcast to the topic's members; the sender too only when `includeSender`. */
  broadcast(topic: string, message: UserBroadcast, sender?: HubMember, includeSender = false): number {
    let sent = 0;
    const encoded: EncodedOnce = new Map();
    for (const member of this.topics.get(topic) ?? []) {
      if ((member === sender && !includeSender) || !member.receivesBroadcast) continue;
      // One member that cannot take the message (e.g. a socket past its send-buffer bound) never
      // stops the fan-out to the others.
      try {
        member.sendBroadcast(message, encoded);
        sent++;
      } catch (error) {
        this.onMemberError(member, error);
      }
    }
    return sent;
  }

  sendDiff(topic: string, diff: PresenceDiff): void {
    for (const member of this.topics.get(topic) ?? []) {
      if (!member.receivesPresence) continue;
      try {
        member.sendPresenceDiff(diff);
      } catch (error) {
        this.onMemberError(member, error);
      }
    }
  }

  get sockets(): number {
    let count = 0;
    for (const members of this.topics.values()) count += members.size;
    return count;
  }
}
