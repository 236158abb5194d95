/** Fixtures the realtime unit tests share. */
import type { Replication, ReplicationSessionOptions } from './replication.ts';

/** A replication session that records what the stream confirms and lets the test feed it. */
export class FakeSession implements Replication {
  connected = false;
  confirmed: bigint[] = [];
  reconnects = 0;
  plugin = '';
  constructor(readonly options: ReplicationSessionOptions) {}
  start(): void {
    void this.stream();
  }
  async stream(): Promise<void> {
    this.plugin = await this.options.pluginOptions();
    this.connected = true;
    this.options.onStreaming?.();
  }
  confirm(lsn: bigint): void {
    if (this.connected && lsn > 0n) this.confirmed.push(lsn);
  }
  async reconnect(): Promise<void> {
    this.reconnects++;
    this.connected = false;
    this.options.onRestart?.();
    // The real session retries until the database is back; here one attempt is enough.
    await this.stream().catch(() => undefined);
  }
  async close(): Promise<void> {
    this.connected = false;
  }
  record(lsn: bigint, record: Record<string, unknown>): void {
    this.options.onXLogData({ start: lsn, walEnd: lsn, data: Buffer.from(JSON.stringify(record)) });
  }
  /** A wal2json transaction of one insert per table, committed at `lsn`. */
  transaction(lsn: bigint, ...tables: string[]): void {
    this.record(0n, { action: 'B', xid: 7, timestamp: '2026-12-01 10:00:00+00' });
    for (const table of tables)
      this.record(0n, { action: 'I', schema: 'public', table, columns: [{ name: 'id', type: 'int8', value: 1 }] });
    this.record(lsn, { action: 'C' });
  }
}
