/**
 * The devices: each an instance of the device client (`client/`, the SyncClient an app uses) over
 * a real supabase-js client on the `ws` transport, so what the harness measures is what an app
 * sees. Device A writes, device B (same user) must receive every change, device C (another user)
 * must receive none; C listens with raw channels (unfiltered, and with A's filter), as an attacker
 * would, not through the client.
 *
 * Local mode creates users in auth.users and mints their tokens with the local JWT secret; remote
 * mode signs them up and in through Auth. Every socket a device opens is remembered, so a fault
 * can cut it the way a network drop would (terminate, no close handshake).
 */
import { createClient, type RealtimeChannel, type SupabaseClient } from '@supabase/supabase-js';
import postgres from 'postgres';
import WebSocket from 'ws';
import { SyncClient } from '../../client/sync-client.ts';
import { createLocalUser } from '../../test-support/users.ts';
import type { HarnessOptions } from './options.ts';
import { sleep } from '../../stack/lib/sleep.ts';

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
  /** The device client (started by the first watchTables on the device's own filter). */
  client: SyncClient;
  /** Faults the harness injects into this device's HTTP: replies of sync calls to lose. */
  faults: { loseSyncReplies: number };
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
      for (const label of labels)
        users.push(await createLocalUser(sql, `harness-${label}-${run}@virgil.test`, { expiresIn: 6 * 3600 }));
      return users;
    } finally {
      await sql.end();
    }
  }
  const users: HarnessUser[] = [];
  for (const label of labels) {
    const auth = createClient(options.url, options.anonKey, {
      auth: { persistSession: false, autoRefreshToken: false },
    });
    const email = `harness-${label}-${run}@virgil.test`;
    const password = `${crypto.randomUUID()}Aa1!`;
    const signedUp = await auth.auth.signUp({ email, password });
    if (signedUp.error) throw new Error(`signing up ${email} failed: ${signedUp.error.message}`);
    const signedIn = signedUp.data.session ? signedUp : await auth.auth.signInWithPassword({ email, password });
    if (signedIn.error || !signedIn.data.session) {
      throw new Error(
        `signing in ${email} failed: ${signedIn.error?.message ?? 'no session (is email confirmation on?)'}`,
      );
    }
    users.push({ id: signedIn.data.session.user.id, email, token: signedIn.data.session.access_token });
  }
  return users;
}

export async function openDevice(options: HarnessOptions, name: string, user: HarnessUser): Promise<Device> {
  const sockets: WebSocket[] = [];
  const faults = { loseSyncReplies: 0 };
  // A reply lost on the way back: the server did the work, the device never hears of it and retries.
  const faultyFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (
      faults.loseSyncReplies > 0 &&
      String(input instanceof Request ? input.url : input).includes('/functions/v1/sync')
    ) {
      faults.loseSyncReplies--;
      await response.arrayBuffer();
      throw new TypeError('fetch failed (reply lost, injected by the harness)');
    }
    return response;
  };
  const supabase = createClient(options.url, options.anonKey, {
    accessToken: async () => user.token,
    global: { fetch: faultyFetch },
    realtime: {
      transport: trackingTransport(sockets) as never,
      // Reconnect with exponential backoff: 100 ms doubling to 5 s.
      reconnectAfterMs: (tries: number) => Math.min(100 * 2 ** Math.max(0, tries - 1), 5000),
      logger: () => undefined,
    },
  });
  // Read the token before any channel joins, or the first join goes out as the API key (anon).
  await supabase.realtime.setAuth();
  // The client's reconnect schedule: 100 ms doubling to 5 s, ±20 %.
  // A pull every 10 s keeps the cursor recent, so a catch-up re-reads little that realtime delivered.
  const client = new SyncClient({
    supabase,
    userId: user.id,
    backoff: { baseMs: 100, maxMs: 5000, jitter: 0.2 },
    pullEveryMs: 10_000,
    followNetwork: false,
  });
  return {
    name,
    user,
    supabase,
    sockets,
    client,
    faults,
    close: async () => {
      await client.stop();
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

const clientStatus = { connected: 'SUBSCRIBED', reconnecting: 'CHANNEL_ERROR', disconnected: 'CLOSED' } as const;

/**
 * Watches every change of the three tables. On the device's own filter (`user_id=eq.<its user>`)
 * this starts the device client and reports each change it merged from realtime (its states as
 * SUBSCRIBED / CHANNEL_ERROR / CLOSED); any other filter is a raw channel, as a stranger would open.
 */
export async function watchTables(
  device: Device,
  topic: string,
  filter: string | undefined,
  onReceipt: (receipt: Receipt) => void,
  onStatus: (status: string) => void = () => undefined,
): Promise<RealtimeChannel | undefined> {
  if (filter === `user_id=eq.${device.user.id}`) {
    device.client.events.on('change', (change, outcome) => {
      if (change.source !== 'realtime' || outcome !== 'applied') return;
      onReceipt({
        at: performance.now(),
        table: change.table,
        type: change.op === 'delete' ? 'DELETE' : 'UPSERT',
        record: change.row ?? {},
        old: change.op === 'delete' ? { id: change.id } : {},
        commitTimestamp: change.commitTimestamp ?? '',
      });
    });
    device.client.state.subscribe((state) => onStatus(clientStatus[state]));
    await device.client.start();
    const deadline = performance.now() + 15_000;
    while (device.client.state.get() !== 'connected') {
      if (performance.now() > deadline)
        throw new Error(`${device.name}: the device client did not connect within 15 s`);
      await sleep(20);
    }
    onStatus('SUBSCRIBED');
    return undefined;
  }
  return rawChannel(device, topic, filter, onReceipt, onStatus);
}

function rawChannel(
  device: Device,
  topic: string,
  filter: string | undefined,
  onReceipt: (receipt: Receipt) => void,
  onStatus: (status: string) => void,
): Promise<RealtimeChannel> {
  let channel = device.supabase.channel(topic);
  for (const table of ['conversations', 'messages', 'memories']) {
    channel = channel.on(
      'postgres_changes',
      { event: '*', schema: 'public', table, ...(filter ? { filter } : {}) },
      (payload) =>
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
    const timer = setTimeout(
      () => !settled && reject(new Error(`${device.name}: ${topic} not subscribed within 15 s`)),
      15_000,
    );
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
