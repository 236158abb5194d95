/**
 * One logical replication session: a replication connection (postgres.js, `replication=database`)
 * streaming a slot with START_REPLICATION, the CopyData messages it receives read into XLogData and
 * primary keepalives, and positions confirmed with the 34-byte standby status update. Used by the
 * change stream, the broadcast stream and the harness's bare relay; what each does with the data and
 * which position it may confirm stays theirs.
 *
 * A permanent slot is made or taken over before each connection (slots.ts), and `close` waits until
 * the walsender has let go of it, so whoever comes next (a restarted server, a test dropping the
 * slot) finds it free. A temporary slot is created on the session's own connection (it lives as
 * long as that connection). When the stream ends (PostgreSQL restarted, the socket dropped, or the
 * owner hung up with `reconnect`), the session connects again after 100 ms, doubling to 2 s, and
 * the server resumes from the slot's confirmed position.
 *
 * Message layouts: PostgreSQL's protocol-replication docs ("Streaming Replication Protocol").
 */
import type { Duplex } from 'node:stream';
import postgres, { type Sql } from 'postgres';
import { PG_EPOCH_MS } from '../lib/postgres.ts';
import { sleep } from '../lib/sleep.ts';
import { ensureSlot, slotReleased } from './slots.ts';

export interface XLogData {
  /** The WAL position this message starts at (for wal2json: the commit's end LSN on a commit). */
  start: bigint;
  /** The server's current end of WAL. */
  walEnd: bigint;
  /** The plugin's output (one wal2json document). */
  data: Buffer;
}

export interface ReplicationSessionOptions {
  url: string;
  slot: string;
  /** `permanent`: made when missing, resumed across connections; `temporary`: made on each connection. */
  slotKind: 'permanent' | 'temporary';
  applicationName: string;
  /** How the log names this session, e.g. `change stream`. */
  name: string;
  /** Appended to the "streaming slot …" line. */
  note?: string;
  /** The plugin options of START_REPLICATION, e.g. `"format-version" '2'`; asked before each connection. */
  pluginOptions(): string | Promise<string>;
  onXLogData(message: XLogData): void;
  /** A primary keepalive; `replyRequested`: the server waits for a standby status update. */
  onKeepalive(walEnd: bigint, replyRequested: boolean): void;
  /** The stream has started; nothing of an earlier connection will arrive any more. */
  onStreaming?(): void;
  /** The stream ended and will be started again: what was received but not confirmed comes again. */
  onRestart?(): void;
  /** Connect again when the stream ends (default true). */
  reconnect?: boolean;
  log(line: string): void;
}

const XLOG_DATA = 0x77; // 'w'
const KEEPALIVE = 0x6b; // 'k'
const STANDBY_STATUS = 0x72; // 'r'
const FIRST_RETRY_MS = 100;
const LAST_RETRY_MS = 2000;

/** A CopyData message of the stream, read. Undefined for a kind we do not use. */
export function parseCopyData(
  data: Buffer,
): { kind: 'xlog'; message: XLogData } | { kind: 'keepalive'; walEnd: bigint; replyRequested: boolean } | undefined {
  if (data[0] === XLOG_DATA) {
    // 'w', dataStart (8), walEnd (8), sendTime (8), then the plugin's output.
    return {
      kind: 'xlog',
      message: { start: data.readBigUInt64BE(1), walEnd: data.readBigUInt64BE(9), data: data.subarray(25) },
    };
  }
  if (data[0] === KEEPALIVE) {
    // 'k', walEnd (8), sendTime (8), replyRequested (1).
    return { kind: 'keepalive', walEnd: data.readBigUInt64BE(1), replyRequested: data[17] === 1 };
  }
  return undefined;
}

/** Standby status update: written = flushed = applied = `lsn`, sent now, no reply requested. */
export function standbyStatus(lsn: bigint, now = Date.now()): Buffer {
  const message = Buffer.alloc(34);
  message[0] = STANDBY_STATUS;
  message.writeBigUInt64BE(lsn, 1);
  message.writeBigUInt64BE(lsn, 9);
  message.writeBigUInt64BE(lsn, 17);
  message.writeBigUInt64BE(BigInt(now - PG_EPOCH_MS) * 1000n, 25);
  message[33] = 0;
  return message;
}

