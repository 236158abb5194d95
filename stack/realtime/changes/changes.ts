/**
 * The change stream: logical decoding of the whole database through ONE permanent replication
 * slot, streamed (START_REPLICATION over the replication protocol), never polled.
 *
 * Why wal2json over our own replication connection rather than postgres.js's `sql.subscribe`:
 * `subscribe` always creates a TEMPORARY pgoutput slot with a random name and acknowledges every
 * keepalive's position by itself, so a restart of this server loses whatever was committed while
 * it was down, and nothing delivered-but-unacknowledged can be replayed. Here the slot is permanent
 * (`virgil_realtime`), the stream resumes from the slot's confirmed position, and the position is
 * acknowledged only after a transaction was handed to every subscriber (`acknowledge`). wal2json
 * (format 2) gives one JSON document per change with type oids, the primary key and the commit
 * timestamp, which is what the platform's own poller reads from the same plugin.
 *
 * Decoding is limited to what can be delivered: with `publication` set, wal2json decodes only that
 * publication's tables (`add-tables`, read when the stream connects), so the bookkeeping rows of
 * sync, auth and the like are never turned into JSON nor parsed. The publication is read again every
 * second; when its tables change, the stream reconnects with the new list, and the transactions the
 * old list had filtered are decoded again for the added tables only (`supplement`). Positions are
 * confirmed only up to what such a reading has vouched for (`ceiling`: LSNs received at least one
 * reading before a reading that found the list unchanged), so a table added to the publication
 * loses none of its changes, even across a restart at that very moment.
 *
 * Lifecycle: `start` connects and keeps reconnecting (100 ms doubling to 2 s) when PostgreSQL
 * restarts or the connection drops; `close` ends the walsender so `stack:stop` never leaves it
 * behind. Transactions already delivered before a reconnect are skipped by LSN when the server
 * replays them.
 */
import type { Duplex } from 'node:stream';
import postgres, { type Sql } from 'postgres';
import { ensureSlot, slotReleased } from '../slots.ts';

export interface ColumnValue {
  name: string;
  type: string;
  typeoid?: number;
  value: unknown;
}

export interface Change {
  type: 'INSERT' | 'UPDATE' | 'DELETE';
  schema: string;
  table: string;
  /** New row (INSERT, UPDATE). */
  columns: ColumnValue[];
  /** Old identity image (UPDATE, DELETE); the whole row with REPLICA IDENTITY FULL. */
  identity: ColumnValue[];
}

export interface Transaction {
  /** The commit's end LSN; acknowledging it means the transaction is never sent again. */
  lsn: bigint;
  /** The transaction id (32 bits, as wal2json gives it). */
  xid: number;
  /** wal2json's commit timestamp, e.g. `2026-11-25 01:05:46.20329+00`. */
  commitTimestamp: string;
  changes: Change[];
  /**
   * Decoded again after the publication gained tables: only the changes of the added tables, of a
   * transaction whose other changes were already handed over under the same LSN.
   */
  supplement?: boolean;
}

export interface TableRef {
  schema: string;
  table: string;
}

export interface ChangeStreamOptions {
  url: string;
  slot: string;
  /** Decode only this publication's tables (undefined: every table). */
  publication?: string;
  onTransaction(transaction: Transaction): void;
  log(line: string): void;
  /** Log every transaction decoded (config.realtime.debug). */
  debug?: boolean;
}

const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;

