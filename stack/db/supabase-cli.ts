/**
 * The pinned Supabase CLI (node_modules/.bin/supabase, 3.1.0), pointed at the stack's database.
 *
 * CLI 3 takes every database target as `--remote=<url>`. When that URL's port equals `[db] port`
 * in config.toml, the CLI takes it for its own Docker database and asks Docker for the container
 * ("failed to inspect service"), whatever the host says. `SUPABASE_DB_PORT`, the CLI's environment
 * override of `[db] port`, is therefore set to another port for each call: the CLI then treats the
 * URL as any Postgres server, which ours is.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { StackError } from '../lib/errors.ts';
import { type RunResult, run } from '../lib/process.ts';
import type { StackConfig } from '../config.ts';

export interface CliOptions {
  /** Stream the CLI's output instead of capturing it. */
  inherit?: boolean;
  allowFailure?: boolean;
}

/** A port the CLI will not mistake for its own database's: any port but the one we connect to. */
const notOurPort = (port: number) => String(port === 65535 ? 65534 : port + 1);

/** Runs `supabase <args> --remote=<the stack's database>` in the served project's folder. */
export function supabaseCli(config: StackConfig, args: string[], options: CliOptions = {}): Promise<RunResult> {
  const bin = join(config.projectRoot, 'node_modules', '.bin', 'supabase');
  if (!existsSync(bin)) {
    throw new StackError('PREREQUISITE_MISSING', 'the Supabase CLI is not installed in node_modules', {
      hint: 'run `npm ci` first',
    });
  }
  return run(bin, [...args, `--remote=${config.db.cliUrl}`], {
    cwd: config.projectDir,
    inherit: options.inherit ?? false,
    allowFailure: options.allowFailure ?? false,
    env: {
      ...process.env,
      SUPABASE_DB_PORT: notOurPort(config.db.port),
      // No telemetry or update check: the CLI must behave the same offline, in CI and here.
      DO_NOT_TRACK: '1',
      SUPABASE_TELEMETRY_DISABLED: '1',
    },
  });
}
