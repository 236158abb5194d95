/**
 * The one place the local stack's settings are resolved. Every command and every service process
 * calls `loadConfig()`; nothing else reads `process.env` or `supabase/config.toml` for a setting.
 *
 * Precedence, the same for every setting (later wins):
 *   1. the default in the table below (the Supabase CLI's local default where it has one),
 *   2. `supabase/config.toml`, where the setting has a key there,
 *   3. the environment variable, when set and not empty.
 * `npm test` uses the environment to run a separate stack (own folder, own ports) so that it never
 * touches the database you develop against; a test that needs a server with other settings passes
 * its own environment: `loadConfig({ ...process.env, VIRGIL_REALTIME_PRIVATE_ONLY: '1' })`.
 *
 * | setting                   | environment                      | config.toml                 | default                  |
 * |---------------------------|----------------------------------|-----------------------------|--------------------------|
 * | project served            | VIRGIL_PROJECT_DIR               | -                           | this package             |
 * | stack folder              | VIRGIL_STACK_DIR                 | -                           | <project>/.stack         |
 * | database port             | VIRGIL_DB_PORT                   | [db] port                   | 54322                    |
 * | API port (the gateway)    | VIRGIL_API_PORT                  | [api] port                  | 54321                    |
 * | PG major                  | -                                | [db] major_version          | 15                       |
 * | PostgreSQL binaries       | VIRGIL_PG_BINDIR                 | -                           | /usr/lib/postgresql/<major>/bin |
 * | JWT secret, legacy and    | -                                | [auth] jwt_secret, anon_key,| the CLI's demo values    |
 * |   opaque keys             |                                  |  service_role_key, publishable_key, secret_key | |
 * | signing keys              | -                                | [auth] signing_keys_path    | the CLI's ES256 key      |
 * | realtime private only     | VIRGIL_REALTIME_PRIVATE_ONLY     | [realtime] private_only     | false                    |
 * | realtime pool size        | VIRGIL_REALTIME_POOL_MAX         | -                           | 8                        |
 * | realtime RLS check lanes  | VIRGIL_REALTIME_CHECK_LANES      | -                           | 4                        |
 * | realtime join error delay | VIRGIL_REALTIME_ERROR_BACKOFF_MS | -                           | 1000 (the platform: 5000)|
 * | realtime changes slot     | VIRGIL_REALTIME_SLOT             | -                           | virgil_realtime          |
 * | realtime broadcast slot   | VIRGIL_REALTIME_BROADCAST_SLOT   | -                           | virgil_realtime_messages |
 * | realtime debug log        | VIRGIL_REALTIME_DEBUG            | -                           | false                    |
 * | Data API on               | VIRGIL_REST_ENABLED              | [api] enabled               | true                     |
 * | Data API schemas          | -                                | [api] schemas               | public, graphql_public   |
 * | Data API extra search path| -                                | [api] extra_search_path     | public, extensions       |
 * | Data API row limit        | -                                | [api] max_rows              | 1000                     |
 *
 * `[realtime] private_only` is the platform's "Allow public access" switched off (`private_only` in
 * the Management API). The CLI has no config.toml key for it and warns about one it does not know,
 * so the environment variable is the usual way to set it. Booleans accept 1/true/0/false.
 * The local Auth service reads `[auth]`, `[auth.email]` and `[auth.rate_limit]` as the CLI does
 * (auth/settings.ts has its table); VIRGIL_AUTH_JWT_EXPIRY, VIRGIL_AUTH_REFRESH_TOKEN_REUSE_INTERVAL
 * and VIRGIL_AUTH_RATE_LIMIT_<NAME> override them for a test stack.
 * The realtime server's quotas follow the same precedence: VIRGIL_REALTIME_<NAME>, then
 * `[realtime.limits] <name>`, then the self-hosted server's defaults (table in realtime/limits.ts).
 * docs/local-stack.md carries the same table for users.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { type AuthSettings, authSettings } from './auth/settings.ts';
import { buildKeySet, cliDefaults, type KeySet, resolveSigningKeysPath } from './identity/keys.ts';
import { configInvalid } from './lib/errors.ts';
import { type RealtimeLimits, resolveLimits } from './realtime/limits.ts';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The CLI's local database password, a public demo value. */
const dbPassword = 'postgres';

export interface RealtimeConfig {
  /** "Allow public access" switched off: every channel must be private. */
  privateOnly: boolean;
  /** Connections of the shared pool (catalog reads, RLS checks), however many sockets. */
  poolMax: number;
  /** Parallel lanes of Postgres Changes RLS checks. */
  checkLanes: number;
  /** Delay before a join error reply. */
  errorBackoffMs: number;
  /** The permanent replication slot of Postgres Changes. */
  slot: string;
  /** The permanent replication slot of Broadcast from Database. */
  broadcastSlot: string;
  /** Log every frame received and every transaction decoded. */
  debug: boolean;
  /** The quotas (realtime/limits.ts). */
  limits: RealtimeLimits;
}

