/**
 * The bookkeeping every harness phase does the same way, whichever path it measures: pacing writes
 * on a schedule, waiting for B's receipts, settling writes whose COMMIT reply was lost, and waiting
 * for B to rejoin after a fault.
 */
import type { Sql } from 'postgres';
import { sleep } from '../../stack/lib/sleep.ts';
import type { Write } from './writers.ts';

/** What the bookkeeping reads of a run: its writes and B's receipts, by sequence number. */
export interface Receipts<R = unknown> {
  writes: Map<number, Write>;
  received: Map<number, R[]>;
  /** Order in which B received sequence numbers. */
  arrival: number[];
}

/** Sleeps until write `i` of a schedule that began at `start` with one write every `intervalMs` is due. */
export async function untilDue(start: number, i: number, intervalMs: number): Promise<void> {
  const wait = start + i * intervalMs - performance.now();
  if (wait > 1) await sleep(wait);
}

/**
 * Starts `count` writes on a schedule (one every `intervalMs`), never more than `maxInFlight` at
 * once, and returns the seconds from the first start until every write returned.
 */
export async function paced(
  count: number,
  intervalMs: number,
  maxInFlight: number,
  write: (i: number) => Promise<void>,
): Promise<number> {
  const pending: Promise<void>[] = [];
  const start = performance.now();
  let inFlight = 0;
  for (let i = 0; i < count; i++) {
    await untilDue(start, i, intervalMs);
    while (inFlight >= maxInFlight) await sleep(1);
    inFlight++;
    pending.push(write(i).finally(() => inFlight--));
  }
  await Promise.all(pending);
  return (performance.now() - start) / 1000;
}

/** Committed writes of `seqs` per second over `seconds`. */
export const committedRate = (run: Receipts, seqs: number[], seconds: number) =>
  seqs.filter((seq) => run.writes.get(seq)!.committedAt !== undefined).length / seconds;

/** Waits until every committed write of `seqs` reached B, or `ms` passed since the last arrival. */
export async function drain(run: Receipts, seqs: number[], ms: number): Promise<void> {
  let last = run.arrival.length;
  let quietSince = performance.now();
  while (seqs.some((seq) => run.writes.get(seq)?.committedAt !== undefined && !run.received.has(seq))) {
    await sleep(20);
    if (run.arrival.length !== last) {
      last = run.arrival.length;
      quietSince = performance.now();
    } else if (performance.now() - quietSince > ms) return;
  }
}

/** Writes whose COMMIT reply was lost: the database says whether they happened. */
export async function settleAmbiguous(run: Receipts, seqs: number[], admin: Sql): Promise<void> {
  for (const seq of seqs) {
    const write = run.writes.get(seq)!;
    if (!write.ambiguous) continue;
    const found = await admin`select 1 from public.memories where local_id = ${write.localId}`.catch(() => []);
    if (found.length > 0) write.committedAt = performance.now();
  }
}

/**
 * B reconnects with backoff and rejoins by itself: waits (up to 30 s) until, among the statuses B
 * reported since `mark`, a SUBSCRIBED follows the first that was not (or none was anything else).
 */
export async function untilResubscribed(statuses: string[], mark: number): Promise<void> {
  const since = () => statuses.slice(mark);
  const resubscribed = () =>
    !since().some((s) => s !== 'SUBSCRIBED') ||
    since().lastIndexOf('SUBSCRIBED') > since().findIndex((s) => s !== 'SUBSCRIBED');
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline && !resubscribed()) await sleep(50);
}

/**
 * The committed writes of `seqs` against B's receipts: how many were written, lost (never received)
 * and received more than once, and each received one's delay (`delayOf` its first receipt; a
 * negative delay counts as `early` and as 0).
 */
export function tally<R>(
  run: Receipts<R>,
  seqs: number[],
  delayOf: (write: Write & { committedAt: number }, first: R) => number,
) {
  const delays: number[] = [];
  let written = 0;
  let lost = 0;
  let duplicates = 0;
  let early = 0;
  for (const seq of seqs) {
    const write = run.writes.get(seq)!;
    if (write.committedAt === undefined) continue;
    written++;
    const receipts = run.received.get(seq);
    if (!receipts) {
      lost++;
      continue;
    }
    duplicates += receipts.length - 1;
    const delay = delayOf(write as Write & { committedAt: number }, receipts[0]!);
    if (delay < 0) early++;
    delays.push(Math.max(0, delay));
  }
  return { written, lost, duplicates, early, delays };
}

/** Writes of one connection commit in sequence order, so they must arrive in that order: how many did not. */
export function orderViolations(run: Receipts, seqs: number[]): number {
  const position = new Map<number, number>();
  run.arrival.forEach((seq, i) => position.has(seq) || position.set(seq, i));
  let violations = 0;
  const byWriter = new Map<number, number[]>();
  for (const seq of seqs) {
    const write = run.writes.get(seq)!;
    if (write.committedAt === undefined || !position.has(seq)) continue;
    byWriter.set(write.writer, [...(byWriter.get(write.writer) ?? []), seq]);
  }
  for (const list of byWriter.values()) {
    list.sort((x, y) => x - y);
    for (let i = 1; i < list.length; i++) if (position.get(list[i]!)! < position.get(list[i - 1]!)!) violations++;
  }
  return violations;
}
