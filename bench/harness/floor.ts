/**
 * The floor: how fast can a committed row reach a WebSocket client on this machine at all?
 *
 * Beside our server, the harness runs a bare relay (relay.ts, a child process: a wal2json slot of
 * its own on the same database, each change's bytes forwarded to a `ws` client, no authorization,
 * no matching, no reshaping) and a plain `ws` client of it in the harness process. Both see the
 * same rows of the same run, so each phase gets our delay and the floor's from the same COMMIT
 * returns, and their ratio: every change to delivery is judged against the machine's own limit on
 * the same day, not against a number from another run.
 *
 * CPU per delivered row is read from /proc (cpu.ts) over each phase: ours is the gateway process
 * plus PostgreSQL's backends it drives (application_name `virgil_realtime*`: the WAL sender and
 * the RLS-check connections), divided by the rows B received; the floor's is the relay process plus
 * its WAL sender, divided by the rows its client received. Our server also serves devices A and C
 * (A receives the same rows; C's subscriptions are checked and refused), as it would in use.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import postgres from 'postgres';
import WebSocket from 'ws';
import { servicePids } from '../../stack/stack.ts';
import { addTablesOption } from '../../stack/realtime/changes/changes.ts';
import { CpuMeter } from './cpu.ts';
import type { HarnessOptions } from './options.ts';
import { type PhaseRow, type Summary, summarize } from './stats.ts';
import type { Write } from './writers.ts';
import { sleep } from '../../stack/lib/sleep.ts';

export interface FloorRow {
  phase: string;
  ours: Summary;
  floor: Summary;
  floorLost: number;
  /** ours p99 / floor p99. */
  p99Ratio: number;
  /** The target: within 1.5 × the floor's p99 plus 1 ms. */
  p99Target: number;
  /** µs of CPU per row B received (ours) and per row the relay's client received (floor). */
  cpuPerRowOurs: number | null;
  cpuPerRowFloor: number | null;
  cpuRatio: number | null;
  note?: string;
}

interface Mark {
  firstSeq: number;
  ours: CpuMeter;
  floor: CpuMeter;
}

export class Floor {
  /** Sequence number → when the floor's client received it first. */
  private readonly received = new Map<number, number>();
  readonly rows: FloorRow[] = [];
  private readonly oursMeter: CpuMeter;
  private readonly floorMeter: CpuMeter;
  private mark: Mark | undefined;

  private constructor(
    private readonly relay: ChildProcess,
    private readonly client: WebSocket,
    private readonly admin: postgres.Sql,
    options: HarnessOptions,
  ) {
    const backends = async (pattern: string) =>
      (
        await admin<
          { pid: number }[]
        >`select pid from pg_catalog.pg_stat_activity where application_name like ${pattern}`
      ).map((row) => row.pid);
    this.oursMeter = new CpuMeter(async () => [
      ...(options.mode === 'local' ? servicePids(options.config) : []),
      ...(await backends('virgil\\_realtime%')),
    ]);
    this.floorMeter = new CpuMeter(async () => [
      relay.pid!,
      ...(await backends(`virgil\\_floor\\_relay\\_${relay.pid}`)),
    ]);
  }

