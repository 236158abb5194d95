import { describe, expect, it } from 'vitest';
import { BroadcastStream, toMessage } from './broadcast-stream.ts';
import { FakeSession } from '../test-support.ts';

const column = (name: string, type: string, value: unknown) => ({ name, type, value });
const base = [
  column('topic', 'text', 'virgil-sync-1'),
  column('extension', 'text', 'broadcast'),
  column('event', 'text', 'INSERT'),
  column('private', 'boolean', true),
  column('inserted_at', 'timestamp without time zone', '2026-11-30 10:00:00.1'),
  column('id', 'uuid', 'a1a1a1a1-0000-4000-8000-000000000001'),
];

describe('toMessage (a wal2json row of realtime.messages)', () => {
  it('reads a JSON payload whether wal2json gives it as text or as JSON', () => {
    expect(
      toMessage([...base, column('payload', 'jsonb', '{"a": 1}'), column('binary_payload', 'bytea', null)]),
    ).toMatchObject({
      topic: 'virgil-sync-1',
      event: 'INSERT',
      private: true,
      payload: { a: 1 },
    });
    expect(toMessage([...base, column('payload', 'jsonb', { a: 2 })])?.payload).toEqual({ a: 2 });
  });

  it('reads a binary payload from bytea hex', () => {
    const message = toMessage([
      ...base,
      column('payload', 'jsonb', null),
      column('binary_payload', 'bytea', '\\x0102ff'),
    ]);
    expect([...message!.binary!]).toEqual([1, 2, 255]);
  });

  it('ignores what is not a broadcast (e.g. a presence probe)', () => {
    expect(
      toMessage(base.map((c) => (c.name === 'extension' ? column('extension', 'text', 'presence') : c))),
    ).toBeUndefined();
  });
});

describe('BroadcastStream on its session', () => {
  async function streamWith() {
    let session!: FakeSession;
    const delivered: string[][] = [];
    new BroadcastStream(
      {
        url: 'postgres://unused',
        slot: 'test_slot',
        onMessages: (messages) => delivered.push(messages.map((m) => m.id)),
        log: () => undefined,
      },
      (options) => (session = new FakeSession(options)),
    );
    session.start();
    await new Promise((resolve) => setImmediate(resolve));
    const message = (id: string) => ({
      action: 'I',
      schema: 'realtime',
      table: 'messages_2026_12_01',
      columns: [...base.filter((c) => c.name !== 'id'), column('id', 'uuid', id), column('payload', 'jsonb', '{}')],
    });
    const transaction = (lsn: bigint, ...ids: string[]) => {
      session.record(0n, { action: 'B' });
      for (const id of ids) session.record(0n, message(id));
      session.record(lsn, { action: 'C' });
    };
    return { session, delivered, transaction };
  }

  it('hands over a transaction’s messages in insert order and confirms its position at once', async () => {
    const { session, delivered, transaction } = await streamWith();
    transaction(100n, 'm1', 'm2');
    expect(delivered).toEqual([['m1', 'm2']]);
    expect(session.confirmed).toEqual([100n]);
  });

  it('skips a transaction the server sends again after a reconnect', async () => {
    const { session, delivered, transaction } = await streamWith();
    transaction(100n, 'm1');
    await session.reconnect();
    transaction(100n, 'm1');
    transaction(200n, 'm2');
    expect(delivered).toEqual([['m1'], ['m2']]);
  });

  it('a keepalive counts as handled only while no transaction is open', async () => {
    const { session } = await streamWith();
    session.options.onKeepalive(300n, true);
    session.record(0n, { action: 'B' });
    session.options.onKeepalive(400n, true);
    expect(session.confirmed).toEqual([300n, 300n]);
  });
});
