/**
 * A device that pushes as a real one must: it sends a batch, and until it gets an answer (a 200)
 * sends the very same batch again, same change_ids, after the pause the server asked for
 * (Retry-After) or a short one. Every answer that is not a 200 is kept, so callers can check that a
 * fault was answered 503 with Retry-After, never 500, and that no 4xx was ever given to a good batch.
 */
import type { PushResult, SyncItem } from '../supabase/functions/_shared/sync-protocol.ts';
import { request } from 'node:http';
import { sleep } from '../stack/lib/sleep.ts';

export interface FailedAttempt {
  /** HTTP status, or 0 when no answer came (connection refused or reset, or the device hung up). */
  status: number;
  retryAfter: string | null;
  body: string;
}

export interface Pushed {
  results: PushResult[];
  attempts: number;
  failures: FailedAttempt[];
}

export interface PushOptions {
  functionsUrl: string;
  token: string;
  /** Give up (throw) after this long without an answer. */
  deadlineMs?: number;
  /** Hang up the first `hangUps` attempts right after sending them (the `disconnect` fault). */
  hangUps?: number;
}

export async function pushUntilAnswered(items: SyncItem[], options: PushOptions): Promise<Pushed> {
  const deadline = Date.now() + (options.deadlineMs ?? 60_000);
  const failures: FailedAttempt[] = [];
  const body = JSON.stringify({ push: items });
  for (let attempt = 1; ; attempt += 1) {
    if (attempt <= (options.hangUps ?? 0)) {
      await sendAndHangUp(`${options.functionsUrl}/sync`, options.token, body);
      failures.push({ status: 0, retryAfter: null, body: 'hung up' });
      await sleep(100 + Math.random() * 200);
      continue;
    }
    try {
      const response = await fetch(`${options.functionsUrl}/sync`, {
        method: 'POST',
        headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' },
        body,
      });
      const text = await response.text();
      if (response.status === 200) {
        return {
          results: (JSON.parse(text) as { push: { results: PushResult[] } }).push.results,
          attempts: attempt,
          failures,
        };
      }
      failures.push({
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        body: text.slice(0, 300),
      });
      if (response.status < 500) throw new Error(`sync refused a good batch: ${response.status} ${text.slice(0, 300)}`);
      await sleep(
        Math.min(Number(response.headers.get('retry-after') ?? '0.2') * 1000, 1000) * (0.5 + Math.random() / 2),
      );
    } catch (error) {
      if ((error as Error).message.startsWith('sync refused')) throw error;
      failures.push({ status: 0, retryAfter: null, body: String((error as Error).message) });
      await sleep(100 + Math.random() * 200);
    }
    if (Date.now() > deadline)
      throw new Error(`no answer within the deadline after ${attempt} attempts: ${JSON.stringify(failures.slice(-3))}`);
  }
}

/**
 * Sends the whole request, then closes the connection before any answer can arrive: the server has
 * the batch, the device never learns what became of it. Resolves once the socket is closed.
 */
function sendAndHangUp(url: string, token: string, body: string): Promise<void> {
  return new Promise((resolve) => {
    const req = request(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      },
    });
    req.on('response', (response) => response.resume());
    req.on('error', () => undefined);
    req.on('close', () => resolve());
    req.on('finish', () => req.destroy());
    req.end(body);
  });
}
