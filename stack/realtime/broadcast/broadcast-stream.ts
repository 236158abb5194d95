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
import { type Replication, ReplicationSession, type ReplicationSessionOptions } from '../replication.ts';

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

/** One row of realtime.messages (any partition) as wal2json gives it; undefined for a probe-less row. */
export function toMessage(columns: Wal2JsonColumn[]): DatabaseMessage | undefined {
  const row = Object.fromEntries(columns.map((column) => [column.name, column]));
  const text = (name: string) => (typeof row[name]?.value === 'string' ? (row[name]!.value as string) : undefined);
  const id = text('id');
  const topic = text('topic');
  const event = text('event');
  if (!id || !topic || event === undefined || text('extension') !== 'broadcast') return undefined;
  const message: DatabaseMessage = {
    id,
    topic,
    event,
    private: row.private?.value === true,
    insertedAt: text('inserted_at') ?? '',
  };
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
  private readonly session: Replication;
  private open: DatabaseMessage[] | undefined;
  private delivered = 0n;
  private confirmed = 0n;
  private statusTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: BroadcastStreamOptions,
    session: (options: ReplicationSessionOptions) => Replication = (sessionOptions) =>
      new ReplicationSession(sessionOptions),
  ) {
    this.session = session({
      url: options.url,
      slot: options.slot,
      slotKind: 'permanent',
      applicationName: 'virgil_realtime_broadcast',
      name: 'broadcast stream',
      note: 'broadcast from database',
      pluginOptions: () =>
        `"format-version" '2', "include-transaction" '1', "add-tables" 'realtime.*', "actions" 'insert'`,
      onXLogData: (message) =>
        this.onRecord(JSON.parse(message.data.toString('utf8')) as Wal2JsonRecord, message.start),
      onKeepalive: (walEnd, replyRequested) => {
        // With no transaction open, everything up to walEnd has been handled.
        if (this.open === undefined && walEnd > this.confirmed) this.confirmed = walEnd;
        if (replyRequested) this.sendStatus();
      },
      onStreaming: () => {
        this.open = undefined;
      },
      log: options.log,
    });
  }

  get connected(): boolean {
    return this.session.connected;
  }

  start(): void {
    this.statusTimer = setInterval(() => this.sendStatus(), 1000);
    this.session.start();
  }

  async close(): Promise<void> {
    clearInterval(this.statusTimer);
    this.sendStatus();
    await this.session.close();
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
    this.session.confirm(this.confirmed);
  }
}
