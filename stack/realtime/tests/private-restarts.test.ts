/**
 * Nothing is lost or duplicated on the broadcast path across a restart of the realtime server, a
 * restart of PostgreSQL, and `supabase db reset`. After a realtime restart the device rejoins by
 * itself; what was committed while no server held its socket is still in realtime.messages and
 * comes back through Broadcast Replay (as on the platform), so live ∪ replay is exactly what was
 * written. PostgreSQL restarting under a connected device costs no message at all: the stream resumes
 * from its permanent slot. (`supabase db reset` is covered by `npm test` itself: its reset stage runs
 * while the gateway streams, and every private test here runs after it.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalUser } from '../../../test-support/users.ts';
import { loadConfig } from '../../config.ts';
import { startDatabase, stopDatabase } from '../../db/database.ts';
import { startStack, stopServices } from '../../stack.ts';
import {
  adminSql,
  Collector,
  insertConversation,
  newUser,
  realClient,
  removeUsers,
  type TestClient,
} from '../../../test-support/realtime.ts';
import { type Received, syncTopic } from '../../../test-support/private-topic.ts';

const config = loadConfig();
let sql = adminSql();
let ada: LocalUser;
const clients: TestClient[] = [];
const quiet = () => undefined;

const idOf = (item: Received) => ((item.payload.record ?? item.payload.old_record) as { id: string }).id;

async function device(user: LocalUser, config: Record<string, unknown> = {}) {
  const client = await realClient(user.token);
  clients.push(client);
  const got = new Collector<Received>();
  const statuses = new Collector<string>();
  const channel = client.supabase
    .channel(syncTopic(user), { config: { private: true, ...config } })
    .on('broadcast', { event: 'INSERT' }, got.push);
  channel.subscribe((status) => statuses.push(status));
  await statuses.waitFor((status) => status === 'SUBSCRIBED', 10_000, 'the join');
  return { got, statuses, channel };
}

const writeMany = async (user: LocalUser, label: string, count: number) => {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await insertConversation(sql, user, `${label} ${i}`));
  return ids;
};

beforeAll(async () => {
  ada = await newUser(sql, 'ada');
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await removeUsers(sql, [ada]).catch(() => undefined);
  await sql.end();
});

describe('restarts on the broadcast path', () => {
  it('a realtime restart: live and replayed together are exactly what was written', async () => {
    const since = Date.now() - 1000;
    const { got, statuses } = await device(ada);
    const before = await writeMany(ada, 'before', 3);
    await got.waitFor((item) => idOf(item) === before.at(-1), 5000, 'the writes before the restart');
    await stopServices(config);
    const during = await writeMany(ada, 'during', 3);
    const rejoined = statuses.items.length;
    await startStack(config, quiet);
    await statuses.waitFor(
      (status) => status === 'SUBSCRIBED' && statuses.items.length > rejoined,
      20_000,
      'the rejoin',
    );
    const after = await writeMany(ada, 'after', 3);
    await got.waitFor((item) => idOf(item) === after.at(-1), 5000, 'the writes after the restart');
    const live = got.items.map(idOf);
    expect(new Set(live).size).toBe(live.length); // nothing twice
    const catchUp = await device(ada, { broadcast: { replay: { since, limit: 25 } } });
    await catchUp.got.waitFor((item) => idOf(item) === after.at(-1), 5000, 'the replay');
    const held = new Set([...live, ...catchUp.got.items.filter((item) => item.meta?.replayed).map(idOf)]);
    expect([...held].sort()).toEqual([...before, ...during, ...after].sort());
  });

  it('a PostgreSQL restart under a connected device loses and repeats nothing', async () => {
    const { got } = await device(ada);
    const before = await writeMany(ada, 'pg-before', 3);
    await sql.end();
    await stopDatabase(config);
    await startDatabase(config, quiet);
    sql = adminSql();
    const after = await writeMany(ada, 'pg-after', 3);
    await got.waitFor((item) => idOf(item) === after.at(-1), 15_000, 'the writes after the restart');
    expect(got.items.map(idOf)).toEqual([...before, ...after]);
  });
});
