/**
 * Presence per topic (realtime-protocol.md §9): who is tracked under which key, with one meta per
 * tracking channel. Each tracked meta carries a `phx_ref` that stays the same until the channel
 * tracks a different payload (then the new meta has `phx_ref_prev`) or leaves. The registry only
 * computes state and diffs; the hub sends them to every channel of the topic, tracker included.
 */
import { randomBytes } from 'node:crypto';

export type Metas = Record<string, { metas: Record<string, unknown>[] }>;
export interface PresenceDiff {
  joins: Metas;
  leaves: Metas;
}

interface Entry {
  key: string;
  meta: Record<string, unknown>;
  payload: string;
}

const newRef = () => randomBytes(12).toString('base64url');

export class PresenceRegistry<Member extends object> {
  /** topic → member → its tracked entry. */
  private readonly topics = new Map<string, Map<Member, Entry>>();

  state(topic: string): Metas {
    const state: Metas = {};
    for (const entry of this.topics.get(topic)?.values() ?? []) (state[entry.key] ??= { metas: [] }).metas.push(entry.meta);
    return state;
  }

  /** Tracks (or re-tracks) a member; undefined when nothing changed. */
  track(topic: string, member: Member, key: string, payload: Record<string, unknown>): PresenceDiff | undefined {
    let members = this.topics.get(topic);
    if (!members) this.topics.set(topic, (members = new Map()));
    const text = JSON.stringify(payload);
    const previous = members.get(member);
    if (previous && previous.key === key && previous.payload === text) return undefined;
    const meta: Record<string, unknown> = { ...payload, phx_ref: newRef() };
    if (previous) meta.phx_ref_prev = previous.meta.phx_ref;
    members.set(member, { key, meta, payload: text });
    return {
      joins: { [key]: { metas: [meta] } },
      leaves: previous ? { [previous.key]: { metas: [previous.meta] } } : {},
    };
  }

  /** Removes a member; undefined when it was not tracked. */
  untrack(topic: string, member: Member): PresenceDiff | undefined {
    const members = this.topics.get(topic);
    const previous = members?.get(member);
    if (!members || !previous) return undefined;
    members.delete(member);
    if (members.size === 0) this.topics.delete(topic);
    return { joins: {}, leaves: { [previous.key]: { metas: [previous.meta] } } };
  }
}
