/**
 * The one place the local stack's settings are resolved.
 *
 * Precedence for every setting: environment variable, then `supabase/config.toml`, then the Supabase
 * CLI's local default. `npm test` uses the environment to run a separate stack (own folder, own
 * ports) so that it never touches the database you develop against.
 *
 * | setting       | environment          | config.toml    | default       |
 * |---------------|----------------------|----------------|---------------|
 * | stack folder  | VIRGIL_STACK_DIR     | -              | <project>/.stack |
 * | database port | VIRGIL_DB_PORT       | [db] port      | 54322         |
 * | API port      | VIRGIL_API_PORT      | [api] port     | 54321         |
 * | PG major      | -                    | [db] major_version | 15        |
 * | realtime quotas | VIRGIL_REALTIME_<NAME> | [realtime.limits] <name> | realtime/limits.ts |
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { buildKeySet, cliDefaults, type KeySet, resolveSigningKeysPath } from './identity/keys.ts';
import { configInvalid } from './lib/errors.ts';
import { type RealtimeLimits, resolveLimits } from './realtime/limits.ts';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The CLI's local database password, a public demo value. */
const dbPassword = 'postgres';

export interface StackConfig {
  projectRoot: string;
  projectId: string;
  stackDir: string;
  db: {
    port: number;
    majorVersion: number;
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
  /** The realtime server's quotas: VIRGIL_REALTIME_<NAME>, else [realtime.limits] (realtime/limits.ts). */
  realtime: { limits: RealtimeLimits };
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

function port(name: string, fromEnv: string | undefined, fromToml: unknown, fallback: number): number {
  const raw = fromEnv ?? fromToml ?? fallback;
  const value = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw configInvalid(`${name} must be a port number from 1 to 65535, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): StackConfig {
  const toml = readToml(join(projectRoot, 'supabase', 'config.toml'));
  const db = section(toml, 'db');
  const api = section(toml, 'api');
  const projectId = typeof toml.project_id === 'string' ? toml.project_id : 'virgil';
  const majorVersion = typeof db.major_version === 'number' ? db.major_version : 15;
  if (![15, 17].includes(majorVersion)) {
    throw configInvalid(`[db] major_version = ${majorVersion}; this package supports 15 and 17`);
  }
  const dbPort = port('database port ([db] port or VIRGIL_DB_PORT)', env.VIRGIL_DB_PORT, db.port, 54322);
  const apiPort = port('API port ([api] port or VIRGIL_API_PORT)', env.VIRGIL_API_PORT, api.port, 54321);
  const password = dbPassword;
  const auth = section(toml, 'auth');
  const text = (value: unknown, fallback: string) => (typeof value === 'string' && value !== '' ? value : fallback);
  const keys = buildKeySet({
    jwtSecret: text(auth.jwt_secret, cliDefaults.jwtSecret),
    anonKey: text(auth.anon_key, cliDefaults.anonKey),
    serviceRoleKey: text(auth.service_role_key, cliDefaults.serviceRoleKey),
    publishableKey: text(auth.publishable_key, cliDefaults.publishableKey),
    secretKey: text(auth.secret_key, cliDefaults.secretKey),
    signingKeysPath: resolveSigningKeysPath(projectRoot, auth.signing_keys_path),
  });
  return {
    projectRoot,
    projectId,
    stackDir: resolve(env.VIRGIL_STACK_DIR ?? join(projectRoot, '.stack')),
    db: {
      port: dbPort,
      majorVersion,
      url: `postgresql://postgres:${password}@127.0.0.1:${dbPort}/postgres`,
      cliUrl: `postgresql://postgres:${password}@127.0.0.1:${dbPort}/postgres?sslmode=disable`,
      superuserUrl: `postgresql://supabase_admin:${password}@127.0.0.1:${dbPort}/postgres`,
    },
    api: { port: apiPort, url: `http://127.0.0.1:${apiPort}` },
    keys,
    realtime: { limits: resolveLimits(env, section(section(toml, 'realtime'), 'limits')) },
  };
}
