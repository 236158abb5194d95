/**
 * What `npm run setup` / `stack:*` do: the local database plus the API gateway (functions, realtime)
 * that runs in the background, like `supabase start` / `stop` / `status` without Docker.
 *
 *   setup        prerequisites → database (created and bootstrapped on first use) → at once:
 *                migrations and seed (`supabase db reset`, only when the database has none yet) and
 *                the gateway (every function booted, realtime streaming) → the status table
 *   stack:start  the same without the migrations step
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { StackError, portInUse } from './lib/errors.ts';
import type { StackConfig } from './config.ts';
import { databaseState, resetDatabase, startDatabase, stopDatabase } from './db/database.ts';
import { connectAs } from './db/platform.ts';

type Log = (line: string) => void;

const gatewayEntry = (config: StackConfig) => join(config.projectRoot, 'stack', 'gateway', 'main.ts');
const gatewayState = (config: StackConfig) => join(config.stackDir, 'gateway.json');
export const gatewayLog = (config: StackConfig) => join(config.stackDir, 'gateway.log');

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid of a running gateway, or undefined (a stale state file is removed). */
export function gatewayPid(config: StackConfig): number | undefined {
  const file = gatewayState(config);
  if (!existsSync(file)) return undefined;
  const { pid } = JSON.parse(readFileSync(file, 'utf8')) as { pid: number };
  if (isAlive(pid)) return pid;
  rmSync(file, { force: true });
  return undefined;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

async function waitForHealth(config: StackConfig, exited: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited()) break;
    try {
      const response = await fetch(`${config.api.url}/health`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const tail = existsSync(gatewayLog(config))
    ? readFileSync(gatewayLog(config), 'utf8').split('\n').slice(-20).join('\n')
    : '';
  throw new StackError('CLUSTER_START_FAILED', `the API gateway did not become healthy. Last lines of ${gatewayLog(config)}:\n${tail}`);
}

export async function startStack(config: StackConfig, log: Log): Promise<{ alreadyRunning: boolean }> {
  await startDatabase(config, log);
  return startGateway(config);
}

/** Starts the gateway in the background and waits until /health answers (every service ready). */
async function startGateway(config: StackConfig): Promise<{ alreadyRunning: boolean }> {
  if (gatewayPid(config) !== undefined) return { alreadyRunning: true };
  if (!(await portFree(config.api.port))) throw portInUse(config.api.port, 'the API gateway');
  mkdirSync(config.stackDir, { recursive: true });
  const out = openSync(gatewayLog(config), 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', gatewayEntry(config)], {
    cwd: config.projectRoot,
    env: process.env,
    detached: true,
    stdio: ['ignore', out, out],
  });
  let exited = false;
  child.once('exit', () => (exited = true));
  child.unref();
  await waitForHealth(config, () => exited, 30_000);
  return { alreadyRunning: false };
}

/** Whether `supabase db reset` has ever completed on this database (the CLI records migrations there). */
async function hasMigrations(config: StackConfig): Promise<boolean> {
  const sql = connectAs(config, 'postgres');
  try {
    const [row] = await sql<{ found: boolean }[]>`select to_regclass('supabase_migrations.schema_migrations') is not null as found`;
    return row?.found ?? false;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function timed<T>(log: Log, step: string, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const result = await work();
  log(`${step.padEnd(58)} ${Math.round(performance.now() - t0).toString().padStart(6)} ms`);
  return result;
}

/**
 * `npm run setup`: what `supabase start` leaves, without Docker. The database is migrated and
 * seeded on first use only (afterwards `npm run db:reset` does it on demand, as with the CLI);
 * the reset and the gateway's start overlap, since the gateway needs only the running server.
 */
export async function setupStack(config: StackConfig, log: Log): Promise<{ alreadyRunning: boolean }> {
  const t0 = performance.now();
  const before = await timed(log, 'database (PostgreSQL 15, platform bootstrap on first use)', () => startDatabase(config, () => {}));
  const migrate = (await hasMigrations(config))
    ? Promise.resolve(log('migrations and seed: already applied (npm run db:reset re-applies them)'))
    : timed(log, 'migrations and seed (supabase db reset, CLI 3.1.0)', () => resetDatabase(config, { quiet: true }));
  const gateway = timed(log, 'API gateway: functions booted, realtime streaming', () => startGateway(config));
  const [, started] = await Promise.all([migrate, gateway]);
  log(`${'ready'.padEnd(58)} ${Math.round(performance.now() - t0).toString().padStart(6)} ms`);
  return { alreadyRunning: before.running && started.alreadyRunning };
}

export async function stopGateway(config: StackConfig): Promise<boolean> {
  const pid = gatewayPid(config);
  if (pid === undefined) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(gatewayState(config), { force: true });
  return true;
}

export async function stopStack(config: StackConfig): Promise<{ gateway: boolean; database: boolean }> {
  const gateway = await stopGateway(config);
  const database = await stopDatabase(config);
  return { gateway, database };
}

/** The same variables `supabase status -o env` prints, for this stack. */
export function stackVariables(config: StackConfig): Record<string, string> {
  const ws = config.api.url.replace(/^http/, 'ws');
  return {
    API_URL: config.api.url,
    FUNCTIONS_URL: `${config.api.url}/functions/v1`,
    REALTIME_URL: `${ws}/realtime/v1`,
    DB_URL: config.db.url,
    PUBLISHABLE_KEY: config.keys.publishableKey,
    SECRET_KEY: config.keys.secretKey,
    JWT_SECRET: config.keys.jwtSecret,
    ANON_KEY: config.keys.anonKey,
    SERVICE_ROLE_KEY: config.keys.serviceRoleKey,
  };
}

export async function stackStatus(config: StackConfig): Promise<{ database: string; gateway: string }> {
  const db = await databaseState(config);
  return {
    database: db.running ? 'running' : db.exists ? 'stopped' : 'not created',
    gateway: gatewayPid(config) !== undefined ? 'running' : 'stopped',
  };
}
