/**
 * Faults for `sync`, injected into a running local stack (127.0.0.1 only), shared by the soak
 * benchmark (`npm run bench:sync:soak -- --fault …`) and the fault-matrix integration test:
 *
 *   kill-functions    kill -9 of the Deno process serving `sync` for this stack (found by its entry
 *                     point and its SUPABASE_DB_URL); the gateway answers its in-flight requests
 *                     503 and starts it again on the next request
 *   restart-postgres  `pg_ctl restart -m fast` of the stack's cluster: every connection is cut
 *   disconnect        (client side) a device that drops its request right after sending it
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import postgres from 'postgres';
import { run } from '../stack/lib/process.ts';
import { projectRoot } from '../stack/config.ts';

export const faultKinds = ['kill-functions', 'restart-postgres', 'disconnect'] as const;
export type FaultKind = (typeof faultKinds)[number];

const portOf = (url: string) => new URL(url).port;

/** Deno processes serving `name` for the stack whose database is `dbUrl`. */
export function functionPids(name: string, dbUrl: string): number[] {
  const entry = join(projectRoot, 'supabase', 'functions', name, 'index.ts');
  const marker = `SUPABASE_DB_URL=`;
  const pids: number[] = [];
  for (const dir of readdirSync('/proc')) {
    if (!/^\d+$/.test(dir)) continue;
    try {
      const args = readFileSync(`/proc/${dir}/cmdline`, 'utf8').split('\0');
      if (!args.includes(entry)) continue;
      const env = readFileSync(`/proc/${dir}/environ`, 'utf8').split('\0');
      const db = env.find((line) => line.startsWith(marker))?.slice(marker.length);
      if (db && portOf(db) === portOf(dbUrl)) pids.push(Number(dir));
    } catch {
      // the process ended meanwhile, or is not ours to read
    }
  }
  return pids;
}

/** kill -9 of the `sync` function's process; returns how many were killed. */
export function killFunctionsHost(dbUrl: string): number {
  const pids = functionPids('sync', dbUrl);
  for (const pid of pids) process.kill(pid, 'SIGKILL');
  return pids.length;
}

/** Restarts the stack's PostgreSQL (fast shutdown, every session cut), waiting until it accepts connections. */
export async function restartPostgres(dbUrl: string): Promise<void> {
  const admin = new URL(dbUrl);
  admin.username = 'supabase_admin';
  const sql = postgres(admin.toString(), { max: 1, onnotice: () => {} });
  let dataDir = '';
  let binDir = '';
  try {
    const [row] = await sql<{ data_dir: string; bin_dir: string }[]>`
      select (select setting from pg_settings where name = 'data_directory') as data_dir,
             (select setting from pg_config where name = 'BINDIR') as bin_dir`;
    dataDir = row!.data_dir;
    binDir = row!.bin_dir;
  } finally {
    await sql.end({ timeout: 1 });
  }
  await run(
    join(binDir, 'pg_ctl'),
    ['restart', '-D', dataDir, '-m', 'fast', '-w', '-t', '60', '-s', '-l', join(dirname(dataDir), 'postgres.log')],
    {
      asUser: 'postgres',
    },
  );
}
