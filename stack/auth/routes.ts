/**
 * What each Auth endpoint does, as GoTrue does it (github.com/supabase/auth internal/api/:
 * signup.go, token.go, token_refresh.go, logout.go, user.go, admin.go, settings.go). Handlers take
 * the parsed request and return the answer's status and body, or throw an AuthError; service.ts
 * does HTTP.
 */
import type { Sql } from 'postgres';
import { z } from 'zod';
import type { KeySet } from '../identity/keys.ts';
import { type Claims, JwtError, verifyJwt, verifyKeysOf } from '../identity/jwt.ts';
import { KeyedRateWindows } from '../lib/rate-window.ts';
import { AuthError, refuse } from './errors.ts';
import { checkPassword } from './passwords.ts';
import { refresh } from './refresh.ts';
import { audit, createSession, endSessions, type LogoutScope, sessionExists } from './sessions.ts';
import type { AuthSettings } from './settings.ts';
import { tokenAnswer } from './tokens.ts';
import { insertUser, passwordMatches, userByEmail, userById, userJson, userJsonOf, type UserRow } from './users.ts';

export interface AuthRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  bearer: string | undefined;
  ip: string | undefined;
  userAgent: string | undefined;
}

export interface AuthAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface AuthContext {
  sql: Sql;
  settings: AuthSettings;
  keys: KeySet;
}

const metadata = z.record(z.string(), z.unknown());
const email = z.string().trim().max(255);
const signupBody = z.object({
  email: email.optional(),
  phone: z.string().optional(),
  password: z.string().max(72).optional(),
  data: metadata.optional(),
});
const passwordGrant = z.object({
  email: email.optional(),
  phone: z.string().optional(),
  password: z.string().max(1000),
});
const refreshGrant = z.object({ refresh_token: z.string().min(1).max(255) });
const userUpdate = z.object({
  password: z.string().max(72).optional(),
  data: metadata.optional(),
  email: email.optional(),
});
const adminUser = z.object({
  email: email.optional(),
  password: z.string().max(72).optional(),
  email_confirm: z.boolean().optional(),
  user_metadata: metadata.optional(),
  app_metadata: metadata.optional(),
  role: z.string().max(255).optional(),
});
const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw refuse.validation(`${issue.path.join('.') || 'body'}: ${issue.message}`);
}

const validEmail = (value: string) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value);
function requireEmail(value: string): string {
  if (!validEmail(value)) throw refuse.validation('Unable to validate email address: invalid format');
  return value.toLowerCase();
}

