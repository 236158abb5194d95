/**
 * Tokens as the platform treats them: a bad token at connect gets 401; a bad token at join or in an
 * `access_token` push ends the channel with the platform's message and never delivers data; a token
 * that expires while joined ends the channel at expiry; a refreshed token keeps it alive.
 */
import type { RealtimePostgresChangesPayload } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { mintUserToken } from '../../identity/jwt.ts';
import type { LocalUser } from '../../../test-support/users.ts';
import {
  adminSql,
  asUser,
  Collector,
  env,
  newUser,
  randomTopic,
  realClient,
  removeUsers,
  sleep,
} from '../../../test-support/realtime.ts';

type Change = RealtimePostgresChangesPayload<Record<string, unknown>>;
interface SystemMessage {
  extension: string;
  status: string;
  message: string;
}

const sql = adminSql();
let alice: LocalUser;

beforeAll(async () => {
  alice = await newUser(sql, 'alice');
});
afterAll(async () => {
  await removeUsers(sql, [alice]);
  await sql.end();
});

const socketUrl = (query: string) => `${env.apiUrl().replace(/^http/, 'ws')}/realtime/v1/websocket?${query}`;

function handshakeStatus(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    ws.on('open', () => {
      ws.close();
      reject(new Error('the handshake was accepted'));
    });
    ws.on('error', () => undefined);
  });
}

/** Subscribes with `token` as the session and collects statuses, system messages and changes. */
async function watch(token: string) {
  const client = await realClient(token);
  const statuses = new Collector<string>();
  const system = new Collector<SystemMessage>();
  const changes = new Collector<Change>();
  const channel = client.supabase
    .channel(randomTopic('tok'))
    .on(
      'postgres_changes',
      { event: '*', schema: 'public', table: 'memories', filter: `user_id=eq.${alice.id}` },
      changes.push,
    )
    .on('system', {}, system.push);
  const errors = new Collector<string>();
  channel.subscribe((status, error) => {
    statuses.push(status);
    if (error) errors.push(error.message);
  });
  return { client, statuses, errors, system, changes, channel };
}

/**
 * Writes a row that a bad-token channel must never receive, then a marker row, and waits until a
 * device with a good token on the same binding has the marker: the server hands each transaction to
 * every subscriber before the next, so by then the forbidden row would have reached the watched
 * channel too, had it been subscribed.
 */
async function writeAndWaitForMarker(content: string): Promise<void> {
  const control = await watch(alice.token);
  try {
    await control.statuses.waitFor((s) => s === 'SUBSCRIBED', 5000, 'the control device SUBSCRIBED');
    await control.system.waitFor(
      (m) => m.message === 'Subscribed to PostgreSQL',
      3000,
      'the control device’s subscription',
    );
    await asUser(sql, alice, (tx) => tx`insert into public.memories (content) values (${content})`);
    const [marker] = await asUser(
      sql,
      alice,
      (tx) => tx<{ id: string }[]>`insert into public.memories (content) values ('marker') returning id`,
    );
    await control.changes.waitFor(
      (c) => (c.new as { id?: string }).id === marker!.id,
      5000,
      'the marker on the control device',
    );
  } finally {
    await control.client.close();
  }
}

