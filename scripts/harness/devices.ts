/**
 * The devices: real supabase-js clients on the `ws` transport. Device A writes, device B (same user)
 * must receive every change, device C (another user) must receive none.
 *
 * Local mode creates users in auth.users and mints their tokens with the local JWT secret; remote
 * mode signs them up and in through Auth. Every socket a device opens is remembered, so a fault
 * can cut it the way a network drop would (terminate, no close handshake).
 */
import { createClient, type RealtimeChannel, type SupabaseClient } from '@supabase/supabase-js';
import postgres from 'postgres';
import WebSocket from 'ws';
import { createLocalUser } from '../stack/auth/users.ts';
import type { HarnessOptions } from './options.ts';

export interface HarnessUser {
  id: string;
  email: string;
  token: string;
}

export interface Device {
  name: string;
  user: HarnessUser;
  supabase: SupabaseClient;
  /** Sockets opened by this device's realtime client, newest last. */
  sockets: WebSocket[];
  close(): Promise<void>;
}

/** A ws transport that remembers its sockets, so a fault can drop them. */
function trackingTransport(sockets: WebSocket[]) {
  return class TrackedWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols);
      sockets.push(this);
    }
  };
}

export async function createUsers(options: HarnessOptions, labels: string[]): Promise<HarnessUser[]> {
  const run = crypto.randomUUID().slice(0, 8);
  if (options.mode === 'local') {
    const sql = postgres(options.dbUrl!, { max: 1, onnotice: () => undefined });
    try {
      const users: HarnessUser[] = [];
      for (const label of labels) users.push(await createLocalUser(sql, `harness-${label}-${run}@virgil.test`, { expiresIn: 6 * 3600 }));
      return users;
    } finally {
      await sql.end();
    }
  }
  const users: HarnessUser[] = [];
  for (const label of labels) {
    const auth = createClient(options.url, options.anonKey, { auth: { persistSession: false, autoRefreshToken: false } });
    const email = `harness-${label}-${run}@virgil.test`;
    const password = `${crypto.randomUUID()}Aa1!`;
    const signedUp = await auth.auth.signUp({ email, password });
    if (signedUp.error) throw new Error(`signing up ${email} failed: ${signedUp.error.message}`);
    const signedIn = signedUp.data.session ? signedUp : await auth.auth.signInWithPassword({ email, password });
    if (signedIn.error || !signedIn.data.session) {
      throw new Error(`signing in ${email} failed: ${signedIn.error?.message ?? 'no session (is email confirmation on?)'}`);
    }
    users.push({ id: signedIn.data.session.user.id, email, token: signedIn.data.session.access_token });
  }
  return users;
}

export async function openDevice(options: HarnessOptions, name: string, user: HarnessUser): Promise<Device> {
  const sockets: WebSocket[] = [];
  const supabase = createClient(options.url, options.anonKey, {
    accessToken: async () => user.token,
    realtime: {
      transport: trackingTransport(sockets) as never,
      // Reconnect with exponential backoff: 100 ms doubling to 5 s.
      reconnectAfterMs: (tries: number) => Math.min(100 * 2 ** Math.max(0, tries - 1), 5000),
      logger: () => undefined,
    },
  });
  // Read the token before any channel joins, or the first join goes out as the API key (anon).
  await supabase.realtime.setAuth();
  return {
    name,
    user,
    supabase,
    sockets,
    close: async () => {
      await supabase.removeAllChannels();
      supabase.realtime.disconnect();
    },
  };
}

export interface Receipt {
  at: number;
  table: string;
  type: string;
  record: Record<string, unknown>;
  old: Record<string, unknown>;
  commitTimestamp: string;
}

/** Subscribes a device to every change of the three tables, optionally filtered; returns its channel. */
export function watchTables(
  device: Device,
  topic: string,
  filter: string | undefined,
  onReceipt: (receipt: Receipt) => void,
  onStatus: (status: string) => void = () => undefined,
): Promise<RealtimeChannel> {
  let channel = device.supabase.channel(topic);
  for (const table of ['conversations', 'messages', 'memories']) {
    channel = channel.on('postgres_changes', { event: '*', schema: 'public', table, ...(filter ? { filter } : {}) }, (payload) =>
      onReceipt({
        at: performance.now(),
        table: payload.table,
        type: payload.eventType,
        record: payload.new as Record<string, unknown>,
        old: payload.old as Record<string, unknown>,
        commitTimestamp: payload.commit_timestamp,
      }),
    );
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => !settled && reject(new Error(`${device.name}: ${topic} not subscribed within 15 s`)), 15_000);
    channel.subscribe((status) => {
      onStatus(status);
      if (status === 'SUBSCRIBED' && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve(channel);
      }
    });
  });
}