/** What a stream needs of its session (a fake in unit tests). */
export interface Replication {
  readonly connected: boolean;
  start(): void;
  /** Confirms everything up to `lsn` (nothing when not streaming or `lsn` is 0). */
  confirm(lsn: bigint): void;
  /** Hangs up and connects again after the backoff. */
  reconnect(): Promise<void>;
  /** Hangs up for good; a permanent slot is let go of before it resolves. */
  close(): Promise<void>;
}

export class ReplicationSession implements Replication {
  private sql: Sql | undefined;
  private stream: Duplex | undefined;
  private closed = false;
  private reconnecting = false;
  private retryMs = FIRST_RETRY_MS;
  connected = false;

  constructor(private readonly options: ReplicationSessionOptions) {}

  start(): void {
    void this.connect();
  }

  confirm(lsn: bigint): void {
    const stream = this.stream;
    if (!stream || !this.connected || lsn <= 0n) return;
    stream.write(standbyStatus(lsn));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.disconnect();
    if (this.options.slotKind === 'permanent') await slotReleased(this.options.url, this.options.slot);
  }

  async reconnect(): Promise<void> {
    if (this.closed || this.reconnecting) return;
    this.reconnecting = true;
    await this.disconnect();
    this.options.onRestart?.();
    if (this.options.reconnect === false) return;
    await sleep(this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, LAST_RETRY_MS);
    this.reconnecting = false;
    await this.connect();
  }

  private async disconnect(): Promise<void> {
    const { sql, stream } = this;
    this.sql = undefined;
    this.stream = undefined;
    this.connected = false;
    stream?.destroy();
    await sql?.end({ timeout: 1 }).catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const { slot, log, name } = this.options;
    try {
      if (this.options.slotKind === 'permanent') await ensureSlot(this.options.url, slot, log);
      const plugin = await this.options.pluginOptions();
      const sql = postgres(this.options.url, {
        max: 1,
        fetch_types: false,
        idle_timeout: 0,
        max_lifetime: null,
        connection: { replication: 'database', application_name: this.options.applicationName },
        onnotice: () => undefined,
      });
      this.sql = sql;
      if (this.options.slotKind === 'temporary')
        await sql.unsafe(`CREATE_REPLICATION_SLOT ${slot} TEMPORARY LOGICAL wal2json NOEXPORT_SNAPSHOT`);
      // For START_REPLICATION postgres.js hands back its CopyBoth stream: a Duplex, typed as Writable.
      const stream = (await sql
        .unsafe(`START_REPLICATION SLOT ${slot} LOGICAL 0/0 (${plugin})`)
        .writable()) as unknown as Duplex;
      if (this.closed) {
        // close() ran while we were connecting: let go of the slot at once.
        stream.destroy();
        await sql.end({ timeout: 1 }).catch(() => undefined);
        return;
      }
      this.stream = stream;
      this.connected = true;
      this.retryMs = FIRST_RETRY_MS;
      this.options.onStreaming?.();
      log(`[realtime] streaming slot ${slot}${this.options.note ? ` (${this.options.note})` : ''}`);
      stream.on('data', (data: Buffer) => this.onData(data));
      stream.on('error', (error: Error) => log(`[realtime] ${name} error: ${error.message}`));
      stream.on('close', () => void this.reconnect());
    } catch (error) {
      log(`[realtime] ${name} not connected: ${(error as Error).message}`);
      await this.reconnect();
    }
  }

  private onData(data: Buffer): void {
    const parsed = parseCopyData(data);
    if (parsed?.kind === 'xlog') this.options.onXLogData(parsed.message);
    else if (parsed?.kind === 'keepalive') this.options.onKeepalive(parsed.walEnd, parsed.replyRequested);
  }
}
