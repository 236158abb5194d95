/**
 * Shared pieces of the realtime integration tests: the stack's variables (set by `npm test`'s
 * vitest stage), local users with minted tokens, real supabase-js clients on the `ws` transport,
 * writes made as a user in SQL, and an event collector with deadlines.
 */
import { createClient, type RealtimeChannel, type SupabaseClient } from '@supabase/supabase-js';
import postgres, { type Sql } from 'postgres';
import WebSocket from 'ws';
import { createLocalUser, deleteLocalUsers, type LocalUser } from './users.ts';

function required(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(`${name} is not set: run the realtime tests through \`npm test\`, or export the stack variables`);
  return value;
}

export const env = {
  apiUrl: () => required('API_URL'),
  anonKey: () => required('ANON_KEY'),
  dbUrl: () => required('DB_URL'),
  jwtSecret: () => required('JWT_SECRET'),
};

export const randomTopic = (prefix = 'test') => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

export function adminSql(): Sql {
  return postgres(env.dbUrl(), { max: 4, onnotice: () => undefined });
}

export async function newUser(sql: Sql, label: string, tokenOptions: { expiresIn?: number } = {}): Promise<LocalUser> {
  return createLocalUser(sql, `${label}-${crypto.randomUUID().slice(0, 8)}@realtime.test`, tokenOptions);
}

export const removeUsers = (sql: Sql, users: LocalUser[]) =>
  deleteLocalUsers(
    sql,
    users.map((user) => user.id),
  );

export interface TestClient {
  supabase: SupabaseClient;
  /** Every socket the client opened, newest last (for dropping one as a network fault would). */
  sockets: WebSocket[];
  /** The token the client's accessToken callback returns; change it and call `refresh()`. */
  token: { value: string | null };
  refresh(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real supabase-js client whose session token is `token` (or the anon key when null), remembering
 * its sockets so a test can drop one, with an optional fetch in front of HTTP.
 *
 * It waits for realtime-js to have read the token before returning: supabase-js resolves the
 * `accessToken` callback asynchronously, and a channel subscribed before that joins WITHOUT an
 * access_token (so as the apikey's role, anon) and the client never pushes the token afterwards,
 * because by the time the join is acknowledged the cached value no longer changes.
 */
export async function realClient(
  token: string | null,
  options: { vsn?: '1.0.0' | '2.0.0'; fetch?: typeof fetch } = {},
): Promise<TestClient> {
  const holder = { value: token };
  const sockets: WebSocket[] = [];
  class TrackedWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols);
      sockets.push(this);
    }
  }
  const supabase = createClient(env.apiUrl(), env.anonKey(), {
    accessToken: async () => holder.value ?? env.anonKey(),
    realtime: {
      transport: TrackedWebSocket as never,
      reconnectAfterMs: () => 200,
      ...(options.vsn === '1.0.0' ? { vsn: '1.0.0' } : {}),
      logger: () => undefined,
    },
    ...(options.fetch ? { global: { fetch: options.fetch } } : {}),
  });
  await supabase.realtime.setAuth();
  return {
    supabase,
    sockets,
    token: holder,
    refresh: () => supabase.realtime.setAuth(),
    close: async () => {
      await supabase.removeAllChannels();
      supabase.realtime.disconnect();
    },
  };
}

export interface Status {
  status: string;
  error?: Error;
}

/** Subscribes and resolves on SUBSCRIBED; rejects on the first error status or at the deadline. */
export function subscribed(channel: RealtimeChannel, deadlineMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${channel.topic} not SUBSCRIBED within ${deadlineMs} ms`)),
      deadlineMs,
    );
    channel.subscribe((status, error) => {
      if (status === 'SUBSCRIBED') {
        clearTimeout(timer);
        resolve();
      } else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT' || status === 'CLOSED') {
        clearTimeout(timer);
        reject(new Error(`${channel.topic}: ${status}${error ? ` (${error.message})` : ''}`));
      }
    });
  });
}

/** Records every value pushed to it and waits for one that matches, with a deadline. */
export class Collector<T> {
  readonly items: T[] = [];
  private waiters: { predicate: (item: T) => boolean; resolve: (item: T) => void }[] = [];

  push = (item: T): void => {
    this.items.push(item);
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.predicate(item)) return true;
      waiter.resolve(item);
      return false;
    });
  };

  waitFor(predicate: (item: T) => boolean, deadlineMs = 5000, what = 'an expected event'): Promise<T> {
    const found = this.items.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter.resolve !== done);
        reject(new Error(`no ${what} within ${deadlineMs} ms; got ${JSON.stringify(this.items).slice(0, 500)}`));
      }, deadlineMs);
      const done = (item: T) => {
        clearTimeout(timer);
        resolve(item);
      };
      this.waiters.push({ predicate, resolve: done });
    });
  }
}

export { sleep } from '../stack/lib/sleep.ts';

/** Runs `work` in a transaction as role authenticated with the user's claims, as PostgREST would. */
export function asUser<T>(sql: Sql, user: LocalUser, work: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> {
  return sql.begin(async (tx) => {
    const claims = JSON.stringify({ sub: user.id, role: 'authenticated', aud: 'authenticated', email: user.email });
    await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${claims}, true)`;
    return work(tx);
  }) as Promise<T>;
}

/**
 * A marker write: after every event of interest, the test writes one more row that the listener
 * must see; once it arrives, everything committed before it has been delivered (commit order), so
 * "nothing else arrived" can be asserted without sleeping.
 */
export async function insertConversation(sql: Sql, user: LocalUser, title: string): Promise<string> {
  const [row] = await asUser(
    sql,
    user,
    (tx) => tx<{ id: string }[]>`insert into public.conversations (title) values (${title}) returning id`,
  );
  return row!.id;
}
