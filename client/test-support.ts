/**
 * What the client's integration tests share: devices (a real supabase-js client on the stack,
 * carrying a user's token, plus a SyncClient over it), and waiting for a condition with a deadline.
 * The stack's variables come from `npm test`'s vitest stage (or `npm run stack:status -- --env`).
 */
import type { LocalUser } from '../test-support/users.ts';
import { realClient, type TestClient } from '../test-support/realtime.ts';
import type { ClientStorage } from './storage.ts';
import { SyncClient, type SyncClientOptions } from './sync-client.ts';
import type { ConnectionState } from './types.ts';

export interface TestDevice {
  client: SyncClient;
  raw: TestClient;
  /** Every connection state the client went through, in order. */
  states: ConnectionState[];
  close(): Promise<void>;
}

/** Opens a device of `user` (not started). Backoff is fast unless the test says otherwise. */
export async function openDevice(
  user: LocalUser,
  options: Partial<SyncClientOptions> & { storage?: ClientStorage; token?: string; fetch?: typeof fetch } = {},
): Promise<TestDevice> {
  const { token, fetch: fetchImpl, ...clientOptions } = options;
  const raw = await realClient(token ?? user.token, fetchImpl ? { fetch: fetchImpl } : {});
  const client = new SyncClient({
    supabase: raw.supabase,
    userId: user.id,
    backoff: { baseMs: 100, maxMs: 2000, jitter: 0 },
    followNetwork: false,
    ...clientOptions,
  });
  const states: ConnectionState[] = [client.state.get()];
  client.state.subscribe((state) => states.push(state));
  return {
    client,
    raw,
    states,
    close: async () => {
      await client.stop();
      await raw.close();
    },
  };
}

/** Polls `check` every 20 ms until it returns true; fails with `what` at the deadline. */
export async function eventually(check: () => boolean, what: string, deadlineMs = 10_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`not within ${deadlineMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves when the client reaches `state`. */
export function reaches(client: SyncClient, state: ConnectionState, deadlineMs = 10_000): Promise<void> {
  return eventually(() => client.state.get() === state, `state ${state} (now ${client.state.get()})`, deadlineMs);
}
