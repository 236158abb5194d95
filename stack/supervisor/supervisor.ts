/**
 * The supervisor: runs the gateway and every service each in a process (and process group) of its
 * own, and starts again one that exits.
 *
 * - Each child is a process-group leader (`detached`), so when it exits, for whatever reason (kill -9
 *   included), what it started (the functions host's Deno workers) is killed with its group: nothing
 *   is left behind.
 * - A child that exits is started again after a backoff: 250 ms, doubling with each exit in a row up
 *   to 5 s; a run of 10 s or more resets the row. A child that exits 3 times in a row without ever
 *   answering is `failed` and not started again (its log says why; `stack:stop` + `stack:start`
 *   retries). A child that does not answer within 60 s of its start is killed and counts as an exit.
 * - Every start, exit and restart is logged to the supervisor's log (its stdout) and to the child's
 *   own log, `<stack folder>/logs/<name>.log`, which also receives the child's output.
 * - The state of every child is written to `<stack folder>/supervisor.json` on every change, and
 *   sent to the gateway, which routes by it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isReadyMessage, type RoutesMessage, type ServiceStatus, type SupervisorState } from './protocol.ts';

export interface ChildSpec {
  name: string;
  kind: 'gateway' | 'service';
  /** The TypeScript entry point. */
  entry: string;
  args: string[];
  /**
   * How Node runs it: `tsx` (any TypeScript, as every npm script runs), or `transform` (Node's own
   * TypeScript transform: no loader thread, so it starts in about half the time; modules must import
   * each other with their `.ts` names, as this project does).
   */
  loader: 'tsx' | 'transform';
}

export interface SupervisorOptions {
  projectRoot: string;
  stackDir: string;
  children: ChildSpec[];
  env: NodeJS.ProcessEnv;
}

export const restartPolicy = {
  initialDelayMs: 250,
  maxDelayMs: 5000,
  stableRunMs: 10_000,
  failedAfter: 3,
  readyTimeoutMs: 60_000,
} as const;

export const logsDir = (stackDir: string) => join(stackDir, 'logs');
export const logFile = (stackDir: string, name: string) => join(logsDir(stackDir), `${name}.log`);
export const stateFile = (stackDir: string) => join(stackDir, 'supervisor.json');

interface Supervised {
  spec: ChildSpec;
  status: ServiceStatus;
  child?: ChildProcess;
  startedAt?: number;
  everReady: boolean;
  /** Exits in a row (runs shorter than stableRunMs). */
  exitsInRow: number;
  /** Exits in a row before ever answering. */
  bootFailures: number;
  timer?: NodeJS.Timeout;
}

/** Kills what is left of a process group (the leader has exited); nothing there is fine. */
export function killGroup(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  // -1 and -0 would mean every process we may signal, and our own group.
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // no such group any more
  }
}

