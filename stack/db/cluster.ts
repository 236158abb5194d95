/**
 * The private PostgreSQL cluster: create, start, stop, and tell whether it runs.
 *
 * The cluster lives in `<stack folder>/db` and is bootstrapped, like the supabase/postgres image, by
 * the superuser `supabase_admin`. It listens on 127.0.0.1 only, with `wal_level=logical` so the
 * realtime server can decode changes. When we are root the server runs as the `postgres` OS user,
 * since PostgreSQL refuses to run as root.
 */
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { StackError, portInUse } from '../lib/errors.ts';
import { isRoot, run } from '../lib/process.ts';
import type { StackConfig } from '../config.ts';
import type { PostgresInstall } from './prerequisites.ts';

const serverUser = 'postgres';

/** Settings that differ from initdb's: loopback only, logical decoding, no unix socket to clean up. */
function serverSettings(port: number): string {
  return [
    '',
    '# Written by stack/db/cluster.ts',
    "listen_addresses = '127.0.0.1'",
    `port = ${port}`,
    "unix_socket_directories = ''",
    'wal_level = logical',
    'max_replication_slots = 10',
    // The realtime server's slot holds WAL back while the gateway is stopped; never more than this.
    "max_slot_wal_keep_size = '1GB'",
    'max_wal_senders = 10',
    "shared_preload_libraries = 'pg_stat_statements'",
    'max_connections = 200',
    "timezone = 'UTC'",
    "log_timezone = 'UTC'",
    '',
  ].join('\n');
}

export interface ClusterPaths {
  /** `<stack folder>/db`: may be a link to a folder the server user can reach (see resolve). */
  root: string;
  data: string;
  log: string;
}

/** Where the cluster's files are; data and log go through the link prepareRoot may have made. */
export function clusterPaths(config: StackConfig): ClusterPaths {
  const root = join(config.stackDir, 'db');
  const real = existsSync(root) ? realpathSync(root) : root;
  return { root, data: join(real, 'data'), log: join(real, 'postgres.log') };
}

async function serverUserCanReach(path: string): Promise<boolean> {
  if (!isRoot()) return true;
  const probe = await run('test', ['-x', path], { asUser: serverUser, allowFailure: true });
  return probe.code === 0;
}

/**
 * Creates `<stack folder>/db`, owned by the server user. When the project sits somewhere the server
 * user cannot enter (a clone inside a private temporary folder, say), the folder is made under
 * /var/tmp instead and linked from the project, so the data still shows where you look for it.
 */
async function prepareRoot(paths: ClusterPaths, config: StackConfig): Promise<void> {
  mkdirSync(config.stackDir, { recursive: true });
  if (existsSync(paths.root)) return;
  if (await serverUserCanReach(config.stackDir)) {
    mkdirSync(paths.root);
  } else {
    const hash = createHash('sha1').update(paths.root).digest('hex').slice(0, 12);
    const outside = join('/var/tmp', `virgil-stack-${hash}`);
    rmSync(outside, { recursive: true, force: true });
    mkdirSync(outside, { recursive: true, mode: 0o700 });
    symlinkSync(outside, paths.root);
  }
  if (isRoot()) {
    const { uid, gid } = await serverUserIds();
    chownSync(paths.root, uid, gid);
  }
}

async function serverUserIds(): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run('id', ['-u', serverUser])).stdout.trim());
  const gid = Number((await run('id', ['-g', serverUser])).stdout.trim());
  return { uid, gid };
}

export function clusterExists(paths: ClusterPaths): boolean {
  return existsSync(join(paths.data, 'PG_VERSION'));
}

export async function clusterRunning(pg: PostgresInstall, paths: ClusterPaths): Promise<boolean> {
  if (!clusterExists(paths)) return false;
  const status = await run(join(pg.binDir, 'pg_ctl'), ['status', '-D', paths.data], {
    asUser: serverUser,
    allowFailure: true,
  });
  return status.code === 0;
}

function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', () => reject(portInUse(port, 'the local database')));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

