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
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { configInvalid } from './lib/errors.ts';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The CLI's well-known local secrets (platform-facts.md §7). They are public demo values. */
export const localSecrets = {
  dbPassword: 'postgres',
  jwtSecret: 'super-secret-jwt-token-with-at-least-32-characters-long',
  anonKey:
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0',
  serviceRoleKey:
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU',
} as const;

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
  const password = localSecrets.dbPassword;
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
  };
}
