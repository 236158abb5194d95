/**
 * Broadcast from Database: the rows inserted into `realtime.messages` (by realtime.send, through
 * realtime.broadcast_changes in the project's triggers), streamed from a replication slot of their
 * own and handed over in commit order. Never polled.
 *
 * The platform streams the table with pgoutput from a TEMPORARY slot that starts at the current
 * position, so what is committed while it is down is never sent (Broadcast Replay is its answer).
 * Here the slot is PERMANENT (`virgil_realtime_messages`, separate from the Postgres Changes slot so
 * neither waits for the other), decoded by wal2json restricted to the realtime schema, and its
 * position is confirmed only after a transaction's messages were handed to the topic's subscribers,
 * at once after each transaction: a restart of PostgreSQL or of this server loses nothing, and a
 * message already delivered is not sent again (transactions at or below the delivered LSN are skipped
 * after a reconnect; after a crash of this server, only what it delivered in the last instant
 * before dying, unconfirmed, can come again, with the same `meta.id`). `supabase db reset` leaves the
 * realtime schema in place (it belongs to supabase_admin), so the stream simply carries on.
 */
import type { Duplex } from 'node:stream';
import postgres, { type Sql } from 'postgres';
import { ensureSlot, slotReleased } from '../slots.ts';

export interface DatabaseMessage {
  id: string;
  topic: string;
  event: string;
  private: boolean;
  /** The JSON payload, or undefined when the row carries `binary_payload` instead. */
  payload?: unknown;
  binary?: Uint8Array;
  insertedAt: string;
}

export interface BroadcastStreamOptions {
  url: string;
  slot: string;
  /** All the messages of one committed transaction, in insert order. */
  onMessages(messages: DatabaseMessage[]): void;
  log(line: string): void;
}

interface Wal2JsonColumn {
  name: string;
  type: string;
  value: unknown;
}
interface Wal2JsonRecord {
  action: string;
  schema?: string;
  table?: string;
  columns?: Wal2JsonColumn[];
}

const PG_EPOCH_MS = Date.UTC(2000, 0, 1);

/** One row of realtime.messages (any partition) as wal2json gives it; undefined for a probe-less row. */
export function toMessage(columns: Wal2JsonColumn[]): DatabaseMessage | undefined {
  const row = Object.fromEntries(columns.map((column) => [column.name, column]));
  const text = (name: string) => (typeof row[name]?.value === 'string' ? (row[name]!.value as string) : undefined);
  const id = text('id');
  const topic = text('topic');
  const event = text('event');
  if (!id || !topic || event === undefined || text('extension') !== 'broadcast') return undefined;
  const message: DatabaseMessage = { id, topic, event, private: row.private?.value === true, insertedAt: text('inserted_at') ?? '' };
  const binary = text('binary_payload');
  if (binary !== undefined) {
    message.binary = new Uint8Array(Buffer.from(binary.replace(/^\\x/, ''), 'hex'));
  } else {
    const payload = row.payload?.value;
    message.payload = typeof payload === 'string' ? JSON.parse(payload) : (payload ?? null);
  }
  return message;
}

export class BroadcastStream {
  private sql: Sql | undefined;
  private stream: Duplex | undefined;
  private closed = false;
  private open: DatabaseMessage[] | undefined;
  private delivered = 0n;
  private confirmed = 0n;
  private retryMs = 100;
  private reconnecting = false;
  private statusTimer: NodeJS.Timeout | undefined;
  connected = false;

  constructor(private readonly options: BroadcastStreamOptions) {}

  start(): void {
    this.statusTimer = setInterval(() => this.sendStatus(), 1000);
    void this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.statusTimer);
    this.sendStatus();
    await this.disconnect();
    await slotReleased(this.options.url, this.options.slot);
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
    try {
      await ensureSlot(this.options.url, this.options.slot, this.options.log);
      const sql = postgres(this.options.url, {
        max: 1,
        fetch_types: false,
        idle_timeout: 0,
        max_lifetime: null,
        connection: { replication: 'database', application_name: 'virgil_realtime_broadcast' },
        onnotice: () => undefined,
      });
      this.sql = sql;
      const stream = (await sql
        .unsafe(`START_REPLICATION SLOT ${this.options.slot} LOGICAL 0/0 ("format-version" '2', "include-transaction" '1', "add-tables" 'realtime.*', "actions" 'insert')`)
        .writable()) as unknown as Duplex;
      if (this.closed) {
        // close() ran while we were connecting: let go of the slot at once.
        stream.destroy();
        await sql.end({ timeout: 1 }).catch(() => undefined);
        return;
      }
      this.stream = stream;
      this.open = undefined;
      this.connected = true;
      this.retryMs = 100;
      this.options.log(`[realtime] streaming slot ${this.options.slot} (broadcast from database)`);
      stream.on('data', (data: Buffer) => this.onData(data));
      stream.on('error', (error: Error) => this.options.log(`[realtime] broadcast stream error: ${error.message}`));
      stream.on('close', () => void this.reconnect());
    } catch (error) {
      this.options.log(`[realtime] broadcast stream not connected: ${(error as Error).message}`);
      await this.reconnect();
    }
  }

  private async reconnect(): Promise<void> {
    if (this.closed || this.reconnecting) return;
    this.reconnecting = true;
    await this.disconnect();
    await new Promise((resolve) => setTimeout(resolve, this.retryMs));
    this.retryMs = Math.min(this.retryMs * 2, 2000);
    this.reconnecting = false;
    await this.connect();
  }


  private onData(data: Buffer): void {
    if (data[0] === 0x77) {
      const lsn = data.readBigUInt64BE(1);
      this.onRecord(JSON.parse(data.toString('utf8', 25)) as Wal2JsonRecord, lsn);
    } else if (data[0] === 0x6b) {
      // Keepalive: with no transaction open, everything up to walEnd has been handled.
      const walEnd = data.readBigUInt64BE(1);
      if (this.open === undefined && walEnd > this.confirmed) this.confirmed = walEnd;
      if (data[17]) this.sendStatus();
    }
  }

  private onRecord(record: Wal2JsonRecord, lsn: bigint): void {
    if (record.action === 'B') {
      this.open = [];
    } else if (record.action === 'I') {
      if (record.schema !== 'realtime' || !record.table?.startsWith('messages')) return;
      const message = toMessage(record.columns ?? []);
      if (message) this.open?.push(message);
    } else if (record.action === 'C') {
      const messages = this.open;
      this.open = undefined;
      if (!messages || lsn <= this.delivered) return; // replayed after a reconnect: already delivered
      if (messages.length > 0) this.options.onMessages(messages);
      this.delivered = lsn;
      this.confirmed = lsn;
      if (messages.length > 0) this.sendStatus();
    }
  }

  /** Standby status update: the last delivered position is written, flushed and applied. */
  private sendStatus(): void {
    const stream = this.stream;
    if (!stream || !this.connected || this.confirmed === 0n) return;
    const message = Buffer.alloc(34);
    message[0] = 0x72;
    message.writeBigUInt64BE(this.confirmed, 1);
    message.writeBigUInt64BE(this.confirmed, 9);
    message.writeBigUInt64BE(this.confirmed, 17);
    message.writeBigUInt64BE(BigInt(Date.now() - PG_EPOCH_MS) * 1000n, 25);
    message[33] = 0;
    stream.write(message);
  }
}
