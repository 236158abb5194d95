/**
 * The broadcast path's device phases (`--path broadcast` or `both`): device A writes memories as
 * user A in SQL; device B (A's second device) listens on A's private topic `virgil-sync-<A>` exactly
 * as the app's devices do; device C (another user) listens on its own topic and also tries to join
 * A's, which must be refused. B must receive every change, C none.
 *
 * Phases: the rising rates of `--rates` (escalation stops as for postgres_changes) and every
 * `--faults` kind (50 writes/s for 6 s, the fault at 2 s; B rejoins by itself and then catches up
 * through sync's pull, as a device does after any gap; the phase fails unless B then holds exactly
 * what A committed). The crowd's side-by-side comparison is in crowd.ts.
 */
import type { RealtimeChannel } from '@supabase/supabase-js';
import postgres from 'postgres';
import { createUsers, type Device, openDevice } from './devices.ts';
import { injectFault } from './faults.ts';
import type { FaultKind, HarnessOptions } from './options.ts';
import { type PhaseRow, summarize } from './stats.ts';
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

interface Run {
  id: string;
  options: HarnessOptions;
  writer: SqlWriter;
  sync: SyncClient;
  syncAvailable: boolean;
  writes: Map<number, Write>;
  received: Map<number, number[]>;
  arrival: number[];
  leaks: number;
  nextSeq: number;
  bStatus: string[];
  b: Device;
}

interface ChangeMessage {
  payload: {
    table?: string;
    record?: { content?: string; user_id?: string } | null;
    old_record?: { user_id?: string } | null;
  };
}

const seqOf = (run: string, content: unknown) =>
  typeof content === 'string' && content.startsWith(`b:${run}:`) ? Number(content.slice(run.length + 3)) : undefined;

function newWrite(run: Run): Write {
  const seq = run.nextSeq++;
  const write: Write = { seq, localId: `b-${run.id}-${seq}`, content: `b:${run.id}:${seq}`, writer: 0, startedAt: 0 };
  run.writes.set(seq, write);
  return write;
}

function listen(
  device: Device,
  topic: string,
  onMessage: (message: ChangeMessage) => void,
  onStatus: (status: string) => void,
): Promise<RealtimeChannel> {
  const channel = device.supabase
    .channel(topic, { config: { private: true } })
    .on('broadcast', { event: '*' }, onMessage);
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(
      () => !settled && reject(new Error(`${device.name}: ${topic} not joined within 15 s`)),
      15_000,
    );
    channel.subscribe((status, error) => {
      onStatus(status);
      if (settled) return;
      if (status === 'SUBSCRIBED' || status === 'CHANNEL_ERROR') {
        settled = true;
        clearTimeout(timer);
        if (status === 'SUBSCRIBED') resolve(channel);
        else {
          void device.supabase.removeChannel(channel); // a refused channel would otherwise retry its join
          reject(new Error(error?.message ?? 'refused'));
        }
      }
    });
  });
}

function row(run: Run, phase: string, seqs: number[], leaksBefore: number, extra: Partial<PhaseRow> = {}): PhaseRow {
  const { written, lost, duplicates, delays } = tally(run, seqs, (write, at) => at - write.committedAt);
  return {
    phase,
    targetRate: null,
    achievedRate: null,
    written,
    received: delays.length,
    lost,
    duplicates,
    orderViolations: orderViolations(run, seqs),
    leaksToC: run.leaks - leaksBefore,
    latency: summarize(delays),
    clock: 'writer COMMIT return → B',
    ...extra,
  };
}

async function ratePhase(run: Run, rate: number): Promise<PhaseRow> {
  const leaks = run.leaks;
  const seqs: number[] = [];
  const elapsed = await paced(Math.round(rate * run.options.stepSeconds), 1000 / rate, 64, () => {
    const write = newWrite(run);
    seqs.push(write.seq);
    return run.writer.write(write, run.id);
  });
  await drain(run, seqs, 5000);
  return row(run, `broadcast: rate ${rate}/s (SQL inserts, private topic)`, seqs, leaks, {
    targetRate: rate,
    achievedRate: committedRate(run, seqs, elapsed),
  });
}

