/**
 * The design's flow "token expiry and refresh", end to end with the real supabase-js signed in
 * through Auth: while the device sits connected and idle, supabase-js refreshes the session by
 * itself, and past the expiry of every token it had before, its private sync topic keeps receiving
 * and `sync` keeps answering 200. No CHANNEL_ERROR, no CLOSED, no system error, no 401.
 *
 * What makes it work: on TOKEN_REFRESHED supabase-js calls `realtime.setAuth(newToken)`, which
 * sends `access_token` on every joined channel; the realtime server swaps the claims and re-decides
 * the private join, and its expiry watchdog follows the new `exp` (without that message it sends a
 * system error and closes the channel at the old `exp`, stack/realtime/joins/channel.ts). Functions
 * get the session's current token on every call.
 *
 * The tokens live 40 s (an Auth service of this test's own, `jwt_expiry` = 40). supabase-js reads
 * the session on its own: its auto-refresh tick (every 30 s; it refreshes within 3 ticks of expiry)
 * and realtime asking for the token on connect and on every heartbeat (25 s). Any session read
 * within 90 s of expiry refreshes, so a 40 s token is also refreshed when the channel connects and
 * by each `sync` call. The test therefore lets the device go idle once those are done, notes the
 * tokens issued so far, and requires a refresh the device made alone before the last of them
 * expires; a channel still open after they all expired must hold a token issued while idle.
 */
import { createClient, type RealtimeChannel, type SupabaseClient } from '@supabase/supabase-js';
import { decodeJwt } from 'jose';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OwnAuthService, startOwnAuthService } from '../../../../test-support/auth.ts';
import { type Received, syncTopic } from '../../../../test-support/private-topic.ts';
import { adminSql, asUser, Collector } from '../../../../test-support/realtime.ts';
import { deleteLocalUsers, type LocalUser } from '../../../../test-support/users.ts';
import { waitFor } from '../../../../test-support/wait.ts';
import { item } from '../functions/support.ts';

const expirySeconds = 40;
const apiUrl = process.env.API_URL!;
const sql = adminSql();
let auth: OwnAuthService;
let userId: string | undefined;

beforeAll(async () => {
  auth = await startOwnAuthService({ VIRGIL_AUTH_JWT_EXPIRY: String(expirySeconds) });
});
afterAll(async () => {
  if (userId) await deleteLocalUsers(sql, [userId]);
  await auth.close();
  await sql.end({ timeout: 5 });
});

/** What the device did on the wire: answers of the stack's services, Auth calls open, tokens sent to realtime. */
interface Wire {
  answers: { path: string; status: number }[];
  authCallsOpen: number;
  accessTokensSent: string[];
}

/**
 * A device's supabase-js as an app makes it (auto refresh on, the default), with /auth/v1 going to
 * this test's Auth and everything else to the stack, and a recording of what it sends and gets.
 */
function deviceClient(wire: Wire): SupabaseClient {
  const record = (data: unknown) => {
    if (typeof data !== 'string') return;
    const frame = JSON.parse(data) as unknown[];
    const payload = frame[4] as { access_token?: unknown } | undefined;
    if (frame[3] === 'access_token' && typeof payload?.access_token === 'string')
      wire.accessTokensSent.push(payload.access_token);
  };
  class RecordingWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols);
      const send = this.send.bind(this) as (...args: unknown[]) => void;
      this.send = ((...args: unknown[]) => (record(args[0]), send(...args))) as WebSocket['send'];
    }
  }
  return createClient(apiUrl, process.env.PUBLISHABLE_KEY!, {
    auth: { persistSession: false, autoRefreshToken: true, detectSessionInUrl: false },
    realtime: { transport: RecordingWebSocket as never, logger: () => undefined },
    global: {
      fetch: async (input, init) => {
        const url = String(input instanceof Request ? input.url : input);
        if (!url.startsWith(`${apiUrl}/auth/v1`)) {
          const response = await fetch(input, init);
          wire.answers.push({ path: new URL(url).pathname, status: response.status });
          return response;
        }
        wire.authCallsOpen++;
        try {
          return await fetch(auth.url + url.slice(apiUrl.length), init);
        } finally {
          wire.authCallsOpen--;
        }
      },
    },
  });
}

const recordOf = (received: Received) => (received.payload.record ?? {}) as Record<string, unknown>;