  /** Starts the relay and connects its client; `seqOf` reads a harness row's sequence number. */
  static async start(
    options: HarnessOptions,
    seqOf: (record: Record<string, unknown>) => number | undefined,
  ): Promise<Floor> {
    const admin = postgres(options.dbUrl!, { max: 1, onnotice: () => undefined });
    const tables = (
      await admin<
        { name: string }[]
      >`select schemaname || '.' || tablename as name from pg_catalog.pg_publication_tables where pubname = 'supabase_realtime' order by 1`
    ).map((row) => {
      const [schema, table] = row.name.split('.') as [string, string];
      return { schema, table };
    });
    const relay = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'relay.ts'), options.dbUrl!, addTablesOption(tables)],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the floor relay did not start within 20 s')), 20_000);
      relay.once('exit', (code) => reject(new Error(`the floor relay exited (${code})`)));
      relay.stdout!.once('data', (data: Buffer) => {
        clearTimeout(timer);
        resolve((JSON.parse(data.toString().split('\n')[0]!) as { port: number }).port);
      });
    });
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
    const floor = new Floor(relay, client, admin, options);
    client.on('message', (data: Buffer) => {
      const at = performance.now();
      const change = JSON.parse(data.toString()) as { action: string; columns?: { name: string; value: unknown }[] };
      if (change.action !== 'I' && change.action !== 'U') return;
      const record: Record<string, unknown> = {};
      for (const column of change.columns ?? []) record[column.name] = column.value;
      const seq = seqOf(record);
      if (seq !== undefined && !floor.received.has(seq)) floor.received.set(seq, at);
    });
    return floor;
  }

  /** Call before a phase writes: its first sequence number, and the CPU counters. */
  async begin(firstSeq: number): Promise<void> {
    this.mark = { firstSeq, ours: this.oursMeter, floor: this.floorMeter };
    await Promise.all([this.oursMeter.start(), this.floorMeter.start()]);
  }

  /** Call after the phase drained: compares its row with the floor's receipts of the same writes. */
  async end(row: PhaseRow, writes: Map<number, Write>, nextSeq: number): Promise<FloorRow> {
    const mark = this.mark!;
    const seqs = Array.from({ length: nextSeq - mark.firstSeq }, (_, i) => mark.firstSeq + i).filter(
      (seq) => writes.get(seq)?.committedAt !== undefined,
    );
    // The relay has no back pressure to speak of; give it a moment for the last rows.
    const deadline = performance.now() + 2000;
    while (performance.now() < deadline && seqs.some((seq) => !this.received.has(seq))) await sleep(20);
    const [ours, floor] = await Promise.all([mark.ours.stop(), mark.floor.stop()]);
    const delays: number[] = [];
    for (const seq of seqs) {
      const at = this.received.get(seq);
      if (at !== undefined) delays.push(Math.max(0, at - writes.get(seq)!.committedAt!));
    }
    const summary = summarize(delays);
    const perRow = (micros: number, rows: number) => (rows > 0 ? micros / rows : null);
    const cpuPerRowOurs = perRow(ours.micros, row.received);
    const cpuPerRowFloor = perRow(floor.micros, delays.length);
    const result: FloorRow = {
      phase: row.phase,
      ours: row.latency,
      floor: summary,
      floorLost: seqs.length - delays.length,
      p99Ratio: row.latency.p99 / summary.p99,
      p99Target: 1.5 * summary.p99 + 1,
      cpuPerRowOurs,
      cpuPerRowFloor,
      cpuRatio: cpuPerRowOurs !== null && cpuPerRowFloor ? cpuPerRowOurs / cpuPerRowFloor : null,
      note:
        ours.lost + floor.lost > 0 ? `${ours.lost + floor.lost} measured processes ended during the phase` : undefined,
    };
    this.rows.push(result);
    return result;
  }

  table(): string {
    const ms = (value: number) => (Number.isNaN(value) ? '-' : value < 10 ? value.toFixed(2) : value.toFixed(1));
    const num = (value: number | null, digits = 0) =>
      value === null || Number.isNaN(value) ? '-' : value.toFixed(digits);
    const header = [
      'phase',
      'ours p50 / p99 ms',
      'floor p50 / p99 ms',
      'p99 ratio',
      'p99 target ms',
      'met',
      'CPU µs/row ours',
      'CPU µs/row floor',
      'CPU ratio',
      'floor lost',
    ];
    const body = this.rows.map((row) => [
      row.phase,
      `${ms(row.ours.p50)} / ${ms(row.ours.p99)}`,
      `${ms(row.floor.p50)} / ${ms(row.floor.p99)}`,
      `${num(row.p99Ratio, 2)}×`,
      ms(row.p99Target),
      row.ours.p99 <= row.p99Target ? 'yes' : 'no',
      num(row.cpuPerRowOurs),
      num(row.cpuPerRowFloor),
      row.cpuRatio === null ? '-' : `${row.cpuRatio.toFixed(2)}×`,
      String(row.floorLost),
    ]);
    const widths = header.map((title, i) => Math.max(title.length, ...body.map((cells) => cells[i]!.length)));
    const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
    return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
  }

  async close(): Promise<void> {
    this.client.close();
    this.relay.stdin!.end();
    await new Promise((resolve) => {
      if (this.relay.exitCode !== null) return resolve(undefined);
      const timer = setTimeout(() => {
        this.relay.kill('SIGKILL');
        resolve(undefined);
      }, 3000);
      this.relay.once('exit', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
    await this.admin.end();
  }
}