export interface StackConfig {
  /** This package: the stack's code, node_modules and the functions it serves. */
  projectRoot: string;
  /**
   * The project whose `supabase/` folder the database is built from: config.toml, migrations,
   * seed.sql and the pgTAP tests (the CLI's working directory). This package unless
   * VIRGIL_PROJECT_DIR names another, as a conformance suite's own schema does.
   */
  projectDir: string;
  projectId: string;
  stackDir: string;
  db: {
    port: number;
    majorVersion: number;
    /** Where initdb, pg_ctl and postgres are looked for first (undefined: the Debian layout only). */
    pgBinDir: string | undefined;
    /** The URL users and tools connect with: role postgres, as on a hosted project. */
    url: string;
    /** The same, in the form the Supabase CLI's `--remote=<url>` takes for a local server without TLS. */
    cliUrl: string;
    /** The bootstrap superuser, for what only the platform itself may do. */
    superuserUrl: string;
  };
  api: { port: number; url: string };
  /** The one key set every service signs and verifies with (identity/keys.ts). */
  keys: KeySet;
  realtime: RealtimeConfig;
  /** The Data API (PostgREST), from `[api]` as the CLI reads it. */
  rest: RestConfig;
  /** The local Auth service, from `[auth]` (auth/settings.ts). */
  auth: AuthSettings;
  /** Services of services.ts that config.toml switches off (`[api] enabled = false`: `rest`; `[auth] enabled = false`: `auth`). */
  disabledServices: string[];
}

export interface RestConfig {
  enabled: boolean;
  /** Schemas served (`db-schemas`). */
  schemas: string[];
  /** Added to every request's search_path (`db-extra-search-path`). */
  extraSearchPath: string[];
  /** Most rows one answer carries (`db-max-rows`). */
  maxRows: number;
}

type Toml = Record<string, unknown>;

function readToml(path: string): Toml {
  try {
    return parse(readFileSync(path, 'utf8')) as Toml;
  } catch (error) {
    throw configInvalid(`cannot read ${path}: ${(error as Error).message}`);
  }
}

function section(toml: Toml, name: string): Toml {
  const value = toml[name];
  return typeof value === 'object' && value !== null ? (value as Toml) : {};
}

/** One setting: where it may come from, its default, and how a raw value becomes a value. */
interface Setting<T> {
  env?: string;
  /** `[section] key` in config.toml. */
  toml?: readonly [string, string];
  fallback: T;
  parse(raw: unknown, where: string): T;
}

