/**
 * `npm run harness:latency`: two devices of one user and one device of another, each a real
 * supabase-js client; device A writes, B must receive every change, C none. Measures the delay from
 * commit to receipt on B at idle and at rising write rates until delivery falls behind, counts
 * losses, duplicates, order violations and leaks, injects faults, and optionally runs the
 * 1,000-socket crowd phase.
 *
 * Reads: options.ts (flags and environment). Writes: the JSON report (default
 * `<stack folder>/reports/harness-latency.json`) and the table on stdout.
 * Exit codes: 0 all delivered, nothing leaked; 1 any loss (after catch-up) or any leak to C;
 * 2 usage or setup error.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';
import postgres from 'postgres';
import { report } from '../../stack/lib/errors.ts';
import { broadcastPhases } from './broadcast.ts';
import { crowdPhase } from './crowd.ts';
import { ensureQuotas } from './quotas.ts';
import { createUsers, type Device, openDevice, type Receipt, watchTables } from './devices.ts';
import { injectFault } from './faults.ts';
import { offlinePhases } from './offline.ts';
import { Floor } from './floor.ts';
import { type FaultKind, type HarnessOptions, parseOptions } from './options.ts';
import { type PhaseRow, summarize, table } from './stats.ts';
import { SqlWriter, SyncClient, type Write } from './writers.ts';
import {
  committedRate,
  drain,
  orderViolations,
  paced,
  settleAmbiguous,
  tally,
  untilDue,
  untilResubscribed,
} from './phase.ts';
import { sleep } from '../../stack/lib/sleep.ts';

const log = (line: string) => console.error(`[harness] ${line}`);

interface Run {
  id: string;
  options: HarnessOptions;
  a: Device;
  b: Device;
  c: Device;
  writer: SqlWriter | undefined;
  sync: SyncClient;
  syncAvailable: boolean;
  writes: Map<number, Write>;
  /** B's receipts by sequence number (memories rows carrying this run's marker). */
  received: Map<number, Receipt[]>;
  /** Order in which B received sequence numbers. */
  arrival: number[];
  leaks: Receipt[];
  nextSeq: number;
  bStatus: string[];
}

const marker = (run: string, seq: number) => `h:${run}:${seq}`;
const localId = (run: string, seq: number) => `h-${run}-${seq}`;

function seqOf(run: string, record: Record<string, unknown>): number | undefined {
  const content = record.content;
  if (typeof content !== 'string' || !content.startsWith(`h:${run}:`)) return undefined;
  return Number(content.slice(run.length + 3));
}

function newWrite(run: Run): Write {
  const seq = run.nextSeq++;
  const write: Write = { seq, localId: localId(run.id, seq), content: marker(run.id, seq), writer: 0, startedAt: 0 };
  run.writes.set(seq, write);
  return write;
}

function phaseRow(
  run: Run,
  phase: string,
  seqs: number[],
  extra: Partial<PhaseRow> & { clock: string },
  leaksBefore: number,
  delayOf?: (write: Write, receipt: Receipt) => number,
): PhaseRow {
  const { written, lost, duplicates, early, delays } = tally(run, seqs, (write, first) =>
    delayOf ? delayOf(write, first) : first.at - write.committedAt,
  );
  return {
    phase,
    targetRate: null,
    achievedRate: null,
    written,
    received: delays.length,
    lost,
    duplicates,
    orderViolations: orderViolations(run, seqs),
    leaksToC: run.leaks.length - leaksBefore,
    latency: summarize(delays),
    ...extra,
    note:
      [extra.note, early > 0 ? `${early} arrived before the writer saw COMMIT return` : '']
        .filter(Boolean)
        .join('; ') || undefined,
  };
}

async function idlePhase(run: Run): Promise<PhaseRow> {
  const leaks = run.leaks.length;
  const seqs: number[] = [];
  for (let i = 0; i < run.options.idleWrites; i++) {
    const write = newWrite(run);
    seqs.push(write.seq);
    await run.writer!.write(write, run.id);
    await sleep(100);
  }
  await drain(run, seqs, 3000);
  return phaseRow(run, 'idle (SQL, 1 write / 100 ms)', seqs, { clock: 'writer COMMIT return → B' }, leaks);
}