export const formatLsn = (lsn: bigint) => `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;

interface Wal2JsonRecord {
  action: 'B' | 'C' | 'I' | 'U' | 'D' | 'T' | 'M';
  timestamp?: string;
  xid?: number;
  schema?: string;
  table?: string;
  columns?: ColumnValue[];
  identity?: ColumnValue[];
}

const actions = { I: 'INSERT', U: 'UPDATE', D: 'DELETE' } as const;

/**
 * wal2json's `add-tables` value for these tables: `schema.table` joined by commas, with space,
 * quote, comma, period and asterisk escaped by a backslash (wal2json's rule). No table at all
 * becomes a name that matches nothing, so nothing is decoded.
 */
export function addTablesOption(tables: { schema: string; table: string }[]): string {
  const escape = (name: string) => name.replace(/[ ',.*\\]/g, (character) => `\\${character}`);
  if (tables.length === 0) return 'pg_catalog.virgil_no_table';
  return tables.map(({ schema, table }) => `${escape(schema)}.${escape(table)}`).join(',');
}

export class ChangeStream {
  private sql: Sql | undefined;
  private stream: Duplex | undefined;
  private closed = false;
  private open: Transaction | undefined;
  /** Highest LSN handed to subscribers; replays at or below it are skipped. */
  private delivered = 0n;
  private acknowledged = 0n;
  /** LSNs of transactions received on this connection and not yet acknowledged. */
  private readonly inFlight = new Set<bigint>();
  private statusTimer: NodeJS.Timeout | undefined;
  private retryMs = 100;
  connected = false;
  /** The tables decoded (with `publication`), as the current stream was started with. */
  private tables: TableRef[] | undefined;
  /** A short-lived-query connection for reading the publication. */
  private admin: Sql | undefined;
  /** Highest LSN received (commit, or walEnd while idle). */
  private position = 0n;
  /** Highest LSN the publication's readings have vouched for; nothing above it is confirmed. */
  private ceiling = 0n;
  /** The position at the previous reading, vouched for by the next one that finds no change. */
  private candidate = 0n;
  private verifying = false;
  /** After the publication gained tables: transactions up to `upTo` bring only those tables. */
  private replay: { upTo: bigint; known: Set<string> } | undefined;

  constructor(private readonly options: ChangeStreamOptions) {}

  start(): void {
    this.statusTimer = setInterval(() => void this.verify().finally(() => this.sendStatus()), 1000);
    void this.connect();
  }

  private publicationSql(): Sql {
    this.admin ??= postgres(this.options.url, { max: 1, idle_timeout: 0, connect_timeout: 5, connection: { application_name: 'virgil_realtime_publication' }, onnotice: () => undefined });
    return this.admin;
  }

  /** The publication's tables, sorted. */
  private async readPublication(): Promise<TableRef[]> {
    const rows = await this.publicationSql()<TableRef[]>`
      select schemaname as schema, tablename as table from pg_catalog.pg_publication_tables
       where pubname = ${this.options.publication!} order by 1, 2`;
    return rows.map(({ schema, table }) => ({ schema, table }));
  }

  /**
   * Reads the publication: unchanged, the position of the previous reading becomes confirmable (one
   * reading of margin: a commit is streamed a moment before other sessions see it, and so may the
   * publication change that preceded it); changed, the stream starts again with the new tables.
   */
  private async verify(): Promise<void> {
    if (this.options.publication === undefined || this.verifying || !this.connected || this.tables === undefined) return;
    this.verifying = true;
    try {
      const position = this.position;
      const tables = await this.readPublication();
      const key = (list: TableRef[]) => list.map((t) => `${t.schema}.${t.table}`).join(',');
      if (key(tables) === key(this.tables)) {
        if (this.replay === undefined) {
          if (this.candidate > this.ceiling) this.ceiling = this.candidate;
          this.candidate = position;
        }
        return;
      }
      this.options.log(`[realtime] the publication changed (${key(tables) || 'no tables'}); streaming again`);
      const known = new Set(this.tables.map((t) => `${t.schema}.${t.table}`));
      // Earlier replays still pending: keep only the tables every list had.
      if (this.replay) for (const name of [...known]) if (!this.replay.known.has(name)) known.delete(name);
      this.replay = { upTo: this.position > (this.replay?.upTo ?? 0n) ? this.position : this.replay!.upTo, known };
      this.candidate = this.ceiling;
      await this.reconnect();
    } catch {
      // The database cannot be read: nothing new is vouched for. If it is shutting down, its
      // walsender waits for us to confirm all it sent, which we cannot vouch for now: hang up (as
      // answer() does), so the shutdown is not held until wal_sender_timeout.
      if (!this.closed && this.connected) {
        this.options.log('[realtime] the database cannot be read; hanging up the change stream until it is back');
        void this.reconnect();
      }
    } finally {
      this.verifying = false;
    }
  }

  /** Marks a transaction as handed to every subscriber; its LSN may now be confirmed. */
  acknowledge(transaction: Transaction): void {
    this.inFlight.delete(transaction.lsn);
    if (transaction.lsn > this.delivered) this.delivered = transaction.lsn;
    if (transaction.lsn > this.acknowledged) this.acknowledged = transaction.lsn;
  }

  async close(): Promise<void> {
    clearInterval(this.statusTimer);
    // Two readings vouch for everything received, so a clean stop confirms all it delivered.
    await this.verify();
    await this.verify();
    this.closed = true;
    this.sendStatus();
    await this.disconnect();
    await slotReleased(this.options.url, this.options.slot);
    await this.admin?.end({ timeout: 1 }).catch(() => undefined);
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
      if (this.options.publication !== undefined) this.tables = await this.readPublication();
      const filter = this.tables === undefined ? '' : `, "add-tables" ${literal(addTablesOption(this.tables))}`;
      const sql = postgres(this.options.url, {
        max: 1,
        fetch_types: false,
        idle_timeout: 0,
        max_lifetime: null,
        connection: { replication: 'database', application_name: 'virgil_realtime' },
        onnotice: () => undefined,
      });
      this.sql = sql;
      // For START_REPLICATION postgres.js hands back its CopyBoth stream: a Duplex, typed as Writable.
      const stream = (await sql
        .unsafe(
          `START_REPLICATION SLOT ${this.options.slot} LOGICAL 0/0 ("format-version" '2', "include-timestamp" '1', "include-transaction" '1', "include-xids" '1', "actions" 'insert,update,delete'${filter})`,
        )
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
      this.options.log(`[realtime] streaming slot ${this.options.slot}`);
      stream.on('data', (data: Buffer) => this.onData(data));
      stream.on('error', (error: Error) => this.options.log(`[realtime] change stream error: ${error.message}`));
      stream.on('close', () => void this.reconnect());
    } catch (error) {
      this.options.log(`[realtime] change stream not connected: ${(error as Error).message}`);
      await this.reconnect();
    }
  }

  private reconnecting = false;
  private async reconnect(): Promise<void> {
    if (this.closed || this.reconnecting) return;
    this.reconnecting = true;
    await this.disconnect();
    // Whatever was received but not delivered will be sent again by the server.
    this.inFlight.clear();
    await new Promise((resolve) => setTimeout(resolve, this.retryMs));
    this.retryMs = Math.min(this.retryMs * 2, 2000);
    this.reconnecting = false;
    await this.connect();
  }


  private onData(data: Buffer): void {
    if (data[0] === 0x77) {
      // XLogData: 'w', dataStart (8), walEnd (8), sendTime (8), then one wal2json document.
      const lsn = data.readBigUInt64BE(1);
      this.onRecord(JSON.parse(data.toString('utf8', 25)) as Wal2JsonRecord, lsn);
    } else if (data[0] === 0x6b) {
      // Primary keepalive: 'k', walEnd (8), sendTime (8), replyRequested (1). With nothing
      // outstanding, everything up to walEnd has been handled and may be confirmed.
      const walEnd = data.readBigUInt64BE(1);
      const idle = this.inFlight.size === 0 && this.open === undefined;
      if (idle) {
        if (walEnd > this.acknowledged) this.acknowledged = walEnd;
        if (walEnd > this.position) this.position = walEnd;
      }
      if (data[17]) void this.answer(walEnd, idle);
    }
  }

  private onRecord(record: Wal2JsonRecord, lsn: bigint): void {
    switch (record.action) {
      case 'B':
        this.open = { lsn: 0n, xid: record.xid ?? 0, commitTimestamp: record.timestamp ?? '', changes: [] };
        return;
      case 'C': {
        const transaction = this.open;
        this.open = undefined;
        if (!transaction) return;
        transaction.lsn = lsn;
        if (this.options.debug) {
          this.options.log(`[realtime] tx ${formatLsn(lsn)} ${transaction.changes.map((c) => `${c.type} ${c.table}`).join(', ')}`);
        }
        if (this.replay && lsn <= this.replay.upTo) {
          // Decoded again for tables the publication gained: only their changes are new.
          const known = this.replay.known;
          transaction.changes = transaction.changes.filter((change) => !known.has(`${change.schema}.${change.table}`));
          if (transaction.changes.length === 0) return;
          transaction.supplement = true;
        } else {
          this.replay = undefined;
          if (lsn > this.position) this.position = lsn;
          if (lsn <= this.delivered) return; // replayed after a reconnect; already delivered
        }
        this.inFlight.add(lsn);
        this.options.onTransaction(transaction);
        return;
      }
      case 'I':
      case 'U':
      case 'D':
        this.open?.changes.push({
          type: actions[record.action],
          schema: record.schema ?? '',
          table: record.table ?? '',
          columns: record.columns ?? [],
          identity: record.identity ?? [],
        });
        return;
      default:
        return; // TRUNCATE and messages are never delivered
    }
  }

  /**
   * The server asks for our position. It does so now and then, and when it shuts down: it then
   * waits, before it can stop, until we confirm everything it sent, which we may not do for what is
   * still being delivered (nor, with `publication`, for what no reading has vouched for). So a
   * reading comes first. If the database cannot be read any more, it is going away: we hang up
   * (the slot keeps the last confirmed position, and the stream resumes from it when the server is
   * back; what was in flight is sent again and skipped by LSN if already delivered). Otherwise,
   * while we hold nothing, that reading vouches for `walEnd` at once.
   */
  private async answer(walEnd: bigint, idle: boolean): Promise<void> {
    let tables: TableRef[] | undefined;
    try {
      if (this.options.publication !== undefined) tables = await this.readPublication();
      else if (!idle) await this.publicationSql()`select 1`;
    } catch {
      if (this.closed || !this.connected) return;
      this.options.log('[realtime] the database is going away; hanging up the change stream until it is back');
      await this.reconnect();
      return;
    }
    const key = (list: TableRef[]) => list.map((t) => `${t.schema}.${t.table}`).join(',');
    const unchanged = tables === undefined || key(tables) === key(this.tables ?? []);
    if (idle && unchanged && this.replay === undefined && this.inFlight.size === 0 && this.open === undefined && walEnd > this.ceiling) this.ceiling = walEnd;
    this.sendStatus();
  }

  /** What may be confirmed: acknowledged, below anything still in flight, and (publication) vouched for. */
  private confirmable(): bigint {
    let lsn = this.acknowledged;
    for (const pending of this.inFlight) if (pending - 1n < lsn) lsn = pending - 1n;
    if (this.options.publication !== undefined && this.ceiling < lsn) lsn = this.ceiling;
    return lsn;
  }

  /** Standby status update: write = flush = apply = the confirmable LSN. */
  private sendStatus(): void {
    const stream = this.stream;
    const lsn = this.confirmable();
    if (!stream || !this.connected || lsn <= 0n) return;
    const message = Buffer.alloc(34);
    message[0] = 0x72; // 'r'
    message.writeBigUInt64BE(lsn, 1);
    message.writeBigUInt64BE(lsn, 9);
    message.writeBigUInt64BE(lsn, 17);
    message.writeBigUInt64BE(BigInt(Date.now() - PG_EPOCH_MS) * 1000n, 25);
    message[33] = 0;
    stream.write(message);
  }
}