const integer =
  (min: number, max: number) =>
  (raw: unknown, where: string): number => {
    const value =
      typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
    if (!Number.isInteger(value) || value < min || value > max) {
      throw configInvalid(`${where} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };

const port = integer(1, 65535);

function boolean(raw: unknown, where: string): boolean {
  if (typeof raw === 'boolean') return raw;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw configInvalid(`${where} must be true or false (1 or 0), got ${JSON.stringify(raw)}`);
}

function name(raw: unknown, where: string): string {
  if (typeof raw === 'string' && /^[a-z_][a-z0-9_]{0,62}$/.test(raw)) return raw;
  throw configInvalid(
    `${where} must be a lower-case SQL identifier (a replication slot name), got ${JSON.stringify(raw)}`,
  );
}

function identifiers(raw: unknown, where: string): string[] {
  const list = typeof raw === 'string' ? raw.split(',').map((item) => item.trim()) : raw;
  if (
    Array.isArray(list) &&
    list.every((item) => typeof item === 'string' && /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(item))
  )
    return list as string[];
  throw configInvalid(`${where} must be a list of schema names, got ${JSON.stringify(raw)}`);
}

function text(raw: unknown, where: string): string {
  if (typeof raw === 'string') return raw;
  throw configInvalid(`${where} must be a string, got ${JSON.stringify(raw)}`);
}

/** The defaults table: every setting with a default, its config.toml key and its variable. */
export const settings = {
  stackDir: { env: 'VIRGIL_STACK_DIR', fallback: join(projectRoot, '.stack'), parse: text },
  dbPort: { env: 'VIRGIL_DB_PORT', toml: ['db', 'port'], fallback: 54322, parse: port },
  apiPort: { env: 'VIRGIL_API_PORT', toml: ['api', 'port'], fallback: 54321, parse: port },
  majorVersion: { toml: ['db', 'major_version'], fallback: 15, parse: integer(15, 17) },
  pgBinDir: { env: 'VIRGIL_PG_BINDIR', fallback: '', parse: text },
  realtimePrivateOnly: {
    env: 'VIRGIL_REALTIME_PRIVATE_ONLY',
    toml: ['realtime', 'private_only'],
    fallback: false,
    parse: boolean,
  },
  realtimePoolMax: { env: 'VIRGIL_REALTIME_POOL_MAX', fallback: 8, parse: integer(1, 1000) },
  realtimeCheckLanes: { env: 'VIRGIL_REALTIME_CHECK_LANES', fallback: 4, parse: integer(1, 64) },
  realtimeErrorBackoffMs: { env: 'VIRGIL_REALTIME_ERROR_BACKOFF_MS', fallback: 1000, parse: integer(0, 60_000) },
  realtimeSlot: { env: 'VIRGIL_REALTIME_SLOT', fallback: 'virgil_realtime', parse: name },
  realtimeBroadcastSlot: { env: 'VIRGIL_REALTIME_BROADCAST_SLOT', fallback: 'virgil_realtime_messages', parse: name },
  realtimeDebug: { env: 'VIRGIL_REALTIME_DEBUG', fallback: false, parse: boolean },
  restEnabled: { env: 'VIRGIL_REST_ENABLED', toml: ['api', 'enabled'], fallback: true, parse: boolean },
  restSchemas: { toml: ['api', 'schemas'], fallback: ['public', 'graphql_public'], parse: identifiers },
  restExtraSearchPath: { toml: ['api', 'extra_search_path'], fallback: ['public', 'extensions'], parse: identifiers },
  restMaxRows: { toml: ['api', 'max_rows'], fallback: 1000, parse: integer(1, 1_000_000) },
} satisfies Record<string, Setting<unknown>>;

/** Resolves one setting: default, then config.toml, then the environment. */
function resolveSetting<T>(setting: Setting<T>, toml: Toml, env: NodeJS.ProcessEnv): T {
  const fromEnv = setting.env === undefined ? undefined : env[setting.env];
  if (fromEnv !== undefined && fromEnv !== '') return setting.parse(fromEnv, setting.env!);
  if (setting.toml) {
    const [table, key] = setting.toml;
    const fromToml = section(toml, table)[key];
    if (fromToml !== undefined) return setting.parse(fromToml, `[${table}] ${key} in supabase/config.toml`);
  }
  return setting.fallback;
}

/** The configuration; `configToml` is for tests that need a project file of their own. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, configToml?: string): StackConfig {
  const projectDir = resolve(env.VIRGIL_PROJECT_DIR || projectRoot);
  const toml = readToml(configToml ?? join(projectDir, 'supabase', 'config.toml'));
  const get = <T>(setting: Setting<T>) => resolveSetting(setting, toml, env);
  const projectId = typeof toml.project_id === 'string' ? toml.project_id : 'virgil';
  const majorVersion = get(settings.majorVersion);
  if (![15, 17].includes(majorVersion)) {
    throw configInvalid(`[db] major_version = ${majorVersion}; this package supports 15 and 17`);
  }
  const dbPort = get(settings.dbPort);
  const apiPort = get(settings.apiPort);
  const password = dbPassword;
  const authConfig = authSettings(toml, env, `http://127.0.0.1:${apiPort}`);
  const rest: RestConfig = {
    enabled: get(settings.restEnabled),
    schemas: get(settings.restSchemas),
    extraSearchPath: get(settings.restExtraSearchPath),
    maxRows: get(settings.restMaxRows),
  };
  const auth = section(toml, 'auth');
  const textOr = (value: unknown, fallback: string) => (typeof value === 'string' && value !== '' ? value : fallback);
  const keys = buildKeySet({
    jwtSecret: textOr(auth.jwt_secret, cliDefaults.jwtSecret),
    anonKey: textOr(auth.anon_key, cliDefaults.anonKey),
    serviceRoleKey: textOr(auth.service_role_key, cliDefaults.serviceRoleKey),
    publishableKey: textOr(auth.publishable_key, cliDefaults.publishableKey),
    secretKey: textOr(auth.secret_key, cliDefaults.secretKey),
    signingKeysPath: resolveSigningKeysPath(projectDir, auth.signing_keys_path),
  });
  return {
    projectRoot,
    projectDir,
    projectId,
    stackDir: resolve(get(settings.stackDir)),
    db: {
      port: dbPort,
      majorVersion,
      pgBinDir: get(settings.pgBinDir) || undefined,
      url: `postgresql://postgres:${password}@127.0.0.1:${dbPort}/postgres`,
      cliUrl: `postgresql://postgres:${password}@127.0.0.1:${dbPort}/postgres?sslmode=disable`,
      superuserUrl: `postgresql://supabase_admin:${password}@127.0.0.1:${dbPort}/postgres`,
    },
    api: { port: apiPort, url: `http://127.0.0.1:${apiPort}` },
    keys,
    realtime: {
      privateOnly: get(settings.realtimePrivateOnly),
      poolMax: get(settings.realtimePoolMax),
      checkLanes: get(settings.realtimeCheckLanes),
      errorBackoffMs: get(settings.realtimeErrorBackoffMs),
      slot: get(settings.realtimeSlot),
      broadcastSlot: get(settings.realtimeBroadcastSlot),
      debug: get(settings.realtimeDebug),
      limits: resolveLimits(env, section(section(toml, 'realtime'), 'limits')),
    },
    rest,
    auth: authConfig,
    disabledServices: [...(rest.enabled ? [] : ['rest']), ...(authConfig.enabled ? [] : ['auth'])],
  };
}
