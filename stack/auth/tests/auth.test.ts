/**
 * The local Auth service through the gateway, judged by the real supabase-js: sign-up and sign-in
 * with their refusals, the claims of the tokens and the key they are signed with, refresh-token
 * rotation, logout scopes, the user endpoints, admin with and without the secret key, both error
 * shapes, and the other services accepting its tokens.
 */
import { type AuthError, createClient, isAuthError } from '@supabase/supabase-js';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import {
  authClient,
  seeded,
  seededPassword,
  signIn,
  signUpFresh,
  startOwnAuthService,
} from '../../../test-support/auth.ts';

const apiUrl = process.env.API_URL!;
const publishableKey = process.env.PUBLISHABLE_KEY!;
const secretKey = process.env.SECRET_KEY!;
const sql = postgres(process.env.DB_URL!, { max: 2, onnotice: () => undefined });
afterAll(() => sql.end({ timeout: 5 }));

const refusal = (error: unknown) => {
  expect(isAuthError(error)).toBe(true);
  const apiError = error as AuthError;
  return { status: apiError.status, code: apiError.code, message: apiError.message };
};

describe('sign-in and sign-up', () => {
  it('signs in the seeded Ada with her password and hands out a GoTrue session', async () => {
    const { session } = await signIn(seeded.ada);
    expect(session).toMatchObject({ token_type: 'bearer', expires_in: 3600 });
    expect(session.expires_at).toBe(decodeJwt(session.access_token).exp);
    expect(session.refresh_token).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(session.user).toMatchObject({
      email: seeded.ada,
      aud: 'authenticated',
      role: 'authenticated',
      is_anonymous: false,
    });
    expect(session.user.identities?.[0]?.provider).toBe('email');
    const claims = decodeJwt(session.access_token);
    expect(claims).toMatchObject({
      iss: `${apiUrl}/auth/v1`,
      sub: session.user.id,
      aud: 'authenticated',
      email: seeded.ada,
      phone: '',
      role: 'authenticated',
      aal: 'aal1',
      is_anonymous: false,
      app_metadata: { provider: 'email', providers: ['email'] },
      user_metadata: { name: 'Ada' },
    });
    expect(claims.amr).toEqual([{ method: 'password', timestamp: expect.any(Number) }]);
    expect(typeof claims.session_id).toBe('string');
    const [row] = await sql`select count(*)::int as n from auth.sessions where id = ${claims.session_id as string}`;
    expect(row!.n).toBe(1);
  });

  it('signs with a key published at /.well-known/jwks.json', async () => {
    const { session } = await signIn(seeded.ben);
    const header = decodeProtectedHeader(session.access_token);
    const jwks = (await (
      await fetch(`${apiUrl}/auth/v1/.well-known/jwks.json`, { headers: { apikey: publishableKey } })
    ).json()) as { keys: { kid: string; alg: string; d?: string }[] };
    const key = jwks.keys.find((k) => k.kid === header.kid);
    expect(key?.alg).toBe(header.alg);
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
  });

  it('refuses a wrong password, an unknown address and a malformed one alike: 400 invalid_credentials', async () => {
    for (const [email, password] of [
      [seeded.ada, 'not-her-password'],
      ['nobody@virgil.test', seededPassword],
      ['not-an-address', seededPassword],
    ] as const) {
      const { error } = await authClient().auth.signInWithPassword({ email, password });
      expect(refusal(error)).toEqual({
        status: 400,
        code: 'invalid_credentials',
        message: 'Invalid login credentials',
      });
    }
  });

  it('signs up with a session (confirmations off), then refuses the same address and a weak password', async () => {
    const fresh = await signUpFresh('signup');
    expect(fresh.session.user.email).toBe(fresh.email);
    const again = await authClient().auth.signUp({ email: fresh.email, password: 'another-password' });
    expect(refusal(again.error)).toEqual({
      status: 422,
      code: 'user_already_exists',
      message: 'User already registered',
    });
    const weak = await authClient().auth.signUp({
      email: `weak-${crypto.randomUUID().slice(0, 8)}@auth.test`,
      password: '123',
    });
    expect(refusal(weak.error)).toMatchObject({ status: 422, code: 'weak_password' });
    expect((weak.error as AuthError & { reasons?: string[] }).reasons).toEqual(['length']);
    const invalid = await authClient().auth.signUp({ email: 'nope', password: 'long-enough' });
    expect(refusal(invalid.error)).toMatchObject({ status: 400, code: 'validation_failed' });
  });

  it('refuses anonymous sign-in while the provider is off, as config.toml has it', async () => {
    const { error } = await authClient().auth.signInAnonymously();
    expect(refusal(error)).toEqual({
      status: 422,
      code: 'anonymous_provider_disabled',
      message: 'Anonymous sign-ins are disabled',
    });
  });

  it('answers the older error shape to a client that does not name an API version', async () => {
    const response = await fetch(`${apiUrl}/auth/v1/token?grant_type=password`, {
      method: 'POST',
      headers: { apikey: publishableKey, 'content-type': 'application/json' },
      body: JSON.stringify({ email: seeded.ada, password: 'wrong' }),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('x-supabase-api-version')).toBe('2024-01-01');
    expect(await response.json()).toEqual({
      code: 400,
      error_code: 'invalid_credentials',
      msg: 'Invalid login credentials',
    });
  });

  it('answers bad input with a 4xx and no session', async () => {
    const post = (path: string, body: string) =>
      fetch(`${apiUrl}/auth/v1${path}`, {
        method: 'POST',
        headers: { apikey: publishableKey, 'content-type': 'application/json', 'x-supabase-api-version': '2024-01-01' },
        body,
      });
    const badJson = await post('/token?grant_type=password', '{"email":');
    expect([badJson.status, ((await badJson.json()) as { code: string }).code]).toEqual([400, 'bad_json']);
    const deep = await post(
      '/signup',
      `{"email":"a@b.co","password":"long-enough","data":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`,
    );
    expect(deep.status).toBe(400);
    await deep.body?.cancel();
    const grant = await post('/token?grant_type=magic', '{}');
    expect(grant.status).toBe(400);
    await grant.body?.cancel();
    const otp = await post('/otp', JSON.stringify({ email: seeded.ada }));
    expect(otp.status).toBe(422);
    await otp.body?.cancel();
    const unknown = await fetch(`${apiUrl}/auth/v1/no-such-thing`, { headers: { apikey: publishableKey } });
    expect(unknown.status).toBe(404);
    await unknown.body?.cancel();
  });
});

describe('refresh tokens', () => {
  it('rotates on use; the used token inside the reuse interval answers with the current one', async () => {
    const { client, session } = await signIn(seeded.ada);
    const first = await client.auth.refreshSession({ refresh_token: session.refresh_token });
    expect(first.error).toBeNull();
    const current = first.data.session!.refresh_token;
    expect(current).not.toBe(session.refresh_token);
    expect(decodeJwt(first.data.session!.access_token).session_id).toBe(decodeJwt(session.access_token).session_id);
    // The refresh answer's user (read in the refresh statement) is the one /user answers with.
    const { data: fromUser } = await authClient().auth.getUser(first.data.session!.access_token);
    expect(first.data.session!.user).toEqual(fromUser.user);
    expect(fromUser.user!.identities).toHaveLength(1);
    const reused = await authClient().auth.refreshSession({ refresh_token: session.refresh_token });
    expect(reused.error).toBeNull();
    expect(reused.data.session!.refresh_token).toBe(current);
  });

  it('refuses an unknown token: refresh_token_not_found', async () => {
    const { error } = await authClient().auth.refreshSession({ refresh_token: 'made-up-token-123' });
    expect(refusal(error)).toMatchObject({ status: 400, code: 'refresh_token_not_found' });
  });

  it('revokes the whole family when a used token comes back after the interval', async () => {
    const { session } = await signIn(seeded.ben);
    const rotated = await authClient().auth.refreshSession({ refresh_token: session.refresh_token });
    const current = rotated.data.session!.refresh_token;
    // Age the used token past the 10 s interval, as if it came back later.
    await sql`update auth.refresh_tokens set updated_at = now() - interval '11 seconds' where token = ${session.refresh_token}`;
    const stolen = await authClient().auth.refreshSession({ refresh_token: session.refresh_token });
    expect(refusal(stolen.error)).toEqual({
      status: 400,
      code: 'refresh_token_already_used',
      message: 'Invalid Refresh Token: Already Used',
    });
    const owner = await authClient().auth.refreshSession({ refresh_token: current });
    expect(refusal(owner.error)).toMatchObject({ status: 400, code: 'refresh_token_already_used' });
  });

  it('lets only one of two racing refreshes with the same token rotate it', async () => {
    const { session } = await signIn(seeded.ada);
    const answers = await Promise.all(
      [0, 1, 2, 3].map(() => authClient().auth.refreshSession({ refresh_token: session.refresh_token })),
    );
    const tokens = new Set(answers.map((answer) => answer.data.session?.refresh_token));
    expect(answers.every((answer) => answer.error === null)).toBe(true);
    expect(tokens.size).toBe(1);
    const [row] = await sql`select count(*)::int as n from auth.refresh_tokens where parent = ${session.refresh_token}`;
    expect(row!.n).toBe(1);
  });

  it('refuses every one of racing reuses after the interval and revokes the family once', async () => {
    const { session } = await signIn(seeded.ben);
    const rotated = await authClient().auth.refreshSession({ refresh_token: session.refresh_token });
    const current = rotated.data.session!.refresh_token;
    await sql`update auth.refresh_tokens set updated_at = now() - interval '11 seconds' where token = ${session.refresh_token}`;
    const answers = await Promise.all(
      [0, 1, 2, 3].map(() => authClient().auth.refreshSession({ refresh_token: session.refresh_token })),
    );
    expect(answers.map((answer) => answer.error?.code)).toEqual(Array(4).fill('refresh_token_already_used'));
    const [row] = await sql<{ live: number; children: number }[]>`
      select count(*) filter (where not revoked)::int as live,
             count(*) filter (where parent = ${current})::int as children
        from auth.refresh_tokens
       where session_id = (select session_id from auth.refresh_tokens where token = ${current})`;
    expect(row).toEqual({ live: 0, children: 0 });
  });

  it('hands back the same token with rotation off, and the session stays refreshable', async () => {
    const own = await startOwnAuthService({}, (config) => ({
      ...config,
      auth: { ...config.auth, enableRefreshTokenRotation: false },
    }));
    try {
      const client = () =>
        createClient(own.url, own.config.keys.anonKey, { auth: { persistSession: false, autoRefreshToken: false } });
      const { data } = await client().auth.signInWithPassword({ email: seeded.ada, password: seededPassword });
      const token = data.session!.refresh_token;
      for (let i = 0; i < 2; i++) {
        const again = await client().auth.refreshSession({ refresh_token: token });
        expect(again.error).toBeNull();
        expect(again.data.session!.refresh_token).toBe(token);
        expect(decodeJwt(again.data.session!.access_token).session_id).toBe(
          decodeJwt(data.session!.access_token).session_id,
        );
      }
    } finally {
      await own.close();
    }
  });
});

describe('sessions and the user', () => {
  it('ends this session (local), the others (others), or all of them (global)', async () => {
    const fresh = await signUpFresh('scopes');
    const second = await signIn(fresh.email, fresh.password);
    const third = await signIn(fresh.email, fresh.password);
    expect((await fresh.client.auth.signOut({ scope: 'others' })).error).toBeNull();
    expect((await authClient().auth.refreshSession({ refresh_token: second.session.refresh_token })).error?.code).toBe(
      'refresh_token_not_found',
    );
    expect((await fresh.client.auth.getUser()).data.user?.email).toBe(fresh.email);
    const fourth = await signIn(fresh.email, fresh.password);
    expect((await fourth.client.auth.signOut({ scope: 'local' })).error).toBeNull();
    expect((await authClient().auth.refreshSession({ refresh_token: fourth.session.refresh_token })).error?.code).toBe(
      'refresh_token_not_found',
    );
    expect((await fresh.client.auth.getUser()).data.user?.email).toBe(fresh.email);
    expect((await fresh.client.auth.signOut({ scope: 'global' })).error).toBeNull();
    const [row] = await sql`select count(*)::int as n from auth.sessions where user_id = ${fresh.userId}`;
    expect(row!.n).toBe(0);
    // A still-unexpired access token of an ended session no longer reaches /user.
    const stale = await fetch(`${apiUrl}/auth/v1/user`, {
      headers: {
        apikey: publishableKey,
        authorization: `Bearer ${third.session.access_token}`,
        'x-supabase-api-version': '2024-01-01',
      },
    });
    expect(stale.status).toBe(403);
    expect(((await stale.json()) as { code: string }).code).toBe('session_not_found');
    // supabase-js reads that answer as a session that is gone.
    expect((await authClient().auth.getUser(third.session.access_token)).error?.name).toBe('AuthSessionMissingError');
  });

  it('updates the password and user_metadata', async () => {
    const fresh = await signUpFresh('update');
    const { data, error } = await fresh.client.auth.updateUser({
      password: 'the-new-password-2',
      data: { theme: 'dark' },
    });
    expect(error).toBeNull();
    expect(data.user?.user_metadata).toMatchObject({ theme: 'dark' });
    expect(
      (await authClient().auth.signInWithPassword({ email: fresh.email, password: fresh.password })).error?.code,
    ).toBe('invalid_credentials');
    await signIn(fresh.email, 'the-new-password-2');
  });

  it('serves /settings and /health', async () => {
    const settings = (await (
      await fetch(`${apiUrl}/auth/v1/settings`, { headers: { apikey: publishableKey } })
    ).json()) as Record<string, unknown>;
    expect(settings).toMatchObject({
      disable_signup: false,
      mailer_autoconfirm: true,
      external: { email: true, phone: false, anonymous_users: false },
    });
    expect((await fetch(`${apiUrl}/auth/v1/health`, { headers: { apikey: publishableKey } })).status).toBe(200);
  });
});

describe('admin', () => {
  const admin = () =>
    createClient(apiUrl, secretKey, { auth: { persistSession: false, autoRefreshToken: false } }).auth.admin;

  it('creates, lists, reads, updates and deletes users with the secret key; deleting takes their rows', async () => {
    const email = `admin-made-${crypto.randomUUID().slice(0, 8)}@auth.test`;
    const created = await admin().createUser({
      email,
      password: 'made-by-admin-1',
      email_confirm: true,
      user_metadata: { name: 'Made' },
    });
    expect(created.error).toBeNull();
    const id = created.data.user!.id;
    expect(created.data.user!.email_confirmed_at).toBeTruthy();
    const signedIn = await signIn(email, 'made-by-admin-1');
    await signedIn.client.from('conversations').insert({ local_id: 'admin-c', title: 'soon gone' });
    const listed = await admin().listUsers({ page: 1, perPage: 1000 });
    expect(listed.data.users.map((user) => user.id)).toContain(id);
    expect((await admin().getUserById(id)).data.user?.email).toBe(email);
    const updated = await admin().updateUserById(id, { user_metadata: { name: 'Renamed' } });
    expect(updated.data.user?.user_metadata).toEqual({ name: 'Renamed' });
    const [before] = await sql`select count(*)::int as n from public.conversations where user_id = ${id}`;
    expect(before!.n).toBe(1);
    expect((await admin().deleteUser(id)).error).toBeNull();
    const [after] =
      await sql`select (select count(*) from public.conversations where user_id = ${id})::int as rows, (select count(*) from auth.sessions where user_id = ${id})::int as sessions`;
    expect(after).toEqual({ rows: 0, sessions: 0 });
    expect(refusal((await admin().getUserById(id)).error)).toMatchObject({ status: 404, code: 'user_not_found' });
  });

  it('answers a malformed user id with 404, not an error', async () => {
    for (const id of ['%ZZ', 'not-a-uuid', '%']) {
      const response = await fetch(`${apiUrl}/auth/v1/admin/users/${id}`, { headers: { apikey: secretKey } });
      expect(response.status, id).toBe(404);
      await response.body?.cancel();
    }
  });

  it('refuses admin calls without the secret key', async () => {
    const anon = createClient(apiUrl, publishableKey, { auth: { persistSession: false, autoRefreshToken: false } });
    expect(refusal((await anon.auth.admin.listUsers()).error)).toMatchObject({ status: 403, code: 'not_admin' });
    const { session } = await signIn(seeded.ada);
    const asAda = createClient(apiUrl, publishableKey, {
      auth: { persistSession: false, autoRefreshToken: false },
      global: { headers: { Authorization: `Bearer ${session.access_token}` } },
    });
    expect(
      refusal((await asAda.auth.admin.createUser({ email: 'x@auth.test', password: 'long-enough' })).error),
    ).toMatchObject({ status: 403, code: 'not_admin' });
  });
});

describe('the other services accept its tokens', () => {
  it('sync answers Ada signed in through Auth, and the Data API shows her only her rows', async () => {
    const { client, userId } = await signIn(seeded.ada);
    const { data, error } = await client.functions.invoke('sync', { body: { pull: { cursor: null, limit: 10 } } });
    expect(error).toBeNull();
    expect(Array.isArray((data as { pull: { changes: unknown[] } }).pull.changes)).toBe(true);
    const rows = await client.from('conversations').select('user_id');
    expect(rows.error).toBeNull();
    expect(rows.data!.length).toBeGreaterThan(0);
    expect(rows.data!.every((row) => row.user_id === userId)).toBe(true);
  });

  it("realtime lets Ada's session join her private sync topic", async () => {
    const { client, userId } = await signIn(seeded.ada);
    await client.realtime.setAuth((await client.auth.getSession()).data.session!.access_token);
    const channel = client.channel(`virgil-sync-${userId}`, { config: { private: true } });
    const status = await new Promise<string>((resolve) =>
      channel.subscribe((state) => (state === 'SUBSCRIBED' || state === 'CHANNEL_ERROR' ? resolve(state) : undefined)),
    );
    expect(status).toBe('SUBSCRIBED');
    await client.removeAllChannels();
  });
});

describe('from a browser (CORS, as the CLI gateway answers it)', () => {
  it('a preflight is allowed every header it asks for, and the API version header is readable', async () => {
    const asked = 'authorization, apikey, content-type, x-client-info, x-supabase-api-version';
    const preflight = await fetch(`${apiUrl}/auth/v1/token?grant_type=password`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://127.0.0.1:5173',
        'access-control-request-method': 'POST',
        'access-control-request-headers': asked,
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-headers')).toBe(asked);

    const settings = await fetch(`${apiUrl}/auth/v1/settings`, {
      headers: { apikey: publishableKey, origin: 'http://127.0.0.1:5173' },
    });
    expect(settings.headers.get('access-control-expose-headers')).toContain('x-supabase-api-version');
  });
});
