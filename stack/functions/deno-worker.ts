/**
 * One edge function running on Deno: a long-lived `deno run` of its index.ts, started with the
 * gateway, listening on a free loopback port the gateway proxies to.
 *
 * Permissions are only what a function needs: network to loopback (its own port and the database)
 * and the environment variables the platform gives functions, plus the machine's certificate and
 * proxy settings. Its npm: imports resolve from node_modules without the network (deno-runtime.ts).
 * `url()` starts it and checks it answers; if the process dies it is started again on the next
 * request.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { denoBinary, networkTrustEnv, prepareLocalRuntime, workerDenoDir } from './deno-runtime.ts';
import type { FunctionSpec } from './function-config.ts';

export interface WorkerOptions {
  projectRoot: string;
  env: Record<string, string>;
  log: (line: string) => void;
  /** Deno's cache folder (default: workerDenoDir); tests give a fresh one. */
  denoDir?: string;
  /** Certificate and proxy settings passed on (default: this process's, networkTrustEnv()). */
  trustEnv?: Record<string, string>;
}

export { denoBinary, denoConfig } from './deno-runtime.ts';
/** Deno's cache for `deno check`, which downloads the packages as the platform's bundler would. */
export const denoCacheDir = (projectRoot: string) => join(projectRoot, '.stack', 'deno-cache');

/** A function that did not start: its name and the last lines it printed. */
export class FunctionBootError extends Error {
  constructor(
    readonly functionName: string,
    reason: string,
    readonly output: string,
  ) {
    super(`function ${functionName} failed to start: ${reason}${output ? `\n${output}` : ''}`);
    this.name = 'FunctionBootError';
  }
}

/** Asks the function itself: a CORS preflight must be answered, without a 5xx. */
async function answers(base: string, name: string): Promise<boolean> {
  try {
    const response = await fetch(`${base}/${name}`, { method: 'OPTIONS', signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
    return response.status < 500;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

export class DenoWorker {
  readonly spec: FunctionSpec;
  private readonly options: WorkerOptions;
  private child: ChildProcess | undefined;
  private starting: Promise<string> | undefined;
  private closing = false;

  constructor(spec: FunctionSpec, options: WorkerOptions) {
    this.spec = spec;
    this.options = options;
  }

  /** The function's base URL, starting (and checking) the process first if it is not running. */
  url(timeoutMs = 60_000): Promise<string> {
    if (!this.starting) this.starting = this.start(timeoutMs);
    return this.starting;
  }

  /** The pid of the running Deno process (the fault tests kill it). */
  pid(): number | undefined {
    return this.child?.pid;
  }

  private async start(timeoutMs: number): Promise<string> {
    const { projectRoot, env, log } = this.options;
    const config = prepareLocalRuntime(projectRoot);
    const port = await freePort();
    // postgres.js reads PG* defaults (PGSSL, PGHOST, …); nothing else is readable.
    const allowedEnv = [...Object.keys(env), 'PG*'].join(',');
    const child = spawn(
      denoBinary(projectRoot),
      [
        'run',
        '--quiet',
        '--no-prompt',
        `--config=${config}`,
        '--node-modules-dir=manual',
        '--allow-net=127.0.0.1,localhost',
        `--allow-env=${allowedEnv}`,
        this.spec.entrypoint,
      ],
      {
        cwd: join(projectRoot, 'supabase', 'functions'),
        env: {
          ...(this.options.trustEnv ?? networkTrustEnv()),
          ...env,
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? '/root',
          DENO_DIR: this.options.denoDir ?? workerDenoDir(projectRoot),
          DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`,
          DENO_NO_UPDATE_CHECK: '1',
          NO_COLOR: '1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    const prefix = `[fn:${this.spec.name}]`;
    let output = '';
    const keep = (chunk: Buffer) => {
      const text = chunk.toString().trimEnd();
      output = `${output}\n${text}`.slice(-4000);
      log(`${prefix} ${text}`);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let exited = false;
    let started = false;
    child.once('exit', (code, signal) => {
      exited = true;
      if (this.child === child) {
        this.child = undefined;
        this.starting = undefined;
      }
      if (!this.closing && started) log(`${prefix} exited (${signal ?? code}); it starts again on the next request`);
    });
    const fail = (reason: string) => new FunctionBootError(this.spec.name, reason, output.trim());
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (exited) throw fail('deno exited during start-up');
      if (await accepts(port)) {
        const base = `http://127.0.0.1:${port}`;
        if (await answers(base, this.spec.name)) {
          started = true;
          return base;
        }
        child.kill('SIGKILL');
        throw fail('it listens but does not answer a preflight request');
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill('SIGKILL');
    throw fail(`deno did not listen within ${timeoutMs} ms`);
  }

  async stop(): Promise<void> {
    this.closing = true;
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => (child.kill('SIGKILL'), resolve()), 5000);
      child.once('exit', () => (clearTimeout(timer), resolve()));
      child.kill('SIGTERM');
    });
  }
}