export function createRoutes(context: AuthContext) {
  const { sql, settings, keys } = context;
  const fiveMinutes = 5 * 60 * 1000;
  const signInLimit = new KeyedRateWindows(settings.rateLimit.signInSignUps, fiveMinutes);
  const refreshLimit = new KeyedRateWindows(settings.rateLimit.tokenRefresh, fiveMinutes);
  const anonymousLimit = new KeyedRateWindows(settings.rateLimit.anonymousUsers, 60 * 60 * 1000);
  const limited = (windows: KeyedRateWindows, request: AuthRequest) => {
    if (!windows.take(request.ip ?? 'unknown')) throw refuse.rateLimited();
  };

  const sessionFor = async (user: UserRow, method: string, request: AuthRequest) => {
    const session = await createSession(sql, user.id, method, { userAgent: request.userAgent, ip: request.ip });
    const fresh = (await userById(sql, user.id))!;
    return tokenAnswer(fresh, await userJson(sql, fresh), session, settings, keys);
  };

  /** The verified claims of the request's bearer token. */
  async function verified(request: AuthRequest): Promise<Claims> {
    if (!request.bearer) throw refuse.noAuthorization();
    try {
      return await verifyJwt(request.bearer, verifyKeysOf(keys));
    } catch (error) {
      if (error instanceof JwtError) throw refuse.badJwt(error.message);
      throw error;
    }
  }

  /** The verified claims of the request's access token, whose session must still exist. */
  async function signedIn(request: AuthRequest): Promise<Claims & { sub: string }> {
    const claims = await verified(request);
    if (typeof claims.sub !== 'string' || !uuid.safeParse(claims.sub).success)
      throw refuse.badJwt('the token has no user (sub)');
    const sessionId = typeof claims.session_id === 'string' ? claims.session_id : undefined;
    if (sessionId !== undefined && !(await sessionExists(sql, sessionId))) throw refuse.sessionNotFound();
    return claims as Claims & { sub: string };
  }

  async function admin(request: AuthRequest): Promise<void> {
    const claims = await verified(request);
    if (claims.role !== 'service_role' && claims.role !== 'supabase_admin') throw refuse.notAdmin();
  }

  return {
    health: (): AuthAnswer => ({
      status: 200,
      body: { version: 'virgil-local', name: 'GoTrue', description: 'GoTrue-compatible Auth of the local stack' },
    }),

    settings: (): AuthAnswer => ({
      status: 200,
      body: {
        external: {
          anonymous_users: settings.enableAnonymousSignIns,
          email: settings.email.enableSignup,
          phone: false,
        },
        disable_signup: !settings.enableSignup,
        mailer_autoconfirm: !settings.email.enableConfirmations,
        phone_autoconfirm: false,
        sms_provider: '',
        saml_enabled: false,
      },
    }),

    async signup(request: AuthRequest): Promise<AuthAnswer> {
      const body = parse(signupBody, request.body);
      if (!settings.enableSignup) throw refuse.signupDisabled();
      if (body.phone) throw refuse.phoneProviderDisabled();
      if (!body.email && !body.password) {
        if (!settings.enableAnonymousSignIns) throw refuse.anonymousDisabled();
        limited(anonymousLimit, request);
        const user = await insertUser(sql, {
          email: null,
          password: null,
          bcryptCost: settings.bcryptCost,
          emailConfirmed: false,
          appMetadata: {},
          userMetadata: body.data ?? {},
          anonymous: true,
        });
        await audit(sql, 'user_signedup', user, request.ip, { provider: 'anonymous' });
        return { status: 200, body: await sessionFor(user, 'anonymous', request) };
      }
      if (!body.email) throw refuse.validation('To signup, please provide your email');
      if (!body.password) throw refuse.validation('Signup requires a valid password');
      if (!settings.email.enableSignup) throw refuse.emailProviderDisabled();
      const address = requireEmail(body.email);
      checkPassword(body.password, settings);
      limited(signInLimit, request);
      if (await userByEmail(sql, address)) throw refuse.userExists();
      let user: UserRow;
      try {
        user = await insertUser(sql, {
          email: address,
          password: body.password,
          bcryptCost: settings.bcryptCost,
          emailConfirmed: !settings.email.enableConfirmations,
          appMetadata: {},
          userMetadata: body.data ?? {},
          anonymous: false,
        });
      } catch (error) {
        // Two sign-ups of one address at once: the unique index decides, as in GoTrue.
        if ((error as { code?: string }).code === '23505') throw refuse.userExists();
        throw error;
      }
      await audit(sql, 'user_signedup', user, request.ip, { provider: 'email' });
      if (settings.email.enableConfirmations) {
        // With confirmations on, GoTrue sends a mail and answers the user without a session.
        return { status: 200, body: await userJson(sql, user) };
      }
      return { status: 200, body: await sessionFor(user, 'password', request) };
    },

    async token(request: AuthRequest): Promise<AuthAnswer> {
      const grant = request.query.get('grant_type');
      if (grant === 'password') {
        const body = parse(passwordGrant, request.body);
        if (body.phone && !body.email) throw refuse.phoneProviderDisabled();
        if (!body.email) throw refuse.validation('An email address or phone number is required');
        limited(signInLimit, request);
        const user = validEmail(body.email) ? await userByEmail(sql, body.email) : undefined;
        if (!user || !(await passwordMatches(sql, user.id, body.password))) throw refuse.invalidCredentials();
        if (!user.email_confirmed_at && settings.email.enableConfirmations)
          throw new AuthError(400, 'email_not_confirmed', 'Email not confirmed');
        if (user.banned_until && user.banned_until.getTime() > Date.now())
          throw new AuthError(400, 'user_banned', 'User is banned');
        await audit(sql, 'login', user, request.ip, { provider: 'email' });
        return { status: 200, body: await sessionFor(user, 'password', request) };
      }
      if (grant === 'refresh_token') {
        const body = parse(refreshGrant, request.body);
        limited(refreshLimit, request);
        const { session, user, identities } = await refresh(sql, body.refresh_token, settings, { ip: request.ip });
        return { status: 200, body: await tokenAnswer(user, userJsonOf(user, identities), session, settings, keys) };
      }
      throw refuse.unsupportedGrant();
    },

    async logout(request: AuthRequest): Promise<AuthAnswer> {
      const scope = (request.query.get('scope') ?? 'global') as LogoutScope;
      if (!['global', 'local', 'others'].includes(scope))
        throw refuse.validation(`Unsupported logout scope "${scope}"`);
      const claims = await signedIn(request).catch((error: unknown) => {
        // Signing out of a session that is already gone succeeds, as in GoTrue.
        if (error instanceof AuthError && error.code === 'session_not_found') return undefined;
        throw error;
      });
      if (claims) {
        await endSessions(
          sql,
          claims.sub,
          typeof claims.session_id === 'string' ? claims.session_id : undefined,
          scope,
        );
        await audit(
          sql,
          'logout',
          { id: claims.sub, email: typeof claims.email === 'string' ? claims.email : '' },
          request.ip,
          { scope },
        );
      }
      return { status: 204 };
    },

    async getUser(request: AuthRequest): Promise<AuthAnswer> {
      const claims = await signedIn(request);
      const user = await userById(sql, claims.sub);
      if (!user) throw new AuthError(403, 'user_not_found', 'User from sub claim in JWT does not exist');
      return { status: 200, body: await userJson(sql, user) };
    },

    async updateUser(request: AuthRequest): Promise<AuthAnswer> {
      const claims = await signedIn(request);
      const body = parse(userUpdate, request.body);
      const user = await userById(sql, claims.sub);
      if (!user) throw new AuthError(403, 'user_not_found', 'User from sub claim in JWT does not exist');
      if (body.email !== undefined && body.email.toLowerCase() !== user.email) throw refuse.emailSendingUnavailable();
      if (body.password !== undefined) {
        checkPassword(body.password, settings);
        await sql`update auth.users set encrypted_password = extensions.crypt(${body.password}, extensions.gen_salt('bf', ${settings.bcryptCost})), updated_at = now() where id = ${user.id}`;
      }
      if (body.data !== undefined) {
        await sql`update auth.users set raw_user_meta_data = coalesce(raw_user_meta_data, '{}'::jsonb) || ${sql.json(body.data as never)}, updated_at = now() where id = ${user.id}`;
      }
      await audit(sql, 'user_modified', user, request.ip);
      return { status: 200, body: await userJson(sql, (await userById(sql, user.id))!) };
    },

    async adminListUsers(request: AuthRequest): Promise<AuthAnswer> {
      await admin(request);
      const page = Math.max(1, Number.parseInt(request.query.get('page') ?? '1', 10) || 1);
      const perPage = Math.min(1000, Math.max(1, Number.parseInt(request.query.get('per_page') ?? '50', 10) || 50));
      const [counted] = await sql<
        { total: number }[]
      >`select count(*)::int as total from auth.users where deleted_at is null`;
      const total = counted?.total ?? 0;
      const ids = await sql<
        { id: string }[]
      >`select id from auth.users where deleted_at is null order by created_at, id limit ${perPage} offset ${(page - 1) * perPage}`;
      const users = [];
      for (const { id } of ids) users.push(await userJson(sql, (await userById(sql, id))!));
      return { status: 200, body: { users, aud: 'authenticated' }, headers: { 'x-total-count': String(total) } };
    },

    async adminCreateUser(request: AuthRequest): Promise<AuthAnswer> {
      await admin(request);
      const body = parse(adminUser, request.body);
      if (!body.email) throw refuse.validation('Unable to validate email address: invalid format');
      const address = requireEmail(body.email);
      if (body.password !== undefined) checkPassword(body.password, settings);
      if (await userByEmail(sql, address)) throw refuse.emailExists();
      const user = await insertUser(sql, {
        email: address,
        password: body.password ?? null,
        bcryptCost: settings.bcryptCost,
        emailConfirmed: body.email_confirm ?? false,
        appMetadata: body.app_metadata ?? {},
        userMetadata: body.user_metadata ?? {},
        anonymous: false,
        role: body.role,
      });
      return { status: 200, body: await userJson(sql, user) };
    },

    async adminGetUser(request: AuthRequest, id: string): Promise<AuthAnswer> {
      await admin(request);
      const user = uuid.safeParse(id).success ? await userById(sql, id) : undefined;
      if (!user) throw refuse.userNotFound();
      return { status: 200, body: await userJson(sql, user) };
    },

    async adminUpdateUser(request: AuthRequest, id: string): Promise<AuthAnswer> {
      await admin(request);
      const body = parse(adminUser, request.body);
      const user = uuid.safeParse(id).success ? await userById(sql, id) : undefined;
      if (!user) throw refuse.userNotFound();
      if (body.password !== undefined) checkPassword(body.password, settings);
      const address = body.email === undefined ? undefined : requireEmail(body.email);
      await sql
        .begin(async (tx) => {
          if (address !== undefined) await tx`update auth.users set email = ${address} where id = ${id}`;
          if (body.password !== undefined)
            await tx`update auth.users set encrypted_password = extensions.crypt(${body.password}, extensions.gen_salt('bf', ${settings.bcryptCost})) where id = ${id}`;
          if (body.email_confirm === true)
            await tx`update auth.users set email_confirmed_at = coalesce(email_confirmed_at, now()) where id = ${id}`;
          if (body.user_metadata !== undefined)
            await tx`update auth.users set raw_user_meta_data = ${tx.json(body.user_metadata as never)} where id = ${id}`;
          if (body.app_metadata !== undefined)
            await tx`update auth.users set raw_app_meta_data = coalesce(raw_app_meta_data, '{}'::jsonb) || ${tx.json(body.app_metadata as never)} where id = ${id}`;
          if (body.role !== undefined) await tx`update auth.users set role = ${body.role} where id = ${id}`;
          await tx`update auth.users set updated_at = now() where id = ${id}`;
        })
        .catch((error: unknown) => {
          if ((error as { code?: string }).code === '23505') throw refuse.emailExists();
          throw error;
        });
      return { status: 200, body: await userJson(sql, (await userById(sql, id))!) };
    },

    async adminDeleteUser(request: AuthRequest, id: string): Promise<AuthAnswer> {
      await admin(request);
      if (!uuid.safeParse(id).success || !(await userById(sql, id))) throw refuse.userNotFound();
      // The user's sessions, identities and every row of the package go with it (on delete cascade).
      await sql`delete from auth.users where id = ${id}`;
      return { status: 200, body: {} };
    },
  };
}

export type Routes = ReturnType<typeof createRoutes>;
