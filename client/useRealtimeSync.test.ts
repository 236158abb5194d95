/**
 * useRealtimeSync and the subscription logic under it, against the running local stack with the
 * real supabase-js: the states and the backoff schedule, a token refresh reaching the socket, a
 * socket dropped while the other device writes (then everything present exactly once), cleanup on
 * unmount, and the private broadcast path where the server offers it.
 */
import type postgres from 'postgres';
import { createElement } from 'react';
import { act, create, type ReactTestRenderer } from 'react-test-renderer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintUserToken } from '../test-support/identity.ts';
import type { LocalUser } from '../test-support/users.ts';
import { adminSql, newUser, removeUsers } from '../test-support/realtime.ts';
import { SupabaseMemoryService } from './SupabaseMemoryService.ts';
import type { SyncClient, SyncClientEvents } from './sync-client.ts';
import { eventually, openDevice, reaches, type TestDevice } from './test-support.ts';
import type { ConnectionState } from './types.ts';
import { type RealtimeSync, useRealtimeSync } from './useRealtimeSync.ts';

// Mount and unmount run in act(); renders caused by realtime events happen outside it, as in an
// app, so React is told it is in an act environment only while act runs.
const actEnvironment = globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean };
async function inAct(work: () => Promise<void>): Promise<void> {
  actEnvironment.IS_REACT_ACT_ENVIRONMENT = true;
  try {
    await act(work);
  } finally {
    actEnvironment.IS_REACT_ACT_ENVIRONMENT = false;
  }
}

let sql: postgres.Sql;
let ada: LocalUser;
const devices: TestDevice[] = [];

async function device(options: Parameters<typeof openDevice>[1] = {}) {
  const opened = await openDevice(ada, options);
  devices.push(opened);
  return opened;
}

type Retry = Parameters<SyncClientEvents['retry']>[0];

beforeAll(async () => {
  sql = adminSql();
  ada = await newUser(sql, 'ada');
});

afterAll(async () => {
  await Promise.all(devices.map((opened) => opened.close()));
  await removeUsers(sql, [ada]);
  await sql.end();
});

