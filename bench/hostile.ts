/**
 * `npm run bench:hostile`: what a hostile client does to a running local stack (`npm run setup`),
 * on loopback, each probe bounded in count and time. For every probe it prints what was sent, what
 * came back, the service processes' resident memory before / peak / after, process exits, and the
 * broadcast latency of an unrelated client (bystander.ts, its own process) against its idle figure.
 *
 * Targets: RSS under 600 MB; the bystander's p99 within 50 ms of its idle p99; 0 process exits;
 * 0 5xx (a 503 is listed apart: the functions promise it, with Retry-After, for what a client should
 * retry); 0 rows changed by refused requests. The probes run with the quotas the server enforces
 * (stack/realtime/limits.ts), printed first; nothing here raises them.
 *
 * Flags: --seconds N (flood and slow-consumer duration, default 5), --only id,id (malformed,
 * flood-public, flood-private, slow, burst-joins, presence-flood, oversized, idle-sockets,
 * realtime-http, functions-input, functions-pushes).
 * Exit codes: 0 every target met; 1 a target missed; 2 setup error.
 */
import { fork } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig } from '../stack/config.ts';
import { report } from '../stack/lib/errors.ts';
import { describeLimits, DEFAULT_LIMITS, publishedLimits } from '../stack/realtime/limits.ts';
import { createLocalUser, deleteLocalUsers } from '../test-support/users.ts';
import { percentile, table } from './stats.ts';
import { concurrentPushes, badFunctionInput } from './hostile/function-probes.ts';
import { exitedSince, isAlive, rowState, rssMb, rssSampler, stackProcesses } from './hostile/observe.ts';
import {
  burstJoins,
  flood,
  idleSockets,
  malformedFrames,
  oversized,
  presenceFlood,
  type ProbeResult,
  realtimeHttpInput,
  slowConsumers,
  type Target,
} from './hostile/realtime-probes.ts';
import postgres from 'postgres';

const log = (line: string) => console.error(`[hostile] ${line}`);
const TARGET_RSS_MB = 600;
const TARGET_P99_MARGIN_MS = 50;

interface Window {
  p50: number;
  p99: number;
  samples: number;
  lost: number;
}

