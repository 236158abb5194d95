/**
 * Runs external programs (initdb, pg_ctl, apt-get, the Supabase CLI, pg_prove) and turns a failure
 * into a StackError that shows the command and its output.
 */
import { spawn } from 'node:child_process';
import { commandFailed } from './errors.ts';

export interface RunOptions {
  /** Run as this OS user (through runuser) when we are root. PostgreSQL refuses to run as root. */
  asUser?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Stream the program's output to ours instead of capturing it. */
  inherit?: boolean;
  /** Resolve with the result instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const isRoot = (): boolean => process.getuid?.() === 0;

export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [program, argv] =
    options.asUser && isRoot() ? ['runuser', ['-u', options.asUser, '--', command, ...args]] : [command, [...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(program, argv, {
      // The other user may not be allowed into our working directory (a private clone).
      cwd: options.cwd ?? (options.asUser && isRoot() ? '/' : undefined),
      env: options.env ?? process.env,
      stdio: options.inherit ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const result = { code, stdout, stderr };
      if (code === 0 || options.allowFailure) resolve(result);
      else reject(commandFailed([command, ...args].join(' '), code, `${stdout}${stderr}`));
    });
  });
}

/** True when `command` can be found on PATH. */
export async function onPath(command: string): Promise<boolean> {
  const result = await run('sh', ['-c', `command -v ${command}`], { allowFailure: true });
  return result.code === 0;
}
