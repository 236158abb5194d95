/**
 * Broadcast Replay (`config.broadcast.replay: { since, limit }`) with the platform's rules: the newest
 * `limit` (at most 25) private broadcasts of the topic since `since`, oldest first, each with
 * `meta: { replayed: true, id }`; refused on public channels and with bad params.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LocalUser } from '../../../test-support/users.ts';
import {
  adminSql,
  asUser,
  Collector,
  insertConversation,
  newUser,
  realClient,
  removeUsers,
  sleep,
  subscribed,
  type TestClient,
} from '../../../test-support/realtime.ts';
import { joinError, rawJoin, type Received, syncTopic } from '../../../test-support/private-topic.ts';

const sql = adminSql();
let ada: LocalUser;
let ben: LocalUser;
let device: TestClient;
let since: number;

/**
 * Waits until the broadcast stream has handed over everything committed so far, so that none of it
 * can still arrive live on a channel joined next: Broadcast from Database is one stream in commit
 * order, so a marker written now on Ben's topic reaches Ben after all of it (and is no message of
 * Ada's topic, so it is never replayed there).
 */
async function broadcastsSettled(): Promise<void> {
  const listener = await realClient(ben.token);
  try {
    const got = new Collector<Received>();
    await subscribed(
      listener.supabase
        .channel(syncTopic(ben), { config: { private: true } })
        .on('broadcast', { event: '*' }, got.push),
    );
    const marker = await insertConversation(sql, ben, 'settled');
    await got.waitFor(
      (item) => (item.payload.record as { id?: string } | undefined)?.id === marker,
      5000,
      'Ben’s marker',
    );
  } finally {
    await listener.close();
  }
}

beforeAll(async () => {
  ada = await newUser(sql, 'ada');
  ben = await newUser(sql, 'ben');
  device = await realClient(ada.token);
  since = Date.now() - 1000;
  // Five conversations, one transaction each, a few milliseconds apart so their times differ.
  for (const title of ['one', 'two', 'three', 'four', 'five']) {
    await insertConversation(sql, ada, title);
    await sleep(5);
  }
  await broadcastsSettled();
});
afterEach(async () => {
  await device.supabase.removeAllChannels();
});
afterAll(async () => {
  await device.close();
  await removeUsers(sql, [ada, ben]);
  await sql.end();
});

const titles = (items: Received[]) => items.map((item) => (item.payload.record as { title: string }).title);

describe('broadcast replay', () => {
  it('replays the newest `limit` messages since `since`, oldest first, marked replayed', async () => {
    const got = new Collector<Received>();
    const channel = device.supabase
      .channel(syncTopic(ada), { config: { private: true, broadcast: { replay: { since, limit: 3 } } } })
      .on('broadcast', { event: '*' }, got.push);
    await subscribed(channel);
    // The replay is pushed right after the join reply, so a live message written now comes after all of it.
    const marker = await insertConversation(sql, ada, 'marker');
    await got.waitFor((item) => (item.payload.record as { id: string }).id === marker, 3000, 'the live marker');
    expect(titles(got.items)).toEqual(['three', 'four', 'five', 'marker']);
    for (const item of got.items.slice(0, 3)) expect(item.meta).toEqual({ replayed: true, id: item.payload.id });
    expect(got.items[3]!.meta).toEqual({ id: got.items[3]!.payload.id });
  });

  it('caps `limit` at 25', async () => {
    await asUser(
      sql,
      ada,
      (tx) =>
        tx`insert into public.memories (local_id, content) select 'r-' || n, 'memory ' || n from generate_series(1, 30) n`,
    );
    await broadcastsSettled();
    const got = new Collector<Received>();
    const channel = device.supabase
      .channel(syncTopic(ada), { config: { private: true, broadcast: { replay: { since, limit: 1000 } } } })
      .on('broadcast', { event: '*' }, got.push);
    await subscribed(channel);
    const marker = await insertConversation(sql, ada, 'marker after the cap');
    await got.waitFor((item) => (item.payload.record as { id: string }).id === marker, 3000, 'the live marker');
    expect(got.items.filter((item) => item.meta?.replayed)).toHaveLength(25);
    expect(got.items).toHaveLength(26);
  });

  it('replays nothing from the future, and live messages follow without the replay mark', async () => {
    const got = new Collector<Received>();
    const channel = device.supabase
      .channel(syncTopic(ada), {
        config: { private: true, broadcast: { replay: { since: Date.now() + 3_600_000, limit: 5 } } },
      })
      .on('broadcast', { event: '*' }, got.push);
    await subscribed(channel);
    const id = await insertConversation(sql, ada, 'live');
    const live = await got.waitFor(
      (item) => (item.payload.record as { id: string }).id === id,
      3000,
      'the live message',
    );
    expect(got.items).toHaveLength(1);
    expect(live.meta).toEqual({ id: live.payload.id });
  });

  it('is refused on a public channel and with bad params', async () => {
    // supabase-js refuses replay on a public channel itself, so this join is sent over a raw socket.
    const reply = await rawJoin('public-room', {
      config: { private: false, broadcast: { replay: { since, limit: 5 } } },
    });
    expect(reply).toEqual({
      status: 'error',
      response: { reason: 'UnableToReplayMessages: Replay is not allowed for public channels' },
    });
    expect(
      await joinError(
        device.supabase.channel(syncTopic(ada), {
          config: { private: true, broadcast: { replay: { since: 'yesterday' } as never } },
        }),
      ),
    ).toBe('UnableToReplayMessages: Replay params are not valid');
  });
});
