/**
 * `npm run bench:client`: the device client's local costs with a full store, no server needed
 * (bench/client/scenario.ts says what each measurement is), in Node over fake-indexeddb and in
 * Chromium over its real IndexedDB; and the package's gzip size (bench/client/size.ts).
 *
 * Targets, with 50,000 messages over 500 conversations: listMessages p99 <= 1 ms, merging 1,000
 * remote changes <= 20 ms, a cold start from IndexedDB <= 500 ms, a local write visible <= 1 ms
 * and durable in IndexedDB <= 10 ms. The table says whether the median and whether the p99 is
 * within each (listMessages' target is its p99; with 5 or 20 runs, a p99 is the slowest run).
 *
 * Options: --only node|chromium|size (repeatable; default all), --conversations N (500),
 * --messages N per conversation (100), --list-runs N (2000), --merge-batches N (20),
 * --merge-size N (1000), --cold-starts N (5), --writes N (200), --cpu-profile FILE (Chromium's page).
 * Prints a table per runtime; writes <stack folder>/reports/bench-client.json.
 * Exit codes: 0 done (targets met or not: the table says), 1 failed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { IDBFactory } from 'fake-indexeddb';
import { loadConfig, projectRoot } from '../stack/config.ts';
import { report } from '../stack/lib/errors.ts';
import { type MeasurementName, runScenario, type ScenarioOptions, type ScenarioResult } from './client/scenario.ts';
import type { ChromiumRun } from './client/chromium.ts';
import { packageSize } from './client/size.ts';
import { percentile, table } from './stats.ts';

type Runtime = 'node' | 'chromium';

/** What each row of the table is, and its target (p99, ms) where it has one. */
const measurements: { name: MeasurementName; label: string; target?: number }[] = [
  { name: 'listMessages', label: 'listMessages (one conversation)', target: 1 },
  { name: 'listConversations', label: 'listConversations' },
  { name: 'merge', label: 'merge a pull of N changes', target: 20 },
  { name: 'mergeDurable', label: '  … until stored' },
  { name: 'coldStart', label: 'cold start from IndexedDB', target: 500 },
  { name: 'coldStartRead', label: '  … of which the storage read' },
  { name: 'coldStartIndexes', label: '  … of which making the indexes' },
  { name: 'coldStartLater', label: 'cold start after the merges and writes' },
  { name: 'writeVisible', label: 'write, visible in listMessages', target: 1 },
  { name: 'writeDurable', label: 'write, durable in IndexedDB', target: 10 },
  { name: 'fill', label: 'fill (setup: merge + store all)' },
];

function print(runtime: string, result: ScenarioResult): Record<string, unknown> {
  const rows: (string | number)[][] = [];
  const summary: Record<string, unknown> = {};
  for (const { name, label, target } of measurements) {
    const sorted = [...result.samples[name]].sort((a, b) => a - b);
    if (sorted.length === 0) continue;
    const [p50, p99] = [percentile(sorted, 50), percentile(sorted, 99)];
    const max = sorted.at(-1)!;
    const within = (value: number) => (target === undefined ? '-' : value <= target ? 'yes' : 'NO');
    rows.push([
      label,
      sorted.length,
      p50.toFixed(3),
      p99.toFixed(3),
      max.toFixed(3),
      target === undefined ? '-' : `<= ${target}`,
      within(p50),
      within(p99),
    ]);
    summary[name] = {
      runs: sorted.length,
      p50,
      p99,
      max,
      ...(target !== undefined ? { target, p50Within: p50 <= target, p99Within: p99 <= target } : {}),
    };
  }
  console.log(
    `\n${runtime}: ${result.rows.conversations} conversations; ${result.rows.filledMessages} messages after the fill (lists, the first cold starts), ${result.rows.messages} at the end`,
  );
  console.log(table(['measurement', 'n', 'p50 ms', 'p99 ms', 'max ms', 'target', 'p50 in', 'p99 in'], rows));
  return summary;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      only: { type: 'string', multiple: true },
      conversations: { type: 'string' },
      messages: { type: 'string' },
      'list-runs': { type: 'string' },
      'merge-batches': { type: 'string' },
      'merge-size': { type: 'string' },
      'cold-starts': { type: 'string' },
      writes: { type: 'string' },
      'cpu-profile': { type: 'string' },
    },
  });
  const count = (value: string | undefined, fallback: number) => {
    const n = value === undefined ? fallback : Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`not a positive integer: ${value}`);
    return n;
  };
  const options: Omit<ScenarioOptions, 'indexedDB'> = {
    conversations: count(values.conversations, 500),
    messagesPerConversation: count(values.messages, 100),
    listRuns: count(values['list-runs'], 2000),
    mergeBatches: count(values['merge-batches'], 20),
    mergeSize: count(values['merge-size'], 1000),
    coldStarts: count(values['cold-starts'], 5),
    writes: count(values.writes, 200),
  };
  const only = new Set(values.only ?? ['node', 'chromium', 'size']);
  const reportJson: Record<string, unknown> = { when: new Date().toISOString(), options };

  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, load ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}`,
  );
  const runtimes: Runtime[] = (['node', 'chromium'] as const).filter((runtime) => only.has(runtime));
  for (const runtime of runtimes) {
    const result =
      runtime === 'node'
        ? await runScenario({ ...options, indexedDB: new IDBFactory(), log: (line) => console.log(`  node: ${line}`) })
        : await (await import('./client/chromium.ts')).runInChromium(options, values['cpu-profile']);
    const run = result as Partial<ChromiumRun>;
    const browser = run.browser ? ` (${run.browser}, cross-origin isolated: ${String(run.crossOriginIsolated)})` : '';
    reportJson[runtime] = {
      rows: result.rows,
      ...(browser ? { browser } : {}),
      ...print(`${runtime}${browser}`, result),
    };
  }
  if (only.has('size')) {
    const size = await packageSize(projectRoot);
    reportJson.size = size;
    const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
    console.log('\npackage size, peer dependencies (@supabase/supabase-js, react) excluded:');
    console.log(
      table(
        ['what', 'bytes', 'gzip -9'],
        [
          [`dist JS as packed (${size.distFiles} files, each gzipped)`, kib(size.distBytes), kib(size.distGzip)],
          ['one minified bundle, zod included', '-', kib(size.bundleGzip)],
          ['one minified bundle, zod excluded', '-', kib(size.bundleOwnGzip)],
        ],
      ),
    );
  }
  console.log(
    `load at the end: ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}`,
  );
  const dir = join(loadConfig().stackDir, 'reports');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'bench-client.json'), `${JSON.stringify(reportJson, null, 2)}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(report(error) || 1),
);
