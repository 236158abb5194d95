/**
 * The change stream's confirmation ledger: which WAL position may be confirmed to the slot, given
 * transactions received in commit order, handed to subscribers, and acknowledged in any order.
 * Confirming a position tells PostgreSQL it never has to send anything at or below it again, so:
 *
 *   - nothing at or above a transaction still in flight (received, not yet acknowledged) is
 *     confirmed, however far later transactions have been acknowledged;
 *   - while nothing is in flight and no transaction is open, a keepalive's walEnd counts as handled;
 *   - with a publication (`vouching`), nothing above the `ceiling` is confirmed: the positions a
 *     reading of the publication has vouched for. A reading that finds the list unchanged vouches
 *     for the position the previous reading saw (one reading of margin: a commit can be streamed a
 *     moment before other sessions see it, and so can the publication change that preceded it);
 *   - when the publication gained tables, the stream restarts and the server decodes again what the
 *     old list filtered: those transactions, up to the position then reached (`replayUpTo`), bring
 *     only the changes of the tables the old lists lacked (`supplement`), and vouching waits until
 *     the stream is past them.
 *
 * Pure: no clock, no I/O. The stream (changes.ts) feeds it what arrives and asks `confirmable()`
 * whenever it sends a standby status update.
 */

/** How to hand over a transaction whose commit just arrived. */
export type Admission =
  /** New: hand it over whole. */
  | { kind: 'deliver' }
  /** Decoded again after the publication gained tables: hand over only the changes of tables not in `known`. */
  | { kind: 'supplement'; known: ReadonlySet<string> }
  /** Sent again after a reconnect, and already handed over: drop it. */
  | { kind: 'skip' };

export class ConfirmationLedger {
  /** Highest LSN acknowledged by the dispatcher; replays at or below it are skipped. */
  private delivered = 0n;
  /** Highest LSN handled: acknowledged, or a keepalive's walEnd while idle. */
  private acknowledged = 0n;
  /** LSNs handed over on this connection and not yet acknowledged. */
  private readonly inFlight = new Set<bigint>();
  /** A transaction has begun and not committed yet. */
  private open = false;
  /** Highest LSN received (commit, or walEnd while idle). */
  private position = 0n;
  /** Highest LSN the publication's readings have vouched for. */
  private ceiling = 0n;
  /** The position at the previous reading, vouched for by the next one that finds no change. */
  private candidate = 0n;
  /** After the publication gained tables: transactions up to `upTo` bring only the tables not in `known`. */
  private replay: { upTo: bigint; known: Set<string> } | undefined;

  /** `vouching`: the stream decodes a publication's tables, so readings bound what is confirmed. */
  constructor(private readonly vouching: boolean) {}

  /** Nothing is in flight and no transaction is open. */
  get idle(): boolean {
    return this.inFlight.size === 0 && !this.open;
  }

  /** True while transactions decoded again for added tables are still expected. */
  get replaying(): boolean {
    return this.replay !== undefined;
  }

  begin(): void {
    this.open = true;
  }

  /** A commit arrived at `lsn`: how to hand the transaction over. */
  commit(lsn: bigint): Admission {
    this.open = false;
    if (this.replay && lsn <= this.replay.upTo) return { kind: 'supplement', known: this.replay.known };
    this.replay = undefined;
    if (lsn > this.position) this.position = lsn;
    return lsn <= this.delivered ? { kind: 'skip' } : { kind: 'deliver' };
  }

  /** The transaction at `lsn` was handed to the dispatcher. */
  handedOver(lsn: bigint): void {
    this.inFlight.add(lsn);
  }

  /** The transaction at `lsn` reached every subscriber. */
  acknowledge(lsn: bigint): void {
    this.inFlight.delete(lsn);
    if (lsn > this.delivered) this.delivered = lsn;
    if (lsn > this.acknowledged) this.acknowledged = lsn;
  }

  /** A keepalive: while idle, everything up to walEnd has been handled. Returns whether it was idle. */
  keepalive(walEnd: bigint): boolean {
    const idle = this.idle;
    if (idle) {
      if (walEnd > this.acknowledged) this.acknowledged = walEnd;
      if (walEnd > this.position) this.position = walEnd;
    }
    return idle;
  }

  /** The connection ended: whatever was received and not acknowledged will be sent again. */
  restarted(): void {
    this.inFlight.clear();
  }

  /** A new connection streams: a transaction the old one left open will never commit there. */
  streaming(): void {
    this.open = false;
  }

  /** The position a reading of the publication starts from (pass it to `unchanged`). */
  get readingPosition(): bigint {
    return this.position;
  }

  /** A reading found the publication unchanged: the previous reading's position is vouched for. */
  unchanged(positionAtReading: bigint): void {
    if (this.replay !== undefined) return;
    if (this.candidate > this.ceiling) this.ceiling = this.candidate;
    this.candidate = positionAtReading;
  }

  /**
   * A reading found the publication changed; `known` are the tables the stream decoded until now.
   * What the stream receives again up to here brings only the other tables' changes.
   */
  changed(known: Set<string>): void {
    // Earlier replays still pending: keep only the tables every list had.
    const kept = new Set([...known].filter((name) => !this.replay || this.replay.known.has(name)));
    const upTo = this.replay && this.replay.upTo > this.position ? this.replay.upTo : this.position;
    this.replay = { upTo, known: kept };
    this.candidate = this.ceiling;
  }

  /**
   * The server asked for our position at `walEnd` while we were `idleThen`, and a reading made since
   * found the publication `unchangedNow`: if we are still idle and past every replay, walEnd is vouched for.
   */
  answered(walEnd: bigint, idleThen: boolean, unchangedNow: boolean): void {
    if (idleThen && unchangedNow && this.replay === undefined && this.idle && walEnd > this.ceiling)
      this.ceiling = walEnd;
  }

  /** What may be confirmed: handled, below anything still in flight, and (vouching) vouched for. */
  confirmable(): bigint {
    let lsn = this.acknowledged;
    for (const pending of this.inFlight) if (pending - 1n < lsn) lsn = pending - 1n;
    if (this.vouching && this.ceiling < lsn) lsn = this.ceiling;
    return lsn;
  }
}
