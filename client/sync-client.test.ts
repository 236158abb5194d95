/**
 * The client's handling of supabase-js auth events, with a stand-in for supabase-js (no server):
 * a refreshed token goes to the realtime socket at once; sign-out stops syncing; stop() leaves no
 * listener behind.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { describe, expect, it, vi } from 'vitest';
import { SyncClient, UnstorableTextError } from './sync-client.ts';

function fakeSupabase() {
  let listener: ((event: string, session: { access_token: string; user: { id: string } } | null) => void) | undefined;
  const unsubscribe = vi.fn(() => {
    listener = undefined;
  });
  // The sync function, answering every pushed item `applied`.
  const invoke = vi.fn(
    async (_name: string, { body }: { body: { push?: { table: string; local_id: string; change_id: string }[] } }) => ({
      data: {
        ...(body.push
          ? {
              push: {
                results: body.push.map((item, index) => ({
                  index,
                  table: item.table,
                  local_id: item.local_id,
                  change_id: item.change_id,
                  status: 'applied',
                  id: crypto.randomUUID(),
                  version: 1,
                })),
              },
            }
          : {}),
        pull: { changes: [], cursor: 'v1.x', has_more: false },
      },
      error: null,
    }),
  );
  const supabase = {
    functions: { invoke },
    auth: {
      onAuthStateChange: (callback: typeof listener) => {
        listener = callback;
        return { data: { subscription: { unsubscribe } } };
      },
    },
    realtime: { setAuth: vi.fn(async () => undefined), getChannels: () => [], disconnect: vi.fn(async () => 'ok') },
    channel: () => {
      throw new Error('no realtime in this test');
    },
  };
  return {
    supabase,
    invoke,
    fire: (event: string, token?: string, userId = 'u') =>
      listener?.(event, token ? ({ access_token: token, user: { id: userId } } as never) : null),
    unsubscribe,
    listening: () => listener !== undefined,
  };
}

describe('SyncClient and supabase-js auth events', () => {
  it('hands a refreshed token to the realtime socket, and stops listening on stop()', async () => {
    const fake = fakeSupabase();
    const client = new SyncClient({
      supabase: fake.supabase as unknown as SupabaseClient,
      userId: 'u',
      online: false,
      followNetwork: false,
    });
    await client.start();
    fake.fire('TOKEN_REFRESHED', 'token-2');
    fake.fire('INITIAL_SESSION', 'token-1');
    await Promise.resolve();
    expect(fake.supabase.realtime.setAuth.mock.calls).toEqual([['token-2']]);
    await client.stop();
    expect(fake.unsubscribe).toHaveBeenCalledOnce();
    expect(fake.listening()).toBe(false);
  });

  it('after sign-out, or when another user signs in, nothing is pushed; the outbox waits for its user', async () => {
    const fake = fakeSupabase();
    const client = new SyncClient({
      supabase: fake.supabase as unknown as SupabaseClient,
      userId: 'u',
      online: false,
      followNetwork: false,
      batchDelayMs: 0,
    });
    await client.start();
    fake.fire('SIGNED_OUT');
    await client.setOnline(true);
    client.write({ table: 'memories', op: 'upsert', local_id: 'm', fields: { content: 'mine' } });
    await new Promise((resolve) => setTimeout(resolve, 30));
    fake.fire('SIGNED_IN', 'someone-else', 'v');
    client.write({ table: 'memories', op: 'upsert', local_id: 'n', fields: { content: 'mine too' } });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(fake.invoke).not.toHaveBeenCalled();
    expect(client.store.queued).toHaveLength(2);

    fake.fire('SIGNED_IN', 'mine-again', 'u');
    await client.whenIdle();
    expect(fake.invoke).toHaveBeenCalledOnce();
    expect(client.store.queued).toEqual([]);
    await client.stop();
  });

  it('a write is refused before it is queued when sync would refuse its shape', async () => {
    const fake = fakeSupabase();
    const client = new SyncClient({
      supabase: fake.supabase as unknown as SupabaseClient,
      userId: 'u',
      online: false,
      followNetwork: false,
    });
    await client.start();
    expect(() =>
      client.write({ table: 'memories', op: 'upsert', local_id: 'm', fields: { importance_score: 2 } }),
    ).toThrow();
    expect(client.store.queued).toEqual([]);
    await client.stop();
  });
});

describe('SyncClient.write', () => {
  it('refuses text PostgreSQL cannot store before it is queued, so it never fails a batch', () => {
    const fake = fakeSupabase();
    const client = new SyncClient({
      supabase: fake.supabase as unknown as SupabaseClient,
      userId: 'u',
      followNetwork: false,
    });
    expect(() =>
      client.write({ table: 'memories', op: 'upsert', local_id: 'm1', fields: { content: 'bad \u0000 text' } }),
    ).toThrow(UnstorableTextError);
    expect(() =>
      client.write({ table: 'memories', op: 'upsert', local_id: 'm2', fields: { content: 'half \ud800' } }),
    ).toThrow(/lone_surrogate/);
    expect(client.store.queued).toEqual([]);
    client.write({ table: 'memories', op: 'upsert', local_id: 'm3', fields: { content: 'fine' } });
    expect(client.store.queued.map((item) => item.local_id)).toEqual(['m3']);
  });
});