/** Waits (bounded) until no process of the group is left, so a stop returns only when all are gone. */
async function groupGone(pid: number, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    try {
      process.kill(-pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export class Supervisor {
  private readonly options: SupervisorOptions;
  private readonly children: Supervised[];
  private readonly startedAt = new Date().toISOString();
  private stopping = false;

  constructor(options: SupervisorOptions) {
    this.options = options;
    this.children = options.children.map((spec) => ({
      spec,
      status: { name: spec.name, kind: spec.kind, state: 'starting', restarts: 0 },
      everReady: false,
      exitsInRow: 0,
      bootFailures: 0,
    }));
  }

  start(): void {
    mkdirSync(logsDir(this.options.stackDir), { recursive: true });
    for (const supervised of this.children) this.spawn(supervised);
    this.changed();
  }

  state(): SupervisorState {
    return {
      pid: process.pid,
      startedAt: this.startedAt,
      services: this.children.map((child) => ({ ...child.status })),
    };
  }

  /** Stops every child (SIGTERM, then SIGKILL of its group after `graceMs`) and removes the state file. */
  async stop(graceMs = 8000): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.children.map(async (supervised) => {
        clearTimeout(supervised.timer);
        const child = supervised.child;
        if (!child || child.pid === undefined) {
          supervised.status.state = 'stopped';
          return;
        }
        const pid = child.pid;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        const timer = setTimeout(() => killGroup(pid), graceMs);
        await exited;
        clearTimeout(timer);
        killGroup(pid);
        await groupGone(pid, 2000);
      }),
    );
    rmSync(stateFile(this.options.stackDir), { force: true });
  }

  private lifecycle(name: string, line: string): void {
    const text = `${new Date().toISOString()} [supervisor] ${name}: ${line}`;
    console.log(text);
    try {
      appendFileSync(logFile(this.options.stackDir, name), `${text}\n`);
    } catch {
      // the stack folder went away; the supervisor's own log still has the line
    }
  }

  private spawn(supervised: Supervised): void {
    const { spec, status } = supervised;
    const out = openSync(logFile(this.options.stackDir, spec.name), 'a');
    let child: ChildProcess;
    try {
      const loader =
        spec.loader === 'tsx'
          ? ['--import', 'tsx']
          : ['--experimental-transform-types', '--disable-warning=ExperimentalWarning'];
      child = spawn(process.execPath, [...loader, spec.entry, ...spec.args], {
        cwd: this.options.projectRoot,
        env: this.options.env,
        detached: true,
        stdio: ['ignore', out, out, 'ipc'],
      });
    } finally {
      closeSync(out);
    }
    supervised.child = child;
    supervised.startedAt = Date.now();
    status.pid = child.pid;
    status.port = undefined;
    status.state = 'starting';
    this.lifecycle(spec.name, `started (pid ${child.pid})`);
    const readyTimer = setTimeout(() => {
      this.lifecycle(spec.name, `did not answer within ${restartPolicy.readyTimeoutMs} ms; killing it`);
      if (child.pid !== undefined) killGroup(child.pid);
    }, restartPolicy.readyTimeoutMs);
    child.on('message', (message) => {
      if (!isReadyMessage(message) || supervised.child !== child) return;
      clearTimeout(readyTimer);
      supervised.everReady = true;
      supervised.bootFailures = 0;
      Object.assign(status, {
        state: 'running',
        port: message.port,
        prefix: spec.kind === 'service' ? message.prefix : undefined,
        describe: message.describe,
      });
      if (message.name !== spec.name) this.lifecycle(spec.name, `calls itself ${message.name}`);
      this.lifecycle(spec.name, `answering on 127.0.0.1:${message.port} (pid ${child.pid})`);
      this.changed();
    });
    child.on('error', (error) => this.lifecycle(spec.name, `could not be started: ${error.message}`));
    child.once('exit', (code, signal) => {
      clearTimeout(readyTimer);
      if (child.pid !== undefined) killGroup(child.pid);
      this.exited(supervised, code, signal);
    });
    if (spec.kind === 'gateway') this.sendRoutes();
  }

  private exited(supervised: Supervised, code: number | null, signal: NodeJS.Signals | null): void {
    const { spec, status } = supervised;
    const ranMs = Date.now() - (supervised.startedAt ?? Date.now());
    supervised.child = undefined;
    status.pid = undefined;
    status.port = undefined;
    status.lastExit = { code, signal, at: new Date().toISOString() };
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (this.stopping) {
      status.state = 'stopped';
      this.lifecycle(spec.name, `stopped (${how})`);
      return;
    }
    const wasReady = status.state === 'running';
    supervised.exitsInRow = ranMs >= restartPolicy.stableRunMs ? 1 : supervised.exitsInRow + 1;
    if (!wasReady) supervised.bootFailures += 1;
    if (!wasReady && supervised.bootFailures >= restartPolicy.failedAfter) {
      status.state = 'failed';
      this.lifecycle(
        spec.name,
        `exited (${how}) before answering ${supervised.bootFailures} times in a row; not started again`,
      );
      this.changed();
      return;
    }
    const delay = Math.min(restartPolicy.initialDelayMs * 2 ** (supervised.exitsInRow - 1), restartPolicy.maxDelayMs);
    status.state = 'restarting';
    this.lifecycle(
      spec.name,
      `exited (${how}) after ${(ranMs / 1000).toFixed(1)} s; restart ${status.restarts + 1} in ${delay} ms`,
    );
    this.changed();
    supervised.timer = setTimeout(() => {
      if (this.stopping) return;
      status.restarts += 1;
      this.spawn(supervised);
      this.changed();
    }, delay);
  }

  private changed(): void {
    if (this.stopping) return;
    const file = stateFile(this.options.stackDir);
    const partial = `${file}.${process.pid}.tmp`;
    try {
      writeFileSync(partial, `${JSON.stringify(this.state(), null, 2)}\n`);
      renameSync(partial, file);
    } catch (error) {
      console.log(`[supervisor] could not write ${file}: ${(error as Error).message}`);
    }
    this.sendRoutes();
  }

  private sendRoutes(): void {
    const gateway = this.children.find((child) => child.spec.kind === 'gateway')?.child;
    if (!gateway?.connected) return;
    const message: RoutesMessage = { type: 'routes', services: this.state().services };
    gateway.send(message, (error) => {
      if (error) console.log(`[supervisor] could not update the gateway's routes: ${error.message}`);
    });
  }
}
