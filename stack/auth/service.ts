/**
 * The local Auth service at /auth/v1: GoTrue's endpoints for what apps and `@supabase/auth-js` use
 * (routes.ts), configured from `[auth]` (settings.ts), keeping its state in the `auth` schema as
 * GoTrue does (stack/db/platform/02_auth.sql, 05_auth_service.sql) and connecting as
 * `supabase_auth_admin`, GoTrue's role. Email and phone flows (mails, magic links, OTP, recovery)
 * are answered as a project without an SMTP or SMS provider answers them; see docs/auth.md.
 */
import postgres from 'postgres';
import type { StackConfig } from '../config.ts';
import { type GatewayService, type ServiceFactory, sendJson } from '../gateway/server.ts';
import { platformChapter } from '../db/platform.ts';
import { publishedJwks } from '../identity/keys.ts';
import { classifyPgError, sqlState } from '../lib/pg-errors.ts';
import { BodyTooLarge, readBody } from '../lib/request-body.ts';
import { nestsDeeperThan } from '../realtime/limits.ts';
import { AuthError, refuse, sendAuthError, sendAuthJson } from './errors.ts';
import { type AuthAnswer, type AuthRequest, createRoutes } from './routes.ts';

export const authPrefix = '/auth/v1/';
const maxBodyBytes = 1024 * 1024;
const refreshGrantChapter = '06_auth_refresh_grant.sql';

function parseJson(raw: Buffer): unknown {
  if (raw.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw refuse.badJson((error as Error).message);
  }
  if (nestsDeeperThan(value, 64)) throw refuse.badJson('the body nests deeper than 64 levels');
  return value;
}

/** An error PostgreSQL sent, or the loss of the connection to it (postgres.js codes), not a bug here. */
const fromDatabase = (error: unknown) =>
  sqlState(error) !== undefined ||
  /^(ECONN|CONNECT_TIMEOUT|CONNECTION_)/.test(String((error as { code?: unknown } | null)?.code ?? ''));

const tooLarge = (error: unknown): never => {
  throw error instanceof BodyTooLarge ? refuse.payloadTooLarge() : error;
};

/**
 * A cluster bootstrapped before platform chapter 6 lacks the refresh grant's function: Auth applies
 * that chapter (idempotent) when it starts, as GoTrue migrates its own schema when it starts.
 */
async function ensureRefreshGrant(sql: postgres.Sql): Promise<void> {
  const [row] = await sql<{ found: boolean }[]>`
    select to_regprocedure('auth.refresh_token_grant(text, boolean, integer, text)') is not null as found`;
  if (!row?.found) await sql.unsafe(platformChapter(refreshGrantChapter)).simple();
}

const firstHeader = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

export const authService: ServiceFactory = async (config: StackConfig): Promise<GatewayService> => {
  const settings = config.auth;
  const sql = postgres({
    host: '127.0.0.1',
    port: config.db.port,
    user: 'supabase_auth_admin',
    password: 'postgres',
    database: 'postgres',
    max: 8,
    onnotice: () => {},
    connection: { application_name: 'virgil-auth' },
  });
  await sql`select 1 from auth.sessions limit 0`;
  await ensureRefreshGrant(sql);
  const routes = createRoutes({ sql, settings, keys: config.keys });
  const log = (line: string) => console.log(line);

  async function answer(request: AuthRequest): Promise<AuthAnswer> {
    const { method, path } = request;
    const is = (m: string, p: string) => method === m && path === p;
    if (is('GET', '/health')) return routes.health();
    if (is('GET', '/settings')) return routes.settings();
    if (is('GET', '/.well-known/jwks.json')) return { status: 200, body: publishedJwks(config.keys) };
    if (is('POST', '/signup')) return routes.signup(request);
    if (is('POST', '/token')) return routes.token(request);
    if (is('POST', '/logout')) return routes.logout(request);
    if (is('GET', '/user')) return routes.getUser(request);
    if (is('PUT', '/user')) return routes.updateUser(request);
    if (is('GET', '/admin/users')) return routes.adminListUsers(request);
    if (is('POST', '/admin/users')) return routes.adminCreateUser(request);
    const adminUser = /^\/admin\/users\/([^/]+)$/.exec(path);
    if (adminUser) {
      // A malformed escape is no user id: decodeURIComponent would throw.
      const id = /%(?![0-9a-f]{2})/i.test(adminUser[1]!) ? '' : decodeURIComponent(adminUser[1]!);
      if (method === 'GET') return routes.adminGetUser(request, id);
      if (method === 'PUT') return routes.adminUpdateUser(request, id);
      if (method === 'DELETE') return routes.adminDeleteUser(request, id);
      throw refuse.methodNotAllowed(method);
    }
    // Flows that need a mail or SMS provider, which the local stack does not have.
    if (
      method === 'POST' &&
      ['/otp', '/magiclink', '/recover', '/resend', '/invite', '/reauthenticate'].includes(path)
    ) {
      const body = request.body as { phone?: unknown } | undefined;
      throw body && typeof body === 'object' && 'phone' in body && body.phone
        ? refuse.phoneProviderDisabled()
        : refuse.emailSendingUnavailable();
    }
    if (
      [
        '/health',
        '/settings',
        '/signup',
        '/token',
        '/logout',
        '/user',
        '/admin/users',
        '/.well-known/jwks.json',
      ].includes(path)
    )
      throw refuse.methodNotAllowed(method);
    throw refuse.notFound(`${method} /auth/v1${path}`);
  }

  return {
    name: 'auth',
    prefix: authPrefix,
    describe: () => ({ 'Auth URL': `${config.api.url}/auth/v1` }),

    async handleRequest(request, response) {
      const url = new URL(request.url ?? '/', 'http://gateway');
      const method = request.method ?? 'GET';
      try {
        let body: unknown;
        if (method === 'POST' || method === 'PUT')
          body = parseJson(await readBody(request, maxBodyBytes).catch(tooLarge));
        else request.resume();
        const authorization = firstHeader(request.headers.authorization);
        const forwardedFor = firstHeader(request.headers['x-forwarded-for'])?.split(',')[0]?.trim();
        const result = await answer({
          method,
          path: url.pathname.slice(authPrefix.length - 1).replace(/\/$/, '') || '/',
          query: url.searchParams,
          body,
          bearer: authorization?.toLowerCase().startsWith('bearer ') ? authorization.slice(7).trim() : undefined,
          ip: forwardedFor || request.socket.remoteAddress,
          userAgent: firstHeader(request.headers['user-agent']),
        });
        sendAuthJson(response, result.status, result.status === 204 ? undefined : result.body, result.headers);
      } catch (error) {
        if (error instanceof AuthError) return sendAuthError(request, response, error);
        if (fromDatabase(error) && classifyPgError(error) === 'retryable') {
          log(`[auth] database busy on ${method} ${url.pathname}: ${(error as Error).message}`);
          return sendJson(
            response,
            503,
            { code: 'service_unavailable', message: 'Auth is busy; retry' },
            { 'retry-after': '1' },
          );
        }
        throw error;
      }
    },

    async close() {
      await sql.end({ timeout: 5 });
    },
  };
};
