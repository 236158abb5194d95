/**
 * The one place errors of the local stack and its tools are made.
 *
 * Every error carries a stable machine `code`, a message that says what was being attempted, and,
 * where we know it, a `hint`: the next thing a person should do. Callers branch on `code`, never on
 * message text. `scripts/README.md`'s error table lists every code.
 */

export type StackErrorCode =
  | 'CONFIG_INVALID'
  | 'PREREQUISITE_MISSING'
  | 'COMMAND_FAILED'
  | 'PORT_IN_USE'
  | 'CLUSTER_NOT_RUNNING'
  | 'STACK_NOT_RUNNING'
  | 'CLUSTER_START_FAILED'
  | 'PLATFORM_BOOTSTRAP_FAILED'
  | 'USAGE';

export class StackError extends Error {
  readonly code: StackErrorCode;
  readonly hint: string | undefined;

  constructor(code: StackErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StackError';
    this.code = code;
    this.hint = options.hint;
  }
}

export const configInvalid = (what: string, hint?: string) =>
  new StackError('CONFIG_INVALID', `invalid configuration: ${what}`, { hint });

export const prerequisiteMissing = (what: string, hint: string) =>
  new StackError('PREREQUISITE_MISSING', `missing prerequisite: ${what}`, { hint });

export const commandFailed = (command: string, exitCode: number | null, output: string) =>
  new StackError(
    'COMMAND_FAILED',
    `command failed (exit ${exitCode ?? 'signal'}): ${command}${output ? `\n${output.trimEnd()}` : ''}`,
  );

export const portInUse = (port: number, what: string) =>
  new StackError('PORT_IN_USE', `port ${port} is already in use, so ${what} cannot listen on it`, {
    hint: `stop whatever listens on ${port}, or choose another port (see docs/local-stack.md, "Configuration")`,
  });

export const clusterNotRunning = (dataDir: string) =>
  new StackError('CLUSTER_NOT_RUNNING', `the local database is not running (data directory ${dataDir})`, {
    hint: 'start it with `npm run db:start`',
  });

export const usage = (message: string) => new StackError('USAGE', message);

/** Wraps any thrown value with what was being attempted, keeping the original as `cause`. */
export function whileDoing<T>(what: string, code: StackErrorCode, work: () => Promise<T>): Promise<T> {
  return work().catch((error: unknown) => {
    if (error instanceof StackError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new StackError(code, `${what}: ${reason}`, { cause: error });
  });
}

/** Prints an error for a person and returns the exit code to use. */
export function report(error: unknown): number {
  if (error instanceof StackError) {
    console.error(`error [${error.code}]: ${error.message}`);
    if (error.hint) console.error(`hint: ${error.hint}`);
    return error.code === 'USAGE' ? 2 : 1;
  }
  console.error(error);
  return 1;
}
