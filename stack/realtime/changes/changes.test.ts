import { describe, expect, it } from 'vitest';
import type { Replication, ReplicationSessionOptions } from '../replication.ts';
import { ChangeStream, type ChangeStreamDatabase, type TableRef, type Transaction } from './changes.ts';

/** A replication session that records what the stream confirms and lets the test feed it. */
class FakeSession implements Replication {
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
  transaction(lsn: bigint, ...tables: string[]): void {
    this.record(0n, { action: 'B', xid: 7, timestamp: '2026-12-01 10:00:00+00' });
    for (const table of tables) this.record(0n, { action: 'I', schema: 'public', table, columns: [{ name: 'id', type: 'int8', value: 1 }] });
    this.record(lsn, { action: 'C' });
  }
}

class FakeDatabase implements ChangeStreamDatabase {
  tables: TableRef[] = [{ schema: 'public', table: 'a' }];
  reads = 0;
  down = false;
  async publicationTables(): Promise<TableRef[]> {
    this.reads++;
    if (this.down) throw new Error('the database is shutting down');
    return [...this.tables];
  }
  async ping(): Promise<void> {
    if (this.down) throw new Error('the database is shutting down');
  }
  async end(): Promise<void> {}
}

async function streamWith(publication: string | undefined = 'supabase_realtime') {
  const database = new FakeDatabase();
  let session!: FakeSession;
  const received: Transaction[] = [];
  const stream = new ChangeStream(
    { url: 'postgres://unused', slot: 'test_slot', publication, onTransaction: (transaction) => received.push(transaction), log: () => undefined },
    { database, session: (options) => (session = new FakeSession(options)) },
  );
  session.start();
  await new Promise((resolve) => setImmediate(resolve));
  // The stream's own timer is not started (no `start()`): the test drives every reading.
  const verify = () => (stream as unknown as { verify(): Promise<void> }).verify();
  return { stream, session, database, received, verify };
}

describe('ChangeStream on its session', () => {
  it('decodes only the publication’s tables, read when it connects', async () => {
    const { session } = await streamWith();
    expect(session.plugin).toContain(`"add-tables" 'public.a'`);
  });

  it('hands over whole transactions in commit order and confirms only what was acknowledged, after two readings', async () => {
    const { stream, session, received, verify } = await streamWith();
    session.transaction(100n, 'a');
    session.transaction(200n, 'a');
    expect(received.map((t) => [t.lsn, t.changes.length])).toEqual([
      [100n, 1],
      [200n, 1],
    ]);
    stream.acknowledge(received[1]!);
    await verify();
    await verify();
    session.options.onKeepalive(200n, true);
    await new Promise((resolve) => setImmediate(resolve));
    // 100 is still in flight: nothing at or above it may be confirmed.
    expect(session.confirmed.at(-1)).toBe(99n);
    stream.acknowledge(received[0]!);
    await stream.close();
    expect(session.confirmed.at(-1)).toBe(200n);
  });

  it('when the publication gains a table: streams again, and what comes again brings only the new table’s changes', async () => {
    const { stream, session, database, received, verify } = await streamWith();
    session.transaction(100n, 'a');
    stream.acknowledge(received[0]!);
    database.tables = [...database.tables, { schema: 'public', table: 'b' }];
    await verify();
    expect(session.reconnects).toBe(1);
    expect(session.plugin).toContain(`"add-tables" 'public.a,public.b'`);
    session.transaction(100n, 'a', 'b');
    expect(received[1]).toMatchObject({ lsn: 100n, supplement: true, changes: [{ table: 'b' }] });
    session.transaction(300n, 'a', 'b');
    expect(received[2]!.supplement).toBeUndefined();
    expect(received[2]!.changes).toHaveLength(2);
  });

  it('skips a transaction the server sends again after a reconnect once it was delivered', async () => {
    const { stream, session, received } = await streamWith(undefined);
    session.transaction(100n, 'a');
    stream.acknowledge(received[0]!);
    await session.reconnect();
    session.transaction(100n, 'a');
    expect(received).toHaveLength(1);
  });

  it('hangs up when the server asks for its position and the database cannot be read (so a fast shutdown is not held)', async () => {
    const { session, database } = await streamWith();
    database.down = true;
    session.options.onKeepalive(500n, true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(session.reconnects).toBe(1);
    expect(session.confirmed).toEqual([]);
  });

  it('without a publication, an idle keepalive is confirmed when the server asks', async () => {
    const { session } = await streamWith(undefined);
    session.options.onKeepalive(500n, true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(session.confirmed).toEqual([500n]);
  });
});
