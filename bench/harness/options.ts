/**
 * The harness's command line and environment, resolved in one place.
 *
 *   npm run harness:latency -- [flags]
 *
 * | flag                 | env                 | default (local stack)            |
 * |----------------------|---------------------|----------------------------------|
 * | --url                | SUPABASE_URL        | the local gateway (config.ts)    |
 * | --anon-key           | SUPABASE_ANON_KEY   | the local anon key               |
 * | --db-url             | SUPABASE_DB_URL     | the local database (SQL writes)  |
 * | --rates 100,500,…    |                     | 100,250,500,1000,2000,3000       |
 * | --step-seconds       |                     | 5                                |
 * | --throughput 2000,…  |                     | 2000,4000 changes/s, 20 inserts per commit |
 * | --idle-writes        |                     | 40 (one every 100 ms)            |
 * | --sync-writes        |                     | 40 (through the sync function)   |
 * | --faults a,b,c       |                     | none; any of drop-socket, restart-realtime, restart-postgres |
 * | --sockets N          |                     | 0 (skip); e.g. 1000 for the crowd phase |
 * | --crowd-rate         |                     | 200                              |
 * | --offline-edits N    |                     | 100 (offline then online; 0 skips) |
 * | --disconnect-edits N |                     | 1000 (quick: 200) edits under random disconnects; 0 skips |
 * | --disconnects N      |                     | 10 (quick: 3)                    |
 * | --out                |                     | <stack folder>/reports/harness-latency.json |
 * | --path               |                     | both; or postgres_changes, broadcast (broadcast.ts, crowd.ts) |
 * | --no-floor           |                     | the floor (floor.ts) runs whenever SQL writes do |
 * | --quick              |                     | small CI run: idle, 100/s, sync, drop-socket |
 *
 * Local mode (no --url): users are created in auth.users and tokens minted with the local JWT secret.
 * Remote mode (--url and --anon-key, e.g. `supabase start` or a hosted project): users sign up and
 * sign in through Auth with generated passwords; SQL writes need --db-url, faults other than
 * drop-socket need the local stack.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { usage } from '../../stack/lib/errors.ts';
import { loadConfig, type StackConfig } from '../../stack/config.ts';

export const faultKinds = ['drop-socket', 'restart-realtime', 'restart-postgres'] as const;
export type FaultKind = (typeof faultKinds)[number];
export const harnessPaths = ['postgres_changes', 'broadcast', 'both'] as const;
export type HarnessPath = (typeof harnessPaths)[number];

export interface HarnessOptions {
  mode: 'local' | 'remote';
  config: StackConfig;
  url: string;
  anonKey: string;
  dbUrl: string | undefined;
  rates: number[];
  stepSeconds: number;
  throughput: number[];
  idleWrites: number;
  syncWrites: number;
  faults: FaultKind[];
  sockets: number;
  crowdRate: number;
  /** offline.ts: edits made offline, edits under random disconnects, and how many disconnects. */
  offline: { offlineEdits: number; disconnectEdits: number; disconnects: number };
  /** Which delivery path the device phases and the crowd measure. */
  path: HarnessPath;
  /** Run the bare relay beside our server and compare (floor.ts). */
  floor: boolean;
  out: string;
}

const numbers = (text: string, name: string) =>
  text.split(',').map((part) => {
    const value = Number(part);
    if (!Number.isFinite(value) || value <= 0)
      throw usage(`${name} takes positive numbers, got ${JSON.stringify(part)}`);
    return value;
  });

const count = (text: string, name: string) => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw usage(`${name} takes a whole number, got ${JSON.stringify(text)}`);
  return value;
};

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): HarnessOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      'anon-key': { type: 'string' },
      'db-url': { type: 'string' },
      rates: { type: 'string' },
      'step-seconds': { type: 'string' },
      throughput: { type: 'string' },
      'idle-writes': { type: 'string' },
      'sync-writes': { type: 'string' },
      faults: { type: 'string' },
      sockets: { type: 'string' },
      'crowd-rate': { type: 'string' },
      'offline-edits': { type: 'string' },
      'disconnect-edits': { type: 'string' },
      disconnects: { type: 'string' },
      out: { type: 'string' },
      quick: { type: 'boolean' },
      path: { type: 'string' },
      'no-floor': { type: 'boolean' },
    },
    strict: true,
  });
  const config = loadConfig(env);
  const url = values.url ?? env.SUPABASE_URL;
  const mode = url ? 'remote' : 'local';
  const anonKey =
    values['anon-key'] ?? env.SUPABASE_ANON_KEY ?? (mode === 'local' ? loadConfig().keys.anonKey : undefined);
  if (!anonKey) throw usage('remote mode needs --anon-key (or SUPABASE_ANON_KEY)');
  const quick = values.quick === true;
  const faults = (values.faults ?? (quick ? 'drop-socket' : '')).split(',').filter(Boolean);
  for (const fault of faults) {
    if (!faultKinds.includes(fault as FaultKind)) throw usage(`unknown fault ${fault}; use ${faultKinds.join(', ')}`);
    if (mode === 'remote' && fault !== 'drop-socket') throw usage(`fault ${fault} needs the local stack`);
  }
  const path = (values.path ?? 'both') as HarnessPath;
  if (!harnessPaths.includes(path)) throw usage(`unknown --path ${path}; use ${harnessPaths.join(', ')}`);
  return {
    mode,
    path,
    config,
    url: url ?? config.api.url,
    anonKey,
    dbUrl: values['db-url'] ?? env.SUPABASE_DB_URL ?? (mode === 'local' ? config.db.url : undefined),
    rates: numbers(values.rates ?? (quick ? '100' : '100,250,500,1000,2000,3000'), '--rates'),
    stepSeconds: numbers(values['step-seconds'] ?? (quick ? '2' : '5'), '--step-seconds')[0]!,
    throughput:
      values.throughput === '0' ? [] : numbers(values.throughput ?? (quick ? '1000' : '2000,4000'), '--throughput'),
    idleWrites: numbers(values['idle-writes'] ?? (quick ? '20' : '40'), '--idle-writes')[0]!,
    syncWrites: numbers(values['sync-writes'] ?? (quick ? '10' : '40'), '--sync-writes')[0]!,
    faults: faults as FaultKind[],
    sockets: values.sockets ? numbers(values.sockets, '--sockets')[0]! : 0,
    crowdRate: numbers(values['crowd-rate'] ?? '200', '--crowd-rate')[0]!,
    offline: {
      offlineEdits: count(values['offline-edits'] ?? '100', '--offline-edits'),
      disconnectEdits: count(values['disconnect-edits'] ?? (quick ? '200' : '1000'), '--disconnect-edits'),
      disconnects: count(values.disconnects ?? (quick ? '3' : '10'), '--disconnects'),
    },
    floor: values['no-floor'] !== true,
    out: values.out ?? join(config.stackDir, 'reports', 'harness-latency.json'),
  };
}
