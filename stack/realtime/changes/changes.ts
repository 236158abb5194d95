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
 * Lifecycle: the replication session (../replication.ts) connects and keeps reconnecting (100 ms
 * doubling to 2 s) when PostgreSQL restarts or the connection drops; `close` ends the walsender so
 * `stack:stop` never leaves it behind. Which position may be confirmed is the ledger's (ledger.ts):
 * transactions already delivered before a reconnect are skipped by LSN when the server replays them.
 */
import postgres, { type Sql } from 'postgres';
import { literal } from '../../lib/postgres.ts';
import { type Replication, ReplicationSession, type ReplicationSessionOptions } from '../replication.ts';
import { ConfirmationLedger } from './ledger.ts';

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

export const formatLsn = (lsn: bigint) =>
  `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;

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

/** The database as the stream reads it besides its replication session (a fake in unit tests). */
export interface ChangeStreamDatabase {
  /** The publication's tables, sorted. */
  publicationTables(publication: string): Promise<TableRef[]>;
  /** Resolves when the database answers a query. */
  ping(): Promise<void>;
  end(): Promise<void>;
}

export interface ChangeStreamDependencies {
  database: ChangeStreamDatabase;
  /** Opens the replication session the stream reads from. */
  session(options: ReplicationSessionOptions): Replication;
}

/** A one-connection client for short queries (reading the publication), opened on first use. */
export function changeStreamDatabase(url: string): ChangeStreamDatabase {
  let sql: Sql | undefined;
  const client = () =>
    (sql ??= postgres(url, {
      max: 1,
      idle_timeout: 0,
      connect_timeout: 5,
      connection: { application_name: 'virgil_realtime_publication' },
      onnotice: () => undefined,
    }));
  return {
    async publicationTables(publication) {
      const rows = await client()<TableRef[]>`
        select schemaname as schema, tablename as table from pg_catalog.pg_publication_tables
         where pubname = ${publication} order by 1, 2`;
      return rows.map(({ schema, table }) => ({ schema, table }));
    },
    async ping() {
      await client()`select 1`;
    },
    async end() {
      await sql?.end({ timeout: 1 }).catch(() => undefined);
    },
  };
}

const tableKey = (list: TableRef[]) => list.map((t) => `${t.schema}.${t.table}`).join(',');

export class ChangeStream {
  private readonly session: Replication;
  private readonly database: ChangeStreamDatabase;
  private readonly ledger: ConfirmationLedger;
  private closed = false;
  private open: Transaction | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  /** The tables decoded (with `publication`), as the current stream was started with. */
  private tables: TableRef[] | undefined;
  private verifying = false;

  constructor(
    private readonly options: ChangeStreamOptions,
    dependencies: Partial<ChangeStreamDependencies> = {},
  ) {
    this.ledger = new ConfirmationLedger(options.publication !== undefined);
    this.database = dependencies.database ?? changeStreamDatabase(options.url);
    const session =
      dependencies.session ?? ((sessionOptions: ReplicationSessionOptions) => new ReplicationSession(sessionOptions));
    this.session = session({
      url: options.url,
      slot: options.slot,
      slotKind: 'permanent',
      applicationName: 'virgil_realtime',
      name: 'change stream',
      pluginOptions: () => this.pluginOptions(),
      onXLogData: (message) =>
        this.onRecord(JSON.parse(message.data.toString('utf8')) as Wal2JsonRecord, message.start),
      onKeepalive: (walEnd, replyRequested) => this.onKeepalive(walEnd, replyRequested),
      onStreaming: () => {
        this.open = undefined;
        this.ledger.streaming();
      },
      // Whatever was received but not delivered will be sent again by the server.
      onRestart: () => this.ledger.restarted(),
      log: options.log,
    });
  }

  get connected(): boolean {
    return this.session.connected;
  }

  start(): void {
    this.statusTimer = setInterval(() => void this.verify().finally(() => this.sendStatus()), 1000);
    this.session.start();
  }

  /** START_REPLICATION's options; with a publication, read now: the stream decodes only its tables. */
  private async pluginOptions(): Promise<string> {
    if (this.options.publication !== undefined)
      this.tables = await this.database.publicationTables(this.options.publication);
    const filter = this.tables === undefined ? '' : `, "add-tables" ${literal(addTablesOption(this.tables))}`;
    return `"format-version" '2', "include-timestamp" '1', "include-transaction" '1', "include-xids" '1', "actions" 'insert,update,delete'${filter}`;
  }

  /**
   * Reads the publication: unchanged, the position of the previous reading becomes confirmable (one
   * reading of margin: a commit is streamed a moment before other sessions see it, and so may the
   * publication change that preceded it); changed, the stream starts again with the new tables.
   */
  private async verify(): Promise<void> {
    if (this.options.publication === undefined || this.verifying || !this.connected || this.tables === undefined)
      return;
    this.verifying = true;
    try {
      const position = this.ledger.readingPosition;
      const tables = await this.database.publicationTables(this.options.publication);
      if (tableKey(tables) === tableKey(this.tables)) {
        this.ledger.unchanged(position);
        return;
      }
      this.options.log(`[realtime] the publication changed (${tableKey(tables) || 'no tables'}); streaming again`);
      this.ledger.changed(new Set(this.tables.map((t) => `${t.schema}.${t.table}`)));
      await this.session.reconnect();
    } catch {
      // The database cannot be read: nothing new is vouched for. If it is shutting down, its
      // walsender waits for us to confirm all it sent, which we cannot vouch for now: hang up (as
      // answer() does), so the shutdown is not held until wal_sender_timeout.
      if (!this.closed && this.connected) {
        this.options.log('[realtime] the database cannot be read; hanging up the change stream until it is back');
        void this.session.reconnect();
      }
    } finally {
      this.verifying = false;
    }
  }

  /** Marks a transaction as handed to every subscriber; its LSN may now be confirmed. */
  acknowledge(transaction: Transaction): void {
    this.ledger.acknowledge(transaction.lsn);
  }

  async close(): Promise<void> {
    clearInterval(this.statusTimer);
    // Two readings vouch for everything received, so a clean stop confirms all it delivered.
    await this.verify();
    await this.verify();
    this.closed = true;
    this.sendStatus();
    await this.session.close();
    await this.database.end();
  }

  /** A primary keepalive: with nothing outstanding, everything up to walEnd has been handled. */
  private onKeepalive(walEnd: bigint, replyRequested: boolean): void {
    const idle = this.ledger.keepalive(walEnd);
    if (replyRequested) void this.answer(walEnd, idle);
  }

  private onRecord(record: Wal2JsonRecord, lsn: bigint): void {
    switch (record.action) {
      case 'B':
        this.open = { lsn: 0n, xid: record.xid ?? 0, commitTimestamp: record.timestamp ?? '', changes: [] };
        this.ledger.begin();
        return;
      case 'C': {
        const transaction = this.open;
        this.open = undefined;
        if (!transaction) return;
        transaction.lsn = lsn;
        if (this.options.debug) {
          this.options.log(
            `[realtime] tx ${formatLsn(lsn)} ${transaction.changes.map((c) => `${c.type} ${c.table}`).join(', ')}`,
          );
        }
        const admission = this.ledger.commit(lsn);
        if (admission.kind === 'skip') return; // replayed after a reconnect; already delivered
        if (admission.kind === 'supplement') {
          // Decoded again for tables the publication gained: only their changes are new.
          transaction.changes = transaction.changes.filter(
            (change) => !admission.known.has(`${change.schema}.${change.table}`),
          );
          if (transaction.changes.length === 0) return;
          transaction.supplement = true;
        }
        this.ledger.handedOver(lsn);
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
      if (this.options.publication !== undefined)
        tables = await this.database.publicationTables(this.options.publication);
      else if (!idle) await this.database.ping();
    } catch {
      if (this.closed || !this.connected) return;
      this.options.log('[realtime] the database is going away; hanging up the change stream until it is back');
      await this.session.reconnect();
      return;
    }
    this.ledger.answered(walEnd, idle, tables === undefined || tableKey(tables) === tableKey(this.tables ?? []));
    this.sendStatus();
  }

  /** Standby status update: write = flush = apply = what the ledger says may be confirmed. */
  private sendStatus(): void {
    this.session.confirm(this.ledger.confirmable());
  }
}