async function faultPhase(run: Run, kind: FaultKind, admin: postgres.Sql): Promise<PhaseRow> {
  const leaks = run.leaks;
  const seqs: number[] = [];
  const before = run.syncAvailable ? (await run.sync.pullAll(null)).cursor : null;
  const statusMark = run.bStatus.length;
  const pending: Promise<void>[] = [];
  let fault: Promise<void> | undefined;
  const start = performance.now();
  for (let i = 0; i < 300; i++) {
    await untilDue(start, i, 20);
    if (i === 100)
      fault = injectFault(kind, run.options, run.b, (line) => console.error(`[harness] ${line}`)).catch(
        () => undefined,
      );
    const write = newWrite(run);
    seqs.push(write.seq);
    pending.push(run.writer.write(write, run.id));
  }
  await Promise.all(pending);
  await fault;
  await settleAmbiguous(run, seqs, admin);
  await untilResubscribed(run.bStatus, statusMark);
  await drain(run, seqs, 2000);
  const caughtUp = new Set<number>();
  let how = 'sync pull';
  if (run.syncAvailable) {
    for (const change of (await run.sync.pullAll(before)).rows) {
      const seq = seqOf(run.id, change.row?.content);
      if (seq !== undefined) caughtUp.add(seq);
    }
  } else {
    how = 'SQL as B (sync function missing)';
    const rows = await admin<{ content: string }[]>`select content from public.memories where context = ${run.id}`;
    for (const found of rows) {
      const seq = seqOf(run.id, found.content);
      if (seq !== undefined) caughtUp.add(seq);
    }
  }
  const result = row(run, `broadcast fault: ${kind} (SQL 50/s, then catch-up)`, seqs, leaks);
  const streamed = result.received;
  const missing = seqs.filter(
    (seq) => run.writes.get(seq)!.committedAt !== undefined && !run.received.has(seq) && !caughtUp.has(seq),
  ).length;
  return {
    ...result,
    lost: missing,
    note: `${streamed} streamed, ${result.written - streamed - missing} caught up by ${how}; ${seqs.length - result.written} writes failed during the fault`,
  };
}

export async function broadcastPhases(options: HarnessOptions, log: (line: string) => void): Promise<PhaseRow[]> {
  const id = crypto.randomUUID().slice(0, 8);
  const [userA, userC] = await createUsers(options, ['bc-owner', 'bc-other']);
  const [b, c] = await Promise.all([openDevice(options, 'B', userA!), openDevice(options, 'C', userC!)]);
  const admin = postgres(options.dbUrl!, { max: 1, onnotice: () => undefined });
  const run: Run = {
    id,
    options,
    writer: new SqlWriter(options.dbUrl!, userA!, 8),
    sync: new SyncClient(options.url, options.anonKey, userA!),
    syncAvailable: false,
    writes: new Map(),
    received: new Map(),
    arrival: [],
    leaks: 0,
    nextSeq: 0,
    bStatus: [],
    b,
  };
  const rows: PhaseRow[] = [];
  try {
    run.syncAvailable = await run.sync.available();
    await listen(
      b,
      `virgil-sync-${userA!.id}`,
      (message) => {
        if (message.payload.table !== 'memories') return;
        const seq = seqOf(id, message.payload.record?.content);
        if (seq === undefined) return;
        run.received.set(seq, [...(run.received.get(seq) ?? []), performance.now()]);
        run.arrival.push(seq);
      },
      (status) => run.bStatus.push(status),
    );
    await listen(
      c,
      `virgil-sync-${userC!.id}`,
      (message) => {
        const owner = message.payload.record?.user_id ?? message.payload.old_record?.user_id;
        if (owner !== userC!.id) run.leaks++;
      },
      () => undefined,
    );
    const spoof = await listen(
      c,
      `virgil-sync-${userA!.id}`,
      () => run.leaks++,
      () => undefined,
    ).then(
      () => true,
      () => false,
    );
    if (spoof) {
      log('broadcast: C was admitted to A’s private topic');
      run.leaks++;
    }
    for (const rate of options.rates) {
      const result = await ratePhase(run, rate);
      rows.push(result);
      log(
        `${result.phase}: p50 ${result.latency.p50.toFixed(2)} p99 ${result.latency.p99.toFixed(2)} lost ${result.lost} leaks ${result.leaksToC}`,
      );
      const lagging = result.latency.p99 > 1000 || result.lost > 0;
      if (lagging || (result.achievedRate ?? 0) < rate * 0.9) {
        result.note = lagging ? 'delivery fell behind: escalation stops' : 'the writer saturated: escalation stops';
        break;
      }
    }
    for (const fault of options.faults) rows.push(await faultPhase(run, fault, admin));
    if (spoof && rows[0]) rows[0].note = [rows[0].note, 'C was admitted to A’s topic'].filter(Boolean).join('; ');
  } finally {
    await Promise.all([b.close(), c.close()]);
    await run.writer.close();
    await admin.end();
  }
  return rows;
}
