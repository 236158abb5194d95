/**
 * Presence per topic (supabase/realtime `presence_handler.ex`): who is tracked under which key, with one meta per
 * tracking channel. Each tracked meta carries a `phx_ref` that stays the same until the channel
 * tracks a different payload (then the new meta has `phx_ref_prev`) or leaves. The registry only
 * computes state and diffs; the hub sends them to every channel of the topic, tracker included.
 */
import { randomBytes } from 'node:crypto';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../limits.ts';

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

const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** Names that reach Object.prototype when used as a key of a plain object, here or in a client. */
export const isPrototypeKey = (key: string) => PROTOTYPE_KEYS.has(key) || key in Object.prototype;

/**
 * Why a track payload is refused, or undefined when it is fine: more than `maxKeys` keys at its top
 * level (the platform's limit of presence keys per object), or a prototype key at any depth.
 * The walk is iterative, so no nesting depth can overflow the stack.
 */
export function presenceMetaProblem(meta: Record<string, unknown>, maxKeys: number): string | undefined {
  if (Object.keys(meta).length > maxKeys) return `Presence track payload may have at most ${maxKeys} keys`;
  if (nestsDeeperThan(meta)) return `Presence track payload nests deeper than ${MAX_JSON_DEPTH} levels`;
  const pending: unknown[] = [meta];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value !== 'object' || value === null) continue;
    for (const [key, child] of Object.entries(value)) {
      if (!Array.isArray(value) && isPrototypeKey(key)) return `Presence track payload may not use the key ${key}`;
      pending.push(child);
    }
  }
  return undefined;
}

export class PresenceRegistry<Member extends object> {
  /** topic → member → its tracked entry. */
  private readonly topics = new Map<string, Map<Member, Entry>>();

  state(topic: string): Metas {
    // Null prototype: a key named like an Object.prototype property stays an ordinary key.
    const state: Metas = Object.create(null) as Metas;
    for (const entry of this.topics.get(topic)?.values() ?? [])
      (state[entry.key] ??= { metas: [] }).metas.push(entry.meta);
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