async function ratePhase(run: Run, rate: number): Promise<PhaseRow> {
  const leaks = run.leaks.length;
  const seqs: number[] = [];
  const elapsed = await paced(Math.round(rate * run.options.stepSeconds), 1000 / rate, 64, (i) => {
    const write = newWrite(run);
    seqs.push(write.seq);
    // One in five writes updates a row this phase inserted and saw committed; the rest insert.
    const committedInserts =
      i % 5 === 4
        ? seqs.filter((seq) => run.writes.get(seq)!.committedAt !== undefined && !run.writes.get(seq)!.isUpdate)
        : [];
    const updateOf =
      committedInserts.length > 0
        ? run.writes.get(
            committedInserts[
              committedInserts.length - 1 - Math.floor(Math.random() * Math.min(3, committedInserts.length))
            ]!,
          )!.localId
        : undefined;
    if (updateOf) write.isUpdate = true;
    return run.writer!.write(write, run.id, updateOf);
  });
  await drain(run, seqs, 5000);
  const achievedRate = committedRate(run, seqs, elapsed);
  return phaseRow(
    run,
    `rate ${rate}/s (SQL, 1 in 5 an UPDATE)`,
    seqs,
    { clock: 'writer COMMIT return → B', targetRate: rate, achievedRate },
    leaks,
  );
}

/** `changes` per second as transactions of `perCommit` inserts each, for `stepSeconds`. */
async function throughputPhase(run: Run, changes: number, perCommit: number): Promise<PhaseRow> {
  const leaks = run.leaks.length;
  const seqs: number[] = [];
  const commits = Math.round((changes / perCommit) * run.options.stepSeconds);
  const elapsed = await paced(commits, (1000 * perCommit) / changes, 16, () => {
    const batch = Array.from({ length: perCommit }, () => newWrite(run));
    seqs.push(...batch.map((write) => write.seq));
    return run.writer!.writeBatch(batch, run.id);
  });
  await drain(run, seqs, 5000);
  return phaseRow(
    run,
    `throughput ${changes} changes/s (${perCommit} per commit)`,
    seqs,
    {
      clock: 'writer COMMIT return → B',
      targetRate: changes,
      achievedRate: committedRate(run, seqs, elapsed),
      note: 'A subscribed too (two devices)',
    },
    leaks,
  );
}

async function syncPhase(run: Run): Promise<PhaseRow> {
  const leaks = run.leaks.length;
  const seqs: number[] = [];
  for (let i = 0; i < run.options.syncWrites; i++) {
    const write = newWrite(run);
    seqs.push(write.seq);
    await run.sync.push(write);
    if (write.failed) log(`sync push failed: ${write.failed}`);
    await sleep(100);
  }
  await drain(run, seqs, 3000);
  return phaseRow(
    run,
    'sync function push (1 / 100 ms)',
    seqs,
    { clock: 'commit_timestamp (ms) → B wall clock' },
    leaks,
    (_write, receipt) => performance.timeOrigin + receipt.at - Date.parse(receipt.commitTimestamp),
  );
}

