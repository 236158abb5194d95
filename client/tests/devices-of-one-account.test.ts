/**
 * The design document's flows with real sessions from the local Auth: one account signed in on two
 * devices (two sessions), a message sent on one reaching the other through the device client; and
 * sign-out elsewhere: `signOut({ scope: 'global' })` on one device makes the other's next refresh
 * fail, it goes `disconnected` with its outbox kept, and signing in again sends what it queued.
 *
 * supabase-js keeps a session whose refresh fails while its access token is still valid (as on the
 * platform, where an access token outlives a sign-out until it expires), so the devices sign in
 * with short-lived tokens: an Auth service of this test's own with `jwt_expiry` = 8 s, reached by
 * the devices' supabase-js for /auth/v1 while functions and realtime stay the stack's, which verify
 * its tokens with the same key set.
 */
import { createClient } from '@supabase/supabase-js';
import postgres from 'postgres';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SupabaseMemoryService } from '../SupabaseMemoryService.ts';
import { eventually, reaches } from '../test-support.ts';
import { type OwnAuthService, signIn, startOwnAuthService } from '../../test-support/auth.ts';

const sql = postgres(process.env.DB_URL!, { max: 2, onnotice: () => undefined });
const services: SupabaseMemoryService[] = [];
const apiUrl = process.env.API_URL!;
let auth: OwnAuthService;
let authUrl: string;

beforeAll(async () => {
  auth = await startOwnAuthService({ VIRGIL_AUTH_JWT_EXPIRY: '8' });
  authUrl = auth.url;
});
afterAll(async () => {
  await Promise.all(services.map((service) => service.close()));
  await auth.close();
  await sql.end({ timeout: 5 });
});

/** A device's supabase-js: /auth/v1 goes to the short-token Auth, everything else to the stack. */
const deviceClient = () =>
  createClient(apiUrl, process.env.PUBLISHABLE_KEY!, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: WebSocket as never, logger: () => undefined },
    global: {
      fetch: (input, init) => {
        const url = String(input instanceof Request ? input.url : input);
        return fetch(url.startsWith(`${apiUrl}/auth/v1`) ? authUrl + url.slice(apiUrl.length) : input, init);
      },
    },
  });

const start = async (signedIn: Awaited<ReturnType<typeof signIn>>) => {
  await signedIn.client.realtime.setAuth(signedIn.session.access_token);
  const service = await SupabaseMemoryService.start({
    supabase: signedIn.client,
    userId: signedIn.session.user.id,
    backoff: { baseMs: 100, maxMs: 1000, jitter: 0 },
    followNetwork: false,
  });
  services.push(service);
  return service;
};

describe('one account on two devices, signed in through Auth', () => {
  it('a message sent on the phone appears on the laptop; signing out everywhere keeps the laptop’s outbox until it signs in again', async () => {
    const email = `two-devices-${crypto.randomUUID().slice(0, 8)}@auth.test`;
    const password = 'two-devices-password';
    expect((await deviceClient().auth.signUp({ email, password })).error).toBeNull();
    const phoneLogin = await signIn(email, password, deviceClient());
    const laptopLogin = await signIn(email, password, deviceClient());
    // Every session read within 90 s of expiry refreshes (supabase-js `getSession()`), so with 8 s
    // tokens the laptop's newest access token outlives the one it signed in with.
    let laptopExpiresAt = laptopLogin.session.expires_at! * 1000;
    laptopLogin.client.auth.onAuthStateChange((_event, session) => {
      if (session?.expires_at) laptopExpiresAt = Math.max(laptopExpiresAt, session.expires_at * 1000);
    });
    expect(phoneLogin.session.expires_in).toBe(8);
    expect(laptopLogin.session.user.id).toBe(phoneLogin.userId);
    const [sessions] = await sql`select count(*)::int as n from auth.sessions where user_id = ${phoneLogin.userId}`;
    expect(sessions!.n).toBe(3);

    const phone = await start(phoneLogin);
    const laptop = await start(laptopLogin);
    await reaches(phone.client, 'connected');
    await reaches(laptop.client, 'connected');

    const conversation = phone.createConversation({ title: 'From the phone' });
    phone.saveMessage(conversation.local_id!, { role: 'user', content: 'sent on the phone' });
    await phone.whenSynced();
    await eventually(
      () => laptop.listConversations().some((row) => row.title === 'From the phone'),
      'the conversation on the laptop',
    );
    await eventually(
      () => laptop.client.store.list('messages').some((row) => row.content === 'sent on the phone'),
      'the message on the laptop',
    );

    // Sign out everywhere from the phone: the laptop's refresh token is gone with its session. Its
    // access token works until it expires; after that, its refresh fails and supabase-js signs out.
    expect((await phoneLogin.client.auth.signOut({ scope: 'global' })).error).toBeNull();
    // supabase-js keeps a session whose refresh fails while its access token is still valid.
    await eventually(() => Date.now() > laptopExpiresAt, "the laptop's newest access token to expire", 15_000);
    const refreshed = await laptopLogin.client.auth.refreshSession();
    expect(refreshed.error?.code).toBe('refresh_token_not_found');
    await reaches(laptop.client, 'disconnected');

    // Written while signed out: kept locally, not sent.
    laptop.saveMessage(conversation.local_id!, { role: 'user', content: 'written while signed out' });
    expect(laptop.client.store.queued.length).toBeGreaterThan(0);
    const [before] =
      await sql`select count(*)::int as n from public.messages where user_id = ${phoneLogin.userId} and content = 'written while signed out'`;
    expect(before!.n).toBe(0);

    // Signing in again on the laptop sends the outbox, once.
    await signIn(email, password, laptopLogin.client);
    await reaches(laptop.client, 'connected');
    await laptop.whenSynced();
    const [after] =
      await sql`select count(*)::int as n from public.messages where user_id = ${phoneLogin.userId} and content = 'written while signed out'`;
    expect(after!.n).toBe(1);
  }, 60_000);
});
