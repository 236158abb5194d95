/**
 * What `npm run setup` / `stack:*` do: the local database plus the API side (the supervisor, which
 * runs the gateway and each service in a process of its own, see supervisor/) in the background,
 * like `supabase start` / `stop` / `status` without Docker.
 *
 *   setup        prerequisites → database (created and bootstrapped on first use) → at once:
 *                migrations and seed (`supabase db reset`, only when the database has none yet) and
 *                the services (every function booted, realtime streaming) → the status table
 *   stack:start  the same without the migrations step
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { StackError, portInUse } from './lib/errors.ts';
import type { StackConfig } from './config.ts';
import { databaseState, resetDatabase, startDatabase, stopDatabase } from './db/database.ts';
import { connectAs } from './db/platform.ts';
import type { ServiceStatus, SupervisorState } from './supervisor/protocol.ts';
import { supervisorPlan } from './supervisor/children.ts';
import type { SupervisorPlan } from './supervisor/main.ts';
import { killGroup, logFile, logsDir, stateFile } from './supervisor/supervisor.ts';

type Log = (line: string) => void;

const supervisorEntry = (config: StackConfig) => join(config.projectRoot, 'stack', 'supervisor', 'main.ts');
export const supervisorLog = (config: StackConfig) => logFile(config.stackDir, 'supervisor');
export const serviceLog = (config: StackConfig, name: string) => logFile(config.stackDir, name);

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether `pid` runs something of this project (a pid from a stale file may belong to anyone now). */
function isOurs(pid: number, config: StackConfig): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(config.projectRoot);
  } catch {
    return false;
  }
}

function readState(config: StackConfig): SupervisorState | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(config.stackDir), 'utf8')) as SupervisorState;
  } catch {
    return undefined;
  }
}

/**
 * The running supervisor's state, or undefined. A state file left by a supervisor that was killed
 * is removed, and whatever of its children still runs is stopped with its process group.
 */
export function supervisorState(config: StackConfig): SupervisorState | undefined {
  const state = readState(config);
  if (!state) return undefined;
  if (isAlive(state.pid) && isOurs(state.pid, config)) return state;
  for (const service of state.services) {
    if (service.pid !== undefined && isAlive(service.pid) && isOurs(service.pid, config)) killGroup(service.pid);
  }
  rmSync(stateFile(config.stackDir), { force: true });
  return undefined;
}