/** Writes inserts at 50/s for 6 s, injects the fault at 2 s, then catches B up through pull. */
async function faultPhase(run: Run, kind: FaultKind, admin: postgres.Sql | undefined): Promise<PhaseRow> {
  const leaks = run.leaks.length;
  const seqs: number[] = [];
  const statusMark = run.bStatus.length;
  const pending: Promise<void>[] = [];
  let fault: Promise<void> | undefined;
  const start = performance.now();
  for (let i = 0; i < 300; i++) {
    await untilDue(start, i, 20);
    if (i === 100)
      fault = injectFault(kind, run.options, run.b, log).catch((error: Error) =>
        log(`fault ${kind} failed: ${error.message}`),
      );
    const write = newWrite(run);
    seqs.push(write.seq);
    pending.push(run.writer!.write(write, run.id));
  }
  await Promise.all(pending);
  await fault;
  if (admin) await settleAmbiguous(run, seqs, admin);
  await untilResubscribed(run.bStatus, statusMark);
  await drain(run, seqs, 2000);
  // Catch up: B's client pulled from its cursor after resubscribing; what B's store holds counts.
  const caughtUp = new Set<number>();
  let how = "B's catch-up pull";
  if (run.syncAvailable) {
    await run.b.client.whenIdle();
    for (const row of run.b.client.store.list('memories')) {
      const seq = seqOf(run.id, row);
      if (seq !== undefined) caughtUp.add(seq);
    }
  } else if (admin) {
    how = 'SQL as B (sync function missing)';
    const rows = await admin.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${JSON.stringify({ sub: run.b.user.id, role: 'authenticated' })}, true)`;
      return tx<{ content: string }[]>`select content from public.memories where context = ${run.id}`;
    });
    for (const row of rows) {
      const seq = seqOf(run.id, row);
      if (seq !== undefined) caughtUp.add(seq);
    }
  }
  const streamed = seqs.filter((seq) => run.received.has(seq) && run.writes.get(seq)!.committedAt !== undefined).length;
  let missing = 0;
  let written = 0;
  for (const seq of seqs) {
    if (run.writes.get(seq)!.committedAt === undefined) continue;
    written++;
    if (!run.received.has(seq) && !caughtUp.has(seq)) missing++;
  }
  const row = phaseRow(
    run,
    `fault: ${kind} (SQL 50/s, then catch-up)`,
    seqs,
    { clock: 'writer COMMIT return → B' },
    leaks,
  );
  return {
    ...row,
    written,
    lost: missing,
    note: `${streamed} streamed, ${written - streamed - missing} caught up by ${how}; ${seqs.length - written} writes failed during the fault`,
  };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const id = crypto.randomUUID().slice(0, 8);
  log(`run ${id} against ${options.url} (${options.mode})`);
  const quotas = await ensureQuotas(options, log);
  const [userA, userC] = await createUsers(options, ['owner', 'other']);
  const [a, b, c] = await Promise.all([
    openDevice(options, 'A', userA!),
    openDevice(options, 'B', userA!),
    openDevice(options, 'C', userC!),
  ]);
  const run: Run = {
    id,
    options,
    a,
    b,
    c,
    writer: options.dbUrl ? new SqlWriter(options.dbUrl, userA!, 8) : undefined,
    sync: new SyncClient(options.url, options.anonKey, userA!),
    syncAvailable: false,
    writes: new Map(),
    received: new Map(),
    arrival: [],
    leaks: [],
    nextSeq: 0,
    bStatus: [],
  };
  run.syncAvailable = await run.sync.available();
  if (!run.syncAvailable)
    log('the sync function is not reachable: sync writes are skipped and catch-up reads as B in SQL');
  const admin = options.dbUrl ? postgres(options.dbUrl, { max: 1, onnotice: () => undefined }) : undefined;

  await watchTables(
    b,
    `harness-b-${id}`,
    `user_id=eq.${userA!.id}`,
    (receipt) => {
      if (receipt.table !== 'memories') return;
      const seq = seqOf(id, receipt.record);
      if (seq === undefined) return;
      const list = run.received.get(seq) ?? [];
      list.push(receipt);
      run.received.set(seq, list);
      run.arrival.push(seq);
    },
    (status) => run.bStatus.push(status),
  );
  await watchTables(a, `harness-a-${id}`, `user_id=eq.${userA!.id}`, () => undefined);
  const leak = (receipt: Receipt) => {
    const owner = receipt.record.user_id ?? receipt.old.user_id;
    if (owner !== userC!.id) run.leaks.push(receipt);
  };
  await watchTables(c, `harness-c-plain-${id}`, undefined, leak);
  await watchTables(c, `harness-c-spoof-${id}`, `user_id=eq.${userA!.id}`, leak);

  // The floor (floor.ts): a bare relay on the same rows, compared phase by phase.
  const floor = run.writer && options.floor ? await Floor.start(options, (record) => seqOf(id, record)) : undefined;
  const beside = async (phase: () => Promise<PhaseRow>) => {
    const first = run.nextSeq;
    await floor?.begin(first);
    const row = await phase();
    await floor?.end(row, run.writes, run.nextSeq);
    return row;
  };
  const rows: PhaseRow[] = [];
  const note = (row: PhaseRow) => {
    rows.push(row);
    log(
      `${row.phase}: p50 ${row.latency.p50.toFixed(2)} p99 ${row.latency.p99.toFixed(2)} lost ${row.lost} leaks ${row.leaksToC}`,
    );
  };
  const changesPath = options.path !== 'broadcast';
  if (run.writer && changesPath) {
    note(await beside(() => idlePhase(run)));
    for (const rate of options.rates) {
      const row = await beside(() => ratePhase(run, rate));
      note(row);
      // Escalation stops when delivery lags (p99 over 1 s, or anything lost) or the writer itself
      // cannot produce the rate any more on this machine.
      const lagging = row.latency.p99 > 1000 || row.lost > 0;
      const saturated = (row.achievedRate ?? 0) < rate * 0.9;
      if (lagging || saturated) {
        row.note = [
          row.note,
          lagging ? 'delivery fell behind: escalation stops' : 'the writer saturated: escalation stops',
        ]
          .filter(Boolean)
          .join('; ');
        break;
      }
    }
    for (const changes of options.throughput) note(await beside(() => throughputPhase(run, changes, 20)));
  } else if (!run.writer) {
    log('no database URL: SQL phases skipped');
  }
  if (run.syncAvailable && changesPath) note(await syncPhase(run));
  // The device client's offline phases use its default path, Postgres Changes (client/).
  if (run.syncAvailable && changesPath)
    for (const row of await offlinePhases(a, b, options.offline, admin, () => run.leaks.length, log)) note(row);
  if (run.writer && changesPath) for (const fault of options.faults) note(await faultPhase(run, fault, admin));
  if (run.writer && options.path !== 'postgres_changes')
    for (const row of await broadcastPhases(options, log)) note(row);
  if (options.sockets > 0) {
    if (options.mode !== 'local') log('the crowd phase needs the local stack; skipped');
    else for (const row of await crowdPhase(options, log)) note(row);
  }

  // A rate counts when everything arrived, nothing leaked, the writer produced it and p99 < 1 s.
  const clean = (row: PhaseRow) =>
    row.lost === 0 &&
    row.leaksToC === 0 &&
    row.targetRate !== null &&
    (row.achievedRate ?? 0) >= row.targetRate * 0.9 &&
    row.latency.p99 <= 1000;
  const best = rows.filter((row) => row.phase.startsWith('rate') && clean(row)).map((row) => row.targetRate!);
  const bestThroughput = rows
    .filter((row) => row.phase.startsWith('throughput') && row.lost === 0 && row.leaksToC === 0)
    .map((row) => row.achievedRate ?? 0);
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: process.platform,
  };
  const result = {
    run: id,
    at: new Date().toISOString(),
    target: options.url,
    mode: options.mode,
    machine,
    realtimeQuotas: quotas ?? null,
    highestRateWithoutLoss: best.length > 0 ? Math.max(...best) : null,
    highestChangesPerSecondWithoutLoss: bestThroughput.length > 0 ? Math.round(Math.max(...bestThroughput)) : null,
    leaksToC: run.leaks.length,
    phases: rows,
    floor: floor?.rows,
  };
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(table(rows));
  if (floor)
    console.log(
      `\nbeside the floor (a bare wal2json relay on the same rows; target: p99 within 1.5 × the floor's + 1 ms):\n${floor.table()}`,
    );
  console.log(`\nmachine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}`);
  console.log(
    `highest write rate (one change per commit) delivered to B without loss: ${result.highestRateWithoutLoss ?? 'none'}/s`,
  );
  console.log(
    `highest change rate (${20} per commit) delivered to A and B without loss: ${result.highestChangesPerSecondWithoutLoss ?? 'none'}/s; leaks to C: ${run.leaks.length}`,
  );
  console.log(`report: ${options.out}`);

  await Promise.all([a.close(), b.close(), c.close()]);
  await run.writer?.close();
  await floor?.close();
  await admin?.end();
  const failed = rows.some((row) => row.lost > 0) || run.leaks.length > 0;
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    report(error);
    process.exit(2);
  },
);
