/**
 * The reconnect schedule of the design document: 5 s, 10 s, 20 s … doubling from a base, capped,
 * with jitter so that many devices dropped at once do not all come back at the same instant.
 */
export interface BackoffOptions {
  /** First delay (ms). The design document's 5 s by default; tests make it small. */
  baseMs: number;
  /** Largest delay (ms). */
  maxMs: number;
  /** Spread as a fraction of the delay: 0.2 means anywhere in [0.8 d, 1.2 d]. */
  jitter: number;
}

export const defaultBackoff: BackoffOptions = { baseMs: 5000, maxMs: 60_000, jitter: 0.2 };

/** The delay before retry number `attempt` (1 for the first retry). `random` is in [0, 1). */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = defaultBackoff,
  random: () => number = Math.random,
): number {
  const step = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  const spread = step * options.jitter;
  return Math.max(0, Math.round(step - spread + 2 * spread * random()));
}
