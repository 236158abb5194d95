import { describe, expect, it } from 'vitest';
import { toMessage } from './broadcast-stream.ts';

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
    expect(toMessage([...base, column('payload', 'jsonb', '{"a": 1}'), column('binary_payload', 'bytea', null)])).toMatchObject({
      topic: 'virgil-sync-1',
      event: 'INSERT',
      private: true,
      payload: { a: 1 },
    });
    expect(toMessage([...base, column('payload', 'jsonb', { a: 2 })])?.payload).toEqual({ a: 2 });
  });

  it('reads a binary payload from bytea hex', () => {
    const message = toMessage([...base, column('payload', 'jsonb', null), column('binary_payload', 'bytea', '\\x0102ff')]);
    expect([...message!.binary!]).toEqual([1, 2, 255]);
  });

  it('ignores what is not a broadcast (e.g. a presence probe)', () => {
    expect(toMessage(base.map((c) => (c.name === 'extension' ? column('extension', 'text', 'presence') : c)))).toBeUndefined();
  });
});
