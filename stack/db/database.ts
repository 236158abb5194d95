/**
 * What `npm run db:*` does: the local database's lifecycle, and the real Supabase CLI run against it.
 *
 *   start   ensure prerequisites → create + bootstrap the cluster if absent → start it if stopped
 *   stop    stop the cluster (data is kept)
 *   reset   start if needed, then `supabase db reset --remote=…`: drop what migrations made, apply
 *           migrations, run seed.sql
 *   lint    `supabase db lint --remote=…`, failing on errors
 *   advise  `supabase db advisors --remote=…`, failing on warnings
 *   test    pg_prove over supabase/tests/database, with pgTAP installed for the run only
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterNotRunning } from '../lib/errors.ts';
import { run } from '../lib/process.ts';
import type { StackConfig } from '../config.ts';
import {
  type ClusterPaths,
  clusterExists,
  clusterPaths,
  clusterRunning,
  createCluster,
  removeCluster,
  startCluster,
  stopCluster,
} from './cluster.ts';
import { bootstrapPlatform, connectAs } from './platform.ts';
import { ensurePrerequisites, findPostgres, type PostgresInstall } from './prerequisites.ts';
import { supabaseCli } from './supabase-cli.ts';

type Log = (line: string) => void;

/** Marks a cluster whose platform bootstrap finished; a cluster without it is remade. */
const bootstrappedMarker = (paths: ClusterPaths) => join(paths.root, 'bootstrapped');

export interface DatabaseState {
  exists: boolean;
  running: boolean;
}

function requirePostgres(config: StackConfig): PostgresInstall {
  const pg = findPostgres(config.db.majorVersion, config.db.pgBinDir);
  if (!pg) throw clusterNotRunning(clusterPaths(config).data);
  return pg;
}

export async function databaseState(config: StackConfig): Promise<DatabaseState> {
  const paths = clusterPaths(config);
  const pg = findPostgres(config.db.majorVersion, config.db.pgBinDir);
  const exists = clusterExists(paths) && existsSync(bootstrappedMarker(paths));
  return { exists, running: exists && pg !== undefined && (await clusterRunning(pg, paths)) };
}

export async function startDatabase(config: StackConfig, log: Log): Promise<DatabaseState> {
  const pg = await ensurePrerequisites(config.db.majorVersion, log, config.db.pgBinDir);
  const paths = clusterPaths(config);
  const before = await databaseState(config);
  if (before.running) return before;
  if (!before.exists) {
    if (clusterExists(paths)) {
      log('found a cluster whose bootstrap never finished; recreating it');
      if (await clusterRunning(pg, paths)) await stopCluster(pg, paths);
    }
    await removeCluster(paths);
    await createCluster(pg, config);
    const created = clusterPaths(config);
    log(`created a PostgreSQL ${config.db.majorVersion} cluster in ${created.data}`);
    await startCluster(pg, created, config);
    await bootstrapPlatform(config);
    writeFileSync(bootstrappedMarker(created), `${new Date().toISOString()}\n`);
  } else {
    await startCluster(pg, paths, config);
  }
  return before;
}

export async function stopDatabase(config: StackConfig): Promise<boolean> {
  const state = await databaseState(config);
  if (!state.running) return false;
  await stopCluster(requirePostgres(config), clusterPaths(config));
  return true;
}

/** Stops the cluster if it runs and deletes its files. */
export async function destroyDatabase(config: StackConfig): Promise<void> {
  await stopDatabase(config);
  await removeCluster(clusterPaths(config));
}

async function requireRunning(config: StackConfig): Promise<void> {
  if (!(await databaseState(config)).running) throw clusterNotRunning(clusterPaths(config).data);
}

/** Starts the database if it is stopped (or not yet created), then resets it with the real CLI. */
export async function resetDatabase(config: StackConfig, options: { quiet?: boolean; log?: Log } = {}): Promise<void> {
  await startDatabase(config, options.log ?? (() => {}));
  await supabaseCli(config, ['db', 'reset', '--yes'], { inherit: !options.quiet });
  // The Data API's schema cache follows the new schema at once, as the platform's does after a migration.
  const sql = connectAs(config, 'postgres');
  try {
    await sql`select pg_notify('pgrst', 'reload schema')`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Creates an extension in `extensions` for the length of `work` and drops it again if it was not
 * there before, as `supabase test db` does with pgTAP.
 */
async function withExtension<T>(
  config: StackConfig,
  extension: string,
  as: 'postgres' | 'supabase_admin',
  work: () => Promise<T>,
): Promise<T> {
  const sql = connectAs(config, as);
  try {
    const rows = await sql`select 1 from pg_extension where extname = ${extension}`;
    const existed = rows.length > 0;
    if (!existed) await sql`create extension ${sql(extension)} with schema extensions`;
    try {
      return await work();
    } finally {
      if (!existed) await sql`drop extension if exists ${sql(extension)}`;
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Runs `supabase db lint`. The linter creates plpgsql_check as postgres, which the platform allows
 * through supautils' privileged extensions; a plain server has no supautils, so the superuser
 * creates it for the run instead.
 */
export async function lintDatabase(config: StackConfig): Promise<void> {
  await requireRunning(config);
  await withExtension(config, 'plpgsql_check', 'supabase_admin', () =>
    supabaseCli(config, ['db', 'lint', '--level', 'warning', '--fail-on', 'error'], { inherit: true }),
  );
}

/**
 * Runs `supabase db advisors` (Supabase's security and performance lints), failing on any warning.
 * The findings at INFO level that stay, and why, are listed in the README.
 */
export async function adviseDatabase(config: StackConfig): Promise<void> {
  await requireRunning(config);
  await supabaseCli(config, ['db', 'advisors', '--type', 'all', '--level', 'warn', '--fail-on', 'warn'], {
    inherit: true,
  });
}

export function testFiles(config: StackConfig): string[] {
  const dir = join(config.projectDir, 'supabase', 'tests', 'database');
  return readdirSync(dir)
    .filter((name) => name.endsWith('.sql'))
    .sort()
    .map((name) => join(dir, name));
}

/**
 * Runs the pgTAP suite with pg_prove, connected as postgres like `supabase test db`, with pgTAP
 * installed for the run only.
 */
export async function testDatabase(
  config: StackConfig,
  options: { files?: string[]; inherit?: boolean } = {},
): Promise<{ passed: boolean; output: string }> {
  await requireRunning(config);
  return withExtension(config, 'pgtap', 'postgres', async () => {
    const result = await run(
      'pg_prove',
      [
        '--host',
        '127.0.0.1',
        '--port',
        String(config.db.port),
        '--username',
        'postgres',
        '--dbname',
        'postgres',
        '--ext',
        '.sql',
        '--failures',
        ...(options.files ?? testFiles(config)),
      ],
      { env: { ...process.env, PGPASSWORD: 'postgres' }, inherit: options.inherit ?? true, allowFailure: true },
    );
    return { passed: result.code === 0, output: result.stdout + result.stderr };
  });
}