/** Runs initdb. The cluster is empty until the platform bootstrap runs (platform.ts). */
export async function createCluster(pg: PostgresInstall, config: StackConfig): Promise<void> {
  await prepareRoot(clusterPaths(config), config);
  const paths = clusterPaths(config);
  const passwordFile = join(dirname(paths.data), '.pwfile');
  writeFileSync(passwordFile, 'postgres\n', { mode: 0o600 });
  if (isRoot()) {
    const { uid, gid } = await serverUserIds();
    chownSync(passwordFile, uid, gid);
  }
  try {
    await run(
      join(pg.binDir, 'initdb'),
      [
        '--pgdata',
        paths.data,
        '--username',
        'supabase_admin',
        '--pwfile',
        passwordFile,
        '--auth-local',
        'trust',
        '--auth-host',
        'scram-sha-256',
        '--encoding',
        'UTF8',
        '--locale',
        'C.UTF-8',
        '--no-sync',
      ],
      { asUser: serverUser },
    );
  } finally {
    rmSync(passwordFile, { force: true });
  }
  appendFileSync(join(paths.data, 'postgresql.conf'), serverSettings(config.db.port));
}

/** The port the cluster was created for; a different configured port is applied on start. */
function configuredPort(paths: ClusterPaths): number | undefined {
  const conf = readFileSync(join(paths.data, 'postgresql.conf'), 'utf8');
  const matches = [...conf.matchAll(/^port = (\d+)$/gm)];
  const last = matches.at(-1);
  return last ? Number(last[1]) : undefined;
}

/**
 * PostgreSQL 15.19 and later decode only through the output plugins `output_plugin_libraries` names
 * (pgoutput and test_decoding by default); realtime decodes with wal2json. Older servers do not know
 * the setting and would refuse to start with it, so it is written only when the server lists it.
 */
async function allowWal2json(pg: PostgresInstall, paths: ClusterPaths): Promise<void> {
  const conf = join(paths.data, 'postgresql.conf');
  if (/^output_plugin_libraries = /m.test(readFileSync(conf, 'utf8'))) return;
  const described = await run(join(pg.binDir, 'postgres'), ['--describe-config'], { allowFailure: true });
  if (!/^output_plugin_libraries\t/m.test(described.stdout)) return;
  appendFileSync(conf, "output_plugin_libraries = 'pgoutput, test_decoding, wal2json'\n");
}

export async function startCluster(pg: PostgresInstall, paths: ClusterPaths, config: StackConfig): Promise<void> {
  await assertPortFree(config.db.port);
  if (configuredPort(paths) !== config.db.port) {
    appendFileSync(join(paths.data, 'postgresql.conf'), `port = ${config.db.port}\n`);
  }
  await allowWal2json(pg, paths);
  const started = await run(
    join(pg.binDir, 'pg_ctl'),
    ['start', '-D', paths.data, '-l', paths.log, '-w', '-t', '60', '-s'],
    { asUser: serverUser, allowFailure: true },
  );
  if (started.code !== 0) {
    const log = existsSync(paths.log) ? readFileSync(paths.log, 'utf8').split('\n').slice(-15).join('\n') : '';
    throw new StackError('CLUSTER_START_FAILED', `PostgreSQL did not start. Last lines of ${paths.log}:\n${log}`);
  }
}

export async function stopCluster(pg: PostgresInstall, paths: ClusterPaths): Promise<void> {
  await run(join(pg.binDir, 'pg_ctl'), ['stop', '-D', paths.data, '-m', 'fast', '-w', '-t', '60', '-s'], {
    asUser: serverUser,
  });
}

/** Deletes the cluster's files, following the link made by prepareRoot. */
export async function removeCluster(paths: ClusterPaths): Promise<void> {
  const target = existsSync(paths.root) ? (await run('readlink', ['-f', paths.root])).stdout.trim() : '';
  rmSync(paths.root, { recursive: true, force: true });
  if (target && target !== paths.root) rmSync(target, { recursive: true, force: true });
}
