/**
 * One edge function running on Deno: a long-lived `deno run` of its index.ts, started with the
 * gateway, listening on a free loopback port the gateway proxies to.
 *
 * Permissions are only what a function needs: network to loopback (its own port and the database)
 * and the environment variables the platform gives functions. Its npm: imports are resolved
 * through supabase/functions/deno.json and cached in .stack/deno-cache (shared by every local stack).
 * If the process dies it is started again on the next request.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import type { FunctionSpec } from './function-config.ts';

export interface WorkerOptions {
  projectRoot: string;
  env: Record<string, string>;
  log: (line: string) => void;
}

export const denoBinary = (projectRoot: string) => join(projectRoot, 'node_modules', '.bin', 'deno');
export const denoCacheDir = (projectRoot: string) => join(projectRoot, '.stack', 'deno-cache');
export const denoConfig = (projectRoot: string) => join(projectRoot, 'supabase', 'functions', 'deno.json');

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

  /** The function's base URL, starting the process first if it is not running. */
  url(timeoutMs = 60_000): Promise<string> {
    if (!this.starting) this.starting = this.start(timeoutMs);
    return this.starting;
  }

  private async start(timeoutMs: number): Promise<string> {
    const { projectRoot, env, log } = this.options;
    const port = await freePort();
    // postgres.js reads PG* defaults (PGSSL, PGHOST, …); nothing else is readable.
    const allowedEnv = [...Object.keys(env), 'PG*'].join(',');
    const child = spawn(
      denoBinary(projectRoot),
      [
        'run', '--quiet', '--no-prompt', `--config=${denoConfig(projectRoot)}`,
        '--allow-net=127.0.0.1,localhost', `--allow-env=${allowedEnv}`,
        this.spec.entrypoint,
      ],
      {
        cwd: join(projectRoot, 'supabase', 'functions'),
        env: {
          ...env,
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? '/root',
          DENO_DIR: denoCacheDir(projectRoot),
          DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`,
          DENO_NO_UPDATE_CHECK: '1',
          NO_COLOR: '1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    const prefix = `[fn:${this.spec.name}]`;
    child.stdout?.on('data', (chunk: Buffer) => log(`${prefix} ${chunk.toString().trimEnd()}`));
    child.stderr?.on('data', (chunk: Buffer) => log(`${prefix} ${chunk.toString().trimEnd()}`));
    let exited = false;
    child.once('exit', (code, signal) => {
      exited = true;
      if (this.child === child) {
        this.child = undefined;
        this.starting = undefined;
      }
      if (!this.closing) log(`${prefix} exited (${signal ?? code}); it starts again on the next request`);
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`${this.spec.name}: deno exited during start-up (see the gateway log)`);
      if (await accepts(port)) return `http://127.0.0.1:${port}`;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill('SIGKILL');
    throw new Error(`${this.spec.name}: deno did not listen within ${timeoutMs} ms`);
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