/** Every process of the running API side: the supervisor, the gateway, every service (for CPU meters). */
export function servicePids(config: StackConfig): number[] {
  const state = supervisorState(config);
  if (!state) return [];
  return [state.pid, ...state.services.flatMap((service) => (service.pid === undefined ? [] : [service.pid]))];
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

const tail = (file: string, lines = 20) =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n') : '';

/** Waits until /health says every service runs; fails with the log of a service that failed. */
async function waitForServices(config: StackConfig, exited: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !exited()) {
    try {
      const response = await fetch(`${config.api.url}/health`);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    const failed = readState(config)?.services.find((service) => service.state === 'failed');
    if (failed) {
      const file = serviceLog(config, failed.name);
      throw new StackError(
        'CLUSTER_START_FAILED',
        `the ${failed.name} service did not start. Last lines of ${file}:\n${tail(file)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const waiting = (readState(config)?.services ?? []).filter((service) => service.state !== 'running');
  const logs = waiting
    .map((service) => `--- ${serviceLog(config, service.name)}:\n${tail(serviceLog(config, service.name))}`)
    .join('\n');
  const states = waiting.map((service) => `${service.name}: ${service.state}`).join(', ') || 'the supervisor exited';
  const supervisorTail = `Last lines of ${supervisorLog(config)}:\n${tail(supervisorLog(config))}`;
  throw new StackError(
    'CLUSTER_START_FAILED',
    `the API services did not become ready (${states}). ${supervisorTail}\n${logs}`,
  );
}

export async function startStack(config: StackConfig, log: Log): Promise<{ alreadyRunning: boolean }> {
  // Loading the services list (their code) overlaps the database's start.
  const plan = supervisorPlan(config);
  plan.catch(() => undefined);
  await startDatabase(config, log);
  return startServices(config, { plan });
}

export interface StartServicesOptions {
  /** The environment the supervisor and its children resolve their configuration from (default: ours). */
  env?: NodeJS.ProcessEnv;
  /** What to run (default: the gateway and stack/gateway/services.ts; tests name a list of their own). */
  plan?: Promise<SupervisorPlan>;
}

/**
 * Starts the supervisor in the background (it starts the gateway and every service) and waits until
 * /health answers 200: every service ready. On failure everything started is stopped again.
 */
export async function startServices(
  config: StackConfig,
  options: StartServicesOptions = {},
): Promise<{ alreadyRunning: boolean }> {
  if (supervisorState(config) !== undefined) return { alreadyRunning: true };
  if (!(await portFree(config.api.port))) throw portInUse(config.api.port, 'the API gateway');
  mkdirSync(logsDir(config.stackDir), { recursive: true });
  const out = openSync(supervisorLog(config), 'a');
  const plan = await (options.plan ?? supervisorPlan(config));
  // Node's own type stripping: the supervisor loads no service code (main.ts).
  const child = spawn(process.execPath, [supervisorEntry(config), JSON.stringify(plan)], {
    cwd: config.projectRoot,
    env: options.env ?? process.env,
    detached: true,
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  let exited = false;
  child.once('exit', () => (exited = true));
  child.unref();
  try {
    await waitForServices(config, () => exited, 60_000);
  } catch (error) {
    await stopServices(config);
    if (child.pid !== undefined && isAlive(child.pid)) killGroup(child.pid);
    throw error;
  }
  return { alreadyRunning: false };
}

/** Whether `supabase db reset` has ever completed on this database (the CLI records migrations there). */
async function hasMigrations(config: StackConfig): Promise<boolean> {
  const sql = connectAs(config, 'postgres');
  try {
    const [row] = await sql<
      { found: boolean }[]
    >`select to_regclass('supabase_migrations.schema_migrations') is not null as found`;
    return row?.found ?? false;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function timed<T>(log: Log, step: string, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const result = await work();
  log(
    `${step.padEnd(58)} ${Math.round(performance.now() - t0)
      .toString()
      .padStart(6)} ms`,
  );
  return result;
}

/**
 * `npm run setup`: what `supabase start` leaves, without Docker. The database is migrated and
 * seeded on first use only (afterwards `npm run db:reset` does it on demand, as with the CLI);
 * the reset and the services' start overlap, since they need only the running server.
 */
export async function setupStack(config: StackConfig, log: Log): Promise<{ alreadyRunning: boolean }> {
  const t0 = performance.now();
  const plan = supervisorPlan(config);
  plan.catch(() => undefined);
  const before = await timed(log, 'database (PostgreSQL 15, platform bootstrap on first use)', () =>
    startDatabase(config, () => {}),
  );
  const migrate = (await hasMigrations(config))
    ? Promise.resolve(log('migrations and seed: already applied (npm run db:reset re-applies them)'))
    : timed(log, 'migrations and seed (supabase db reset, CLI 3.1.0)', () => resetDatabase(config, { quiet: true }));
  const services = timed(log, 'API services (gateway, realtime, functions, …) answering', () =>
    startServices(config, { plan }),
  );
  const [, started] = await Promise.all([migrate, services]);
  log(
    `${'ready'.padEnd(58)} ${Math.round(performance.now() - t0)
      .toString()
      .padStart(6)} ms`,
  );
  return { alreadyRunning: before.running && started.alreadyRunning };
}

/**
 * Stops the supervisor, which stops every service; then makes sure no process of it is left (each
 * recorded process group is killed) and removes the state file.
 */
export async function stopServices(config: StackConfig): Promise<boolean> {
  const state = supervisorState(config);
  if (state === undefined) return false;
  process.kill(state.pid, 'SIGTERM');
  const deadline = Date.now() + 15_000;
  while (isAlive(state.pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  if (isAlive(state.pid)) process.kill(state.pid, 'SIGKILL');
  for (const service of readState(config)?.services ?? state.services) {
    if (service.pid !== undefined && isAlive(service.pid) && isOurs(service.pid, config)) killGroup(service.pid);
  }
  rmSync(stateFile(config.stackDir), { force: true });
  return true;
}

export async function stopStack(config: StackConfig): Promise<{ services: boolean; database: boolean }> {
  const services = await stopServices(config);
  const database = await stopDatabase(config);
  return { services, database };
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

export interface StackStatus {
  database: 'running' | 'stopped' | 'not created';
  /** The supervisor's view of the gateway and every service; empty when the API side is stopped. */
  services: ServiceStatus[];
}

export async function stackStatus(config: StackConfig): Promise<StackStatus> {
  const db = await databaseState(config);
  return {
    database: db.running ? 'running' : db.exists ? 'stopped' : 'not created',
    services: supervisorState(config)?.services ?? [],
  };
}
