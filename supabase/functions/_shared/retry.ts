/**
 * @module Retrying a database transaction that PostgreSQL cancelled for a reason of its own.
 *
 * A serialization failure (40001) or a deadlock victim (40P01) rolled the whole transaction back,
 * and a lost connection (the database restarting, 57P01/57P03, a closed socket) either did so or
 * committed it just before: either way running the same transaction again is safe for `sync`,
 * because every item carries a change_id and a replayed item answers from its receipt. So the work
 * is run again a bounded number of times, with a short jittered pause; when the attempts run out the
 * request is answered 503 with Retry-After (serviceUnavailable), never a 500. Which errors those are
 * is decided in errors.ts (classifyDatabaseError).
 */
import { answerFor, classifyDatabaseError, retryAfterSeconds } from './errors.ts';

export const retryPolicy = {
  /** Attempts in all, the first included. */
  attempts: 5,
  /** Pause before the second attempt; doubled for each later one, plus up to as much again at random. */
  firstPauseMs: 25,
  /** What the 503 tells the client to wait, in seconds. */
  retryAfterSeconds: retryAfterSeconds.cancelled,
} as const;

/**
 * A transaction the database cancelled of its own accord (errors.ts, `cancelled`). A timeout is not
 * run again here: the database is loaded, and the client is told to come back (503, Retry-After).
 */
export function isTransient(error: unknown): boolean {
  return classifyDatabaseError(error) === 'cancelled';
}

export interface RetryOptions {
  attempts?: number;
  firstPauseMs?: number;
  sleep?: (ms: number) => Promise<void>;
  onRetry?: (attempt: number, error: unknown) => void;
}

export async function withRetries<T>(work: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? retryPolicy.attempts;
  const firstPauseMs = options.firstPauseMs ?? retryPolicy.firstPauseMs;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (!isTransient(error)) throw error;
      if (attempt >= attempts) throw answerFor(error)!;
      options.onRetry?.(attempt, error);
      const pause = firstPauseMs * 2 ** (attempt - 1);
      await sleep(pause + Math.random() * pause);
    }
  }
}