describe('tokens', () => {
  it('refuses a socket without an API key, or with a forged one, with 401', async () => {
    expect((await handshakeStatus(socketUrl('vsn=2.0.0'))).status).toBe(401);
    const forged = await mintUserToken(alice.id, { secret: 'not-the-project-secret-but-long-enough' });
    const refused = await handshakeStatus(socketUrl(`apikey=${forged}&vsn=2.0.0`));
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toEqual({ error: 'JwtSignatureError: Failed to validate JWT signature' });
  });

  it.each([
    [
      'expired',
      () => mintUserToken(alice.id, { expiresIn: -30 }),
      /^InvalidJWTToken: Token has expired 3\d seconds ago$/,
    ],
    [
      'forged',
      () => mintUserToken(alice.id, { secret: 'not-the-project-secret-but-long-enough' }),
      /^JwtSignatureError: Failed to validate JWT signature$/,
    ],
    ['malformed', async () => 'not-a-jwt', /^MalformedJWT: The token provided is not a valid JWT$/],
  ])('an %s token never gets data: the join fails with the platform’s reason', async (_kind, token, reason) => {
    const watched = await watch(await token());
    // The client joins with this token; the server replies with an error (and the client keeps retrying).
    await watched.statuses.waitFor((s) => s === 'CHANNEL_ERROR', 8000, 'CHANNEL_ERROR');
    expect(await watched.errors.waitFor(() => true, 1000, 'the error')).toMatch(reason);
    await writeAndWaitForMarker('not for bad tokens');
    expect(watched.changes.items).toEqual([]);
    expect(watched.statuses.items).not.toContain('SUBSCRIBED');
    await watched.client.close();
  });

  it('ends a joined channel when its token expires: system error, then CLOSED, and no rejoin', async () => {
    const short = await mintUserToken(alice.id, { expiresIn: 2 });
    const watched = await watch(short);
    await watched.statuses.waitFor((s) => s === 'SUBSCRIBED', 5000, 'SUBSCRIBED');
    const expired = await watched.system.waitFor((m) => m.status === 'error', 6000, 'the expiry message');
    expect(expired).toMatchObject({ extension: 'system', status: 'error' });
    expect(expired.message).toMatch(/^Token has expired \d+ seconds ago$/);
    await watched.statuses.waitFor((s) => s === 'CLOSED', 2000, 'CLOSED');
    await writeAndWaitForMarker('after expiry');
    expect(watched.changes.items).toEqual([]);
    expect(watched.statuses.items.filter((s) => s === 'SUBSCRIBED')).toHaveLength(1);
    // Closed by the server (phx_close), not errored: realtime-js never schedules a rejoin.
    expect(watched.channel.state).toBe('closed');
    await watched.client.close();
  });

  it('keeps a channel alive past the first token’s expiry when the client refreshes it', async () => {
    const watched = await watch(await mintUserToken(alice.id, { expiresIn: 2 }));
    await watched.statuses.waitFor((s) => s === 'SUBSCRIBED', 5000, 'SUBSCRIBED');
    watched.client.token.value = await mintUserToken(alice.id, { expiresIn: 3600 });
    await watched.client.refresh();
    // The server re-creates the subscription with the new claims and says so.
    await watched.system.waitFor(
      (m) =>
        m.message === 'Subscribed to PostgreSQL' &&
        watched.system.items.filter((x) => x.message === m.message).length >= 2,
      3000,
      'a second "Subscribed"',
    );
    await sleep(2500);
    const [row] = await asUser(
      sql,
      alice,
      (tx) => tx<{ id: string }[]>`insert into public.memories (content) values ('after refresh') returning id`,
    );
    await watched.changes.waitFor((c) => (c.new as { id?: string }).id === row!.id, 5000, 'the change after refresh');
    expect(watched.system.items.filter((m) => m.status === 'error')).toEqual([]);
    await watched.client.close();
  });

  it('ends the channel when a refresh pushes an invalid token', async () => {
    const watched = await watch(alice.token);
    await watched.statuses.waitFor((s) => s === 'SUBSCRIBED', 5000, 'SUBSCRIBED');
    watched.client.token.value = await mintUserToken(alice.id, { expiresIn: -5 });
    await watched.client.refresh();
    const error = await watched.system.waitFor((m) => m.status === 'error', 3000, 'the refusal');
    expect(error.message).toMatch(/^Token has expired \d+ seconds ago$/);
    await watched.statuses.waitFor((s) => s === 'CLOSED', 2000, 'CLOSED');
    await watched.client.close();
  });
});