/** The bystander's child process and its windows of delays. */
async function startBystander(url: string, anonKey: string) {
  const child = fork(new URL('./hostile/bystander.ts', import.meta.url).pathname, [url, anonKey], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiters = new Map<string, (window: Window) => void>();
  let failure: string | undefined;
  await new Promise<void>((resolve, reject) => {
    child.on(
      'message',
      (message: { ready?: boolean; error?: string; label?: string; delays?: number[]; lost?: number }) => {
        if (message.ready) resolve();
        if (message.error) {
          failure = message.error;
          reject(new Error(message.error));
        }
        if (message.label !== undefined) {
          const sorted = [...(message.delays ?? [])].sort((a, b) => a - b);
          waiters.get(message.label)?.({
            p50: percentile(sorted, 50),
            p99: percentile(sorted, 99),
            samples: sorted.length,
            lost: message.lost ?? 0,
          });
        }
      },
    );
    child.once('exit', () => reject(new Error('the bystander exited')));
  });
  return {
    start: (label: string) => child.send({ start: label }),
    end: (label: string) =>
      new Promise<Window>((resolve) => {
        waiters.set(label, resolve);
        child.send({ end: label });
      }),
    failure: () => failure,
    stop: () => child.kill(),
  };
}

interface Row {
  probe: string;
  result: ProbeResult;
  rss: { process: string; before: number; peak: number; after: number };
  exits: string[];
  bystander: Window;
  rowsChanged: boolean | undefined;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { seconds: { type: 'string' }, only: { type: 'string' } },
  });
  const seconds = Number(values.seconds ?? 5);
  const only = values.only ? new Set(values.only.split(',')) : undefined;
  const config = loadConfig();
  const services = stackProcesses(config).filter((service) => isAlive(service.pid));
  if (services.length === 0) throw new Error('no running stack found in the stack folder: run `npm run setup` first');
  const limits = publishedLimits(config.stackDir) ?? { ...DEFAULT_LIMITS };
  // Memory is watched for every process of the API side (the supervisor runs each service in its own).
  const host = services.filter((service) => service.name !== 'postgres');
  log(`services: ${services.map((service) => `${service.name} pid ${service.pid}`).join(', ')}`);
  console.log(`realtime quotas in force: ${describeLimits(limits)}`);
  const load = () =>
    loadavg()
      .map((n) => n.toFixed(2))
      .join(' ');
  console.log(`machine: ${cpus().length} cores, load average at start ${load()}`);

  const sql = postgres(config.db.url, { max: 2, onnotice: () => undefined });
  const user = await createLocalUser(sql, `hostile-${crypto.randomUUID().slice(0, 8)}@virgil.test`, {
    expiresIn: 3600,
  });
  const target: Target = {
    url: config.api.url,
    anonKey: config.keys.anonKey,
    serviceRoleKey: config.keys.serviceRoleKey,
    userToken: user.token,
    userTopic: `virgil-sync-${user.id}`,
    maxSockets: limits.maxConcurrentUsers,
  };
  const bystander = await startBystander(config.api.url, config.keys.anonKey);
  bystander.start('idle');
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const idle = await bystander.end('idle');
  log(`bystander idle: p50 ${idle.p50.toFixed(1)} ms, p99 ${idle.p99.toFixed(1)} ms over ${idle.samples} broadcasts`);

  // The realtime server logs each socket it drops at the send-buffer bound; counted from its log.
  const realtimeLog = join(config.stackDir, 'logs', 'realtime.log');
  const logLines = () =>
    existsSync(realtimeLog)
      ? (readFileSync(realtimeLog, 'utf8').match(/\[realtime\] terminated a socket with/g)?.length ?? 0)
      : 0;
  const terminations = () => {
    const before = logLines();
    return () =>
      existsSync(realtimeLog) ? String(logLines() - before) : 'an unknown number of (no logs/realtime.log)';
  };
  // Sockets left for a probe: the quota less the bystander's two and one spare.
  const free = Math.max(1, limits.maxConcurrentUsers - 3);
  const probes: [string, string, () => Promise<ProbeResult>][] = [
    ['malformed', 'malformed frames', () => malformedFrames(target)],
    [
      'flood-public',
      'flood, public topic',
      () => flood(target, { topic: `flood-${crypto.randomUUID().slice(0, 8)}`, private: false, seconds }),
    ],
    [
      'flood-private',
      'flood, own private topic',
      () => flood(target, { topic: target.userTopic, private: true, token: target.userToken, seconds }),
    ],
    [
      'slow',
      'slow consumers',
      () =>
        slowConsumers(target, {
          sockets: Math.min(200, free - 1),
          seconds: seconds + 3,
          droppedByServer: terminations(),
        }),
    ],
    ['burst-joins', 'burst joins', () => burstJoins(target, 500)],
    ['presence-flood', 'presence flood', () => presenceFlood(target, 10_000)],
    ['oversized', 'oversized payloads', () => oversized(target)],
    ['idle-sockets', 'sockets that never join', () => idleSockets(target, 1000)],
    ['realtime-http', 'realtime HTTP bad input', () => realtimeHttpInput(target)],
    ['functions-input', 'functions bad input', () => badFunctionInput(target)],
    ['functions-pushes', 'functions concurrent pushes', () => concurrentPushes(target, 32, 1000)],
  ];
  const rows: Row[] = [];
  for (const [id, name, probe] of probes) {
    if (only && !only.has(id)) continue;
    log(`probe: ${name}`);
    const before = Object.fromEntries(host.map((service) => [service.name, rssMb(service.pid)]));
    const processesBefore = stackProcesses(config);
    const samplers = host.map((service) => ({ service, sampler: rssSampler(service.pid) }));
    const rowsBefore = await rowState(sql);
    bystander.start(name);
    let result: ProbeResult;
    const started = performance.now();
    try {
      result = await probe();
    } catch (error) {
      result = { sent: '(probe failed)', cameBack: (error as Error).message, fiveXx: 0 };
    }
    // The bystander's window spans at least a second, so that a quick probe still has samples.
    const rest = 1000 - (performance.now() - started);
    if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
    const window = await bystander.end(name);
    const peak = samplers.map(({ service, sampler }) => ({ service, peak: sampler.stop() }));
    // Memory after: once the probe's sockets are gone and the server had 2 s to let go.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const after = Object.fromEntries(host.map((service) => [service.name, rssMb(service.pid)]));
    const rowsAfter = await rowState(sql);
    // The process whose memory rose highest is the one reported.
    const top = peak.reduce((a, b) => (b.peak > a.peak ? b : a));
    rows.push({
      probe: name,
      result,
      rss: {
        process: top.service.name,
        before: before[top.service.name]!,
        peak: top.peak,
        after: after[top.service.name]!,
      },
      exits: exitedSince(config, processesBefore),
      bystander: window,
      rowsChanged: result.refusedOnly ? rowsBefore !== rowsAfter : undefined,
    });
  }
  bystander.stop();
  await deleteLocalUsers(sql, [user.id]);
  await sql`delete from public.memories where local_id like 'hostile-%'`.catch(() => undefined);
  await sql.end();

  const fmt = (n: number) => (Number.isNaN(n) ? 'gone' : n.toFixed(0));
  console.log(
    `\nbystander idle: p50 ${idle.p50.toFixed(1)} ms, p99 ${idle.p99.toFixed(1)} ms (${idle.samples} broadcasts); RSS watched: ${host.map((s) => `${s.name} (pid ${s.pid})`).join(', ')}\n`,
  );
  console.log(
    table(
      ['probe', 'highest RSS MB before/peak/after', 'exits', 'bystander p50/p99 ms', '5xx', 'rows changed'],
      rows.map((row) => [
        row.probe,
        `${row.rss.process} ${fmt(row.rss.before)}/${fmt(row.rss.peak)}/${fmt(row.rss.after)}`,
        row.exits.length === 0 ? '0' : row.exits.join(','),
        `${row.bystander.p50.toFixed(1)}/${row.bystander.p99.toFixed(1)}${row.bystander.lost ? ` (${row.bystander.lost} lost)` : ''}`,
        row.result.fiveXx,
        row.rowsChanged === undefined ? '-' : row.rowsChanged ? 'YES' : '0',
      ]),
    ),
  );
  console.log('');
  for (const row of rows)
    console.log(`${row.probe}\n  sent:       ${row.result.sent}\n  came back:  ${row.result.cameBack}`);
  const misses = [
    ...rows
      .filter((row) => row.rss.peak >= TARGET_RSS_MB)
      .map((row) => `${row.probe}: RSS peak ${fmt(row.rss.peak)} MB`),
    ...rows
      .filter((row) => !(row.bystander.p99 <= idle.p99 + TARGET_P99_MARGIN_MS))
      .map((row) => `${row.probe}: bystander p99 ${row.bystander.p99.toFixed(1)} ms`),
    ...rows.filter((row) => row.exits.length > 0).map((row) => `${row.probe}: exited ${row.exits.join(', ')}`),
    ...rows.filter((row) => row.result.fiveXx > 0).map((row) => `${row.probe}: ${row.result.fiveXx} 5xx`),
    ...rows.filter((row) => row.rowsChanged).map((row) => `${row.probe}: rows changed`),
  ];
  console.log(`\nload average at the end: ${load()}`);
  console.log(
    `targets: RSS < ${TARGET_RSS_MB} MB, bystander p99 ≤ idle p99 + ${TARGET_P99_MARGIN_MS} ms, 0 exits, 0 5xx, 0 rows changed by refused requests`,
  );
  console.log(misses.length === 0 ? 'every target met' : `missed:\n  ${misses.join('\n  ')}`);
  return misses.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(report(error) || 2),
);
