import { describe, expect, it } from 'vitest';
import { FakeSession } from '../test-support.ts';
import { ChangeStream, type ChangeStreamDatabase, type TableRef, type Transaction } from './changes.ts';

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
    {
      url: 'postgres://unused',
      slot: 'test_slot',
      publication,
      onTransaction: (transaction) => received.push(transaction),
      log: () => undefined,
    },
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
