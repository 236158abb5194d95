/**
 * Joining a private channel, decided by the project's policies on realtime.messages as the platform
 * decides it: a person joins their own topic `virgil-sync-<id>`; another person's topic, any other
 * private topic and anon are refused with the platform's reason; an expired token is refused at join
 * and closes a joined channel; a token refreshed to another person's re-decides the join and ends it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalUser } from '../../../../test-support/users.ts';
import { mintUserToken } from '../../../../test-support/identity.ts';
import {
  adminSql,
  newUser,
  realClient,
  removeUsers,
  subscribed,
  type TestClient,
} from '../../../../test-support/realtime.ts';
import { syncTopic, joinError, closedWith } from '../../../../test-support/private-topic.ts';

const sql = adminSql();
let ada: LocalUser;
let ben: LocalUser;
const clients: TestClient[] = [];
const client = async (token: string | null) => {
  const made = await realClient(token);
  clients.push(made);
  return made;
};

beforeAll(async () => {
  [ada, ben] = await Promise.all([newUser(sql, 'ada'), newUser(sql, 'ben')]);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await removeUsers(sql, [ada, ben]);
  await sql.end();
});

describe('joining a private channel', () => {
  it('Ada joins her own topic', async () => {
    const a = await client(ada.token);
    await subscribed(a.supabase.channel(syncTopic(ada), { config: { private: true } }));
  });

  it('Ada is refused on Ben’s topic, with the platform’s reason', async () => {
    const a = await client(ada.token);
    expect(await joinError(a.supabase.channel(syncTopic(ben), { config: { private: true } }))).toBe(
      `Unauthorized: You do not have permissions to read from this Channel topic: ${syncTopic(ben)}`,
    );
  });

  it('Ada is refused on any other private topic', async () => {
    const a = await client(ada.token);
    expect(await joinError(a.supabase.channel('lobby', { config: { private: true } }))).toMatch(/^Unauthorized: /);
  });

  it('anon is refused on Ada’s topic', async () => {
    const anon = await client(null);
    expect(await joinError(anon.supabase.channel(syncTopic(ada), { config: { private: true } }))).toMatch(
      /^Unauthorized: /,
    );
  });

  it('an expired token is refused at join', async () => {
    const expired = await mintUserToken(ada.id, { expiresIn: -30 });
    const a = await client(expired);
    expect(await joinError(a.supabase.channel(syncTopic(ada), { config: { private: true } }))).toMatch(
      /^InvalidJWTToken: Token has expired/,
    );
  });

  it('a joined channel whose token expires is closed', async () => {
    const shortLived = await mintUserToken(ada.id, { expiresIn: 2 });
    const a = await client(shortLived);
    const channel = a.supabase.channel(syncTopic(ada), { config: { private: true } });
    const closed = closedWith(channel);
    await subscribed(channel);
    expect(await closed).toMatch(/Token has expired/);
  });

  it('a token refreshed to Ben’s re-decides the join: Ada’s topic is closed to it', async () => {
    const a = await client(ada.token);
    const channel = a.supabase.channel(syncTopic(ada), { config: { private: true } });
    const closed = closedWith(channel);
    await subscribed(channel);
    a.token.value = ben.token;
    await a.refresh();
    expect(await closed).toBe(`You do not have permissions to read from this Channel topic: ${syncTopic(ada)}`);
  });

  it('a token refreshed to Ada’s own new token keeps the channel', async () => {
    const a = await client(ada.token);
    const channel = a.supabase.channel(syncTopic(ada), { config: { private: true } });
    const closed = closedWith(channel, 1500);
    await subscribed(channel);
    a.token.value = await mintUserToken(ada.id, { expiresIn: 600 });
    await a.refresh();
    expect(await closed).toBe('still open');
  });
});