describe('token expiry and refresh', () => {
  it('a connected device refreshes by itself; its private channel and sync carry on past the expiry of every earlier token', async () => {
    const wire: Wire = { answers: [], authCallsOpen: 0, accessTokensSent: [] };
    const supabase = deviceClient(wire);
    const issued: { at: number; token: string; expiresAt: number; event: string }[] = [];
    supabase.auth.onAuthStateChange((event, session) => {
      if ((event === 'SIGNED_IN' || event === 'TOKEN_REFRESHED') && session)
        issued.push({ at: Date.now(), token: session.access_token, expiresAt: session.expires_at! * 1000, event });
    });

    const email = `token-expiry-${crypto.randomUUID().slice(0, 8)}@auth.test`;
    const signedUp = await supabase.auth.signUp({ email, password: 'token-expiry-password' });
    expect(signedUp.error).toBeNull();
    const first = signedUp.data.session!;
    userId = first.user.id;
    const user: LocalUser = { id: userId, email, token: first.access_token };
    expect(first.expires_in).toBe(expirySeconds);

    // Realtime holds the user's token before the channel joins (test-support/realtime.ts `realClient`
    // says why a join may otherwise go out as anon).
    await supabase.realtime.setAuth(first.access_token);
    const received = new Collector<Received>();
    const statuses: string[] = [];
    const systemErrors: unknown[] = [];
    const channel: RealtimeChannel = supabase
      .channel(syncTopic(user), { config: { private: true } })
      .on('broadcast', { event: '*' }, received.push)
      .on('system', {}, (payload: { status?: string }) => {
        if (payload.status === 'error') systemErrors.push(payload);
      });
    channel.subscribe((status) => statuses.push(status));
    await waitFor(() => statuses.length > 0, { timeoutMs: 10_000, what: 'the join' });
    expect(statuses).toEqual(['SUBSCRIBED']);

    // A broadcast that does not come names what the channel went through instead.
    const withChannel = (error: Error): never => {
      throw new Error(
        `${error.message.slice(0, 200)}; channel: ${statuses.join(', ')}; system errors: ${JSON.stringify(systemErrors)}`,
      );
    };
    // A write on the server side (the device reads nothing) reaches the channel.
    const written = async (title: string) => {
      await asUser(sql, user, (tx) => tx`insert into public.conversations (title) values (${title})`);
      await received
        .waitFor((event) => recordOf(event).title === title, 10_000, `the broadcast of "${title}"`)
        .catch(withChannel);
    };
    // A sync push through supabase-js with the session's current token; its message reaches the channel.
    const synced = async (localId: string) => {
      const items = [item.conversation('conversation'), item.message(localId, 'conversation', localId)];
      const { error, response } = await supabase.functions.invoke('sync', { body: { push: items } });
      expect(error).toBeNull();
      expect(response?.status).toBe(200);
      await received
        .waitFor((event) => recordOf(event).local_id === localId, 10_000, `the broadcast of ${localId}`)
        .catch(withChannel);
    };

    await written('joined');
    await synced('m-joined');

    // Idle from here: no call of the test reads the session until supabase-js has refreshed alone.
    await waitFor(() => wire.authCallsOpen === 0, { timeoutMs: 10_000, what: 'Auth calls in flight to end' });
    const idleFrom = Date.now();
    const earlier = [...issued];
    const earlierExpire = Math.max(...earlier.map((token) => token.expiresAt));
    await waitFor(() => issued.length > earlier.length, {
      timeoutMs: earlierExpire - Date.now(),
      what: 'supabase-js to refresh by itself before its tokens expire',
    });
    const own = issued[earlier.length]!;
    expect(own).toMatchObject({ event: 'TOKEN_REFRESHED' });
    expect(own.at).toBeGreaterThan(idleFrom);
    expect(own.at).toBeLessThan(earlierExpire);
    expect(decodeJwt(own.token).session_id).toBe(decodeJwt(first.access_token).session_id);
    await waitFor(() => wire.accessTokensSent.includes(own.token), {
      timeoutMs: 10_000,
      what: 'the refreshed token sent on the channel',
    });
    await written('after the refresh');
    await synced('m-after-refresh');

    // Past the expiry of every token from before the idle time: the server closes a channel holding one.
    await waitFor(() => Date.now() > earlierExpire + 1000, {
      timeoutMs: earlierExpire + 5000 - Date.now(),
      what: 'the earlier tokens to expire',
    });
    await written('after the earlier tokens expired');
    await synced('m-after-expiry');

    expect(statuses).toEqual(['SUBSCRIBED']);
    expect(systemErrors).toEqual([]);
    expect(channel.state).toBe('joined');
    expect(wire.answers.map((answer) => answer.path)).toContain('/functions/v1/sync');
    expect(wire.answers.filter((answer) => answer.status !== 200)).toEqual([]);
    // The refreshes rotated the session's refresh token, all within the one session.
    const [chain] = await sql<{ tokens: number; sessions: number }[]>`
      select count(*)::int as tokens, count(distinct session_id)::int as sessions
        from auth.refresh_tokens where user_id = ${userId}`;
    expect(chain!.sessions).toBe(1);
    expect(chain!.tokens).toBeGreaterThan(earlier.length);

    await supabase.removeAllChannels();
    supabase.realtime.disconnect();
    await supabase.auth.stopAutoRefresh();
  }, 90_000);
});