describe('useRealtimeSync: subscription logic', () => {
  it('retries a refused subscription on the backoff schedule, and connects at once when the token is refreshed', async () => {
    const expired = await mintUserToken(ada.id, { email: ada.email, expiresIn: -30 });
    const phone = await device({ token: expired, backoff: { baseMs: 1000, maxMs: 60_000, jitter: 0 } });
    const retries: Retry[] = [];
    phone.client.events.on('retry', (retry) => retries.push(retry));
    await phone.client.start();

    await eventually(() => retries.filter((r) => r.what === 'connect').length >= 3, 'three refused joins', 15_000);
    const connectRetries = retries.filter((r) => r.what === 'connect');
    expect(connectRetries.slice(0, 3).map((r) => [r.attempt, r.delayMs])).toEqual([
      [1, 1000],
      [2, 2000],
      [3, 4000],
    ]);
    expect(connectRetries[0]!.reason).toMatch(/expired/i);
    expect(phone.client.state.get()).toBe('reconnecting');

    // The next retry is 4 s away; a refreshed token must not wait for it.
    phone.raw.token.value = ada.token;
    const refreshedAt = retries.length;
    await phone.client.refreshAuth();
    await reaches(phone.client, 'connected', 2000);
    expect(retries.slice(refreshedAt).filter((r) => r.what === 'connect')).toEqual([]);
    expect(phone.states).toEqual(['disconnected', 'reconnecting', 'connected']);
  });

  it('a socket dropped while the laptop writes: the phone reconnects, catches up, and holds every row exactly once', async () => {
    const phone = await device();
    const laptop = await device();
    await Promise.all([phone.client.start(), laptop.client.start()]);
    await Promise.all([reaches(phone.client, 'connected'), reaches(laptop.client, 'connected')]);
    const onLaptop = new SupabaseMemoryService(laptop.client);
    const run = crypto.randomUUID().slice(0, 8);

    const written: string[] = [];
    for (let i = 0; i < 10; i++) written.push(onLaptop.saveMemory({ content: `${run} before ${i}` }).local_id!);
    await onLaptop.whenSynced();
    phone.raw.sockets.at(-1)!.terminate(); // a network drop: no close frame
    await reaches(phone.client, 'reconnecting');
    for (let i = 0; i < 20; i++) {
      written.push(onLaptop.saveMemory({ content: `${run} during ${i}` }).local_id!);
      if (i % 5 === 4) onLaptop.updateMemory(written[i]!, { content: `${run} before ${i}, edited` });
    }
    await onLaptop.whenSynced();
    await reaches(phone.client, 'connected');
    for (let i = 0; i < 10; i++) written.push(onLaptop.saveMemory({ content: `${run} after ${i}` }).local_id!);
    await onLaptop.whenSynced();

    const mine = () => phone.client.store.list('memories').filter((row) => row.content.startsWith(run));
    await eventually(
      () =>
        mine().length === written.length &&
        mine().every((row) => row.content === laptop.client.store.get('memories', row.local_id!)?.content),
      'every row on the phone as on the laptop',
    );
    expect(new Set(mine().map((row) => row.local_id)).size).toBe(written.length);
    expect(phone.states.slice(-3)).toEqual(['connected', 'reconnecting', 'connected']);
    const server = await sql<
      { local_id: string; version: number }[]
    >`select local_id, version::int as version from public.memories where content like ${`${run} %`}`;
    expect(server).toHaveLength(written.length);
    for (const row of server) expect(phone.client.store.get('memories', row.local_id)?.version).toBe(row.version);
  });

  it('on unmount, the hook stops the client and leaves no channel or listener behind', async () => {
    const phone = await device();
    const baseline = phone.client.state.listenerCount;
    const seen: ConnectionState[] = [];
    let latest: RealtimeSync | undefined;
    function Screen({ client }: { client: SyncClient }) {
      latest = useRealtimeSync(client);
      seen.push(latest.state);
      return null;
    }
    let renderer: ReactTestRenderer | undefined;
    await inAct(async () => {
      renderer = create(createElement(Screen, { client: phone.client }));
    });
    await eventually(() => seen.at(-1) === 'connected', 'the hook showing connected');
    expect(phone.raw.supabase.realtime.getChannels().map((channel) => channel.topic)).toEqual([
      `realtime:virgil-sync-${ada.id}`,
    ]);
    expect(phone.client.state.listenerCount).toBeGreaterThan(baseline);

    // The store re-renders the component when a row arrives.
    const laptop = await device();
    await laptop.client.start();
    const note = new SupabaseMemoryService(laptop.client).saveMemory({ content: 'seen by the hook' });
    await eventually(
      () => latest?.store.get('memories', note.local_id!)?.content === 'seen by the hook',
      'the row through the hook',
    );

    await inAct(async () => renderer!.unmount());
    await eventually(() => phone.raw.supabase.realtime.getChannels().length === 0, 'no channel left');
    expect(phone.client.state.get()).toBe('disconnected');
    expect(phone.client.state.listenerCount).toBe(baseline);
    expect(phone.client.store.revision.listenerCount).toBe(0);
  });

  it('over the private broadcast topic, virgil-sync-<user>, that the package’s policies open to its owner', async () => {
    const phone = await device({ realtime: 'broadcast', backoff: { baseMs: 60_000, maxMs: 60_000, jitter: 0 } });
    const laptop = await device();
    const refused: Retry[] = [];
    phone.client.events.on('retry', (retry) => retry.what === 'connect' && refused.push(retry));
    await Promise.all([phone.client.start(), laptop.client.start()]);
    await eventually(() => phone.client.state.get() === 'connected' || refused.length > 0, 'a private join answered');
    expect(refused.map((retry) => retry.reason)).toEqual([]);
    const note = new SupabaseMemoryService(laptop.client).saveMemory({ content: 'over broadcast' });
    await eventually(
      () => phone.client.store.get('memories', note.local_id!)?.content === 'over broadcast',
      'the row over broadcast',
    );
    new SupabaseMemoryService(laptop.client).deleteMemory(note.local_id!);
    await eventually(() => phone.client.store.get('memories', note.local_id!) === null, 'the delete over broadcast');
  });
});
