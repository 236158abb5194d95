/**
 * The realtime server's quotas (docs/realtime-limits.md), with the self-hosted Realtime server's
 * defaults: supabase/realtime config/runtime.exs (TENANT_MAX_CONCURRENT_USERS 200,
 * TENANT_MAX_EVENTS_PER_SECOND 100, TENANT_MAX_JOINS_PER_SECOND 100, TENANT_MAX_CHANNELS_PER_CLIENT 100,
 * TENANT_MAX_BYTES_PER_SECOND 100_000, CLIENT_PRESENCE_MAX_CALLS 5 per CLIENT_PRESENCE_WINDOW_MS 30_000)
 * and lib/realtime/api/tenant.ex (max_presence_events_per_second 1000, max_payload_size_in_kb 3000).
 * The send-buffer bound and the presence key limit are the stack's own (the platform's documented
 * 10 presence keys per object).
 *
 * Each value comes from the environment (VIRGIL_REALTIME_<NAME>), else `[realtime.limits]` <name> in
 * supabase/config.toml, else the default. `RateWindow` is the counter every per-second quota uses.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configInvalid } from '../lib/errors.ts';

export interface RealtimeLimits {
  /** Open sockets on the whole server. */
  maxConcurrentUsers: number;
  /** Broadcasts a socket may send per second. */
  maxEventsPerSecond: number;
  /** phx_join a socket may send per second. */
  maxJoinsPerSecond: number;
  /** Channels joined (or being joined) on one socket. */
  maxChannelsPerClient: number;
  /** Bytes of broadcast a socket may send per second. */
  maxBytesPerSecond: number;
  /** Presence track/untrack a socket may send per second. */
  maxPresenceEventsPerSecond: number;
  /** Presence track/untrack one channel may send per window. */
  clientPresenceMaxCalls: number;
  clientPresenceWindowMs: number;
  /** One broadcast or presence payload, in KB of 1000 bytes (the platform adds 500 bytes of slack). */
  maxPayloadSizeInKb: number;
  /** Keys of a presence meta object. */
  maxPresenceKeys: number;
  /** Unsent bytes (ws bufferedAmount) past which a socket is disconnected. */
  maxBufferedBytes: number;
}

export const DEFAULT_LIMITS: Readonly<RealtimeLimits> = Object.freeze({
  maxConcurrentUsers: 200,
  maxEventsPerSecond: 100,
  maxJoinsPerSecond: 100,
  maxChannelsPerClient: 100,
  maxBytesPerSecond: 100_000,
  maxPresenceEventsPerSecond: 1000,
  clientPresenceMaxCalls: 5,
  clientPresenceWindowMs: 30_000,
  maxPayloadSizeInKb: 3000,
  maxPresenceKeys: 10,
  maxBufferedBytes: 1024 * 1024,
});

/** `maxConcurrentUsers` → `max_concurrent_users` (config.toml) and `VIRGIL_REALTIME_MAX_CONCURRENT_USERS`. */
export const snakeName = (name: string) => name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
export const envName = (name: string) => `VIRGIL_REALTIME_${snakeName(name).toUpperCase()}`;

export function resolveLimits(env: NodeJS.ProcessEnv, fromToml: Record<string, unknown> = {}): RealtimeLimits {
  const limits = { ...DEFAULT_LIMITS };
  for (const name of Object.keys(DEFAULT_LIMITS) as (keyof RealtimeLimits)[]) {
    const fromEnv = env[envName(name)];
    const raw: unknown = fromEnv !== undefined && fromEnv !== '' ? fromEnv : fromToml[snakeName(name)];
    if (raw === undefined) continue;
    const value =
      typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < 1) {
      throw configInvalid(
        `${envName(name)} / [realtime.limits] ${snakeName(name)} must be a positive integer, got ${JSON.stringify(raw)}`,
      );
    }
    limits[name] = value;
  }
  return limits;
}

/** The largest payload in bytes, as the platform measures it (KB × 1000 + 500). */
export const maxPayloadBytes = (limits: RealtimeLimits) => limits.maxPayloadSizeInKb * 1000 + 500;

export { RateWindow } from '../lib/rate-window.ts';

/** Deepest nesting a relayed JSON payload may have: re-encoding it is recursive. */
export const MAX_JSON_DEPTH = 1000;

/** Whether a parsed JSON value nests deeper than `max`, found without recursion. */
export function nestsDeeperThan(value: unknown, max = MAX_JSON_DEPTH): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop()!;
    if (typeof item !== 'object' || item === null) continue;
    if (depth >= max) return true;
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return false;
}

export const describeLimits = (limits: RealtimeLimits) =>
  (Object.keys(DEFAULT_LIMITS) as (keyof RealtimeLimits)[])
    .map((name) => `${snakeName(name)}=${limits[name]}`)
    .join(' ');

const limitsFile = (stackDir: string) => join(stackDir, 'realtime-limits.json');

/** Records the quotas the running server enforces, for tools that must know them (bench/harness). */
export function publishLimits(stackDir: string, limits: RealtimeLimits): void {
  mkdirSync(stackDir, { recursive: true });
  writeFileSync(limitsFile(stackDir), `${JSON.stringify(limits, null, 2)}\n`);
}

/** The quotas the server last started with, or undefined when none has run in this stack folder. */
export function publishedLimits(stackDir: string): RealtimeLimits | undefined {
  try {
    return {
      ...DEFAULT_LIMITS,
      ...(JSON.parse(readFileSync(limitsFile(stackDir), 'utf8')) as Partial<RealtimeLimits>),
    };
  } catch {
    return undefined;
  }
}
