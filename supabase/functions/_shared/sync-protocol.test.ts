import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, isSnapshotText, syncItem, syncLimits, syncRequest } from './sync-protocol.ts';

const base = {
  op: 'upsert',
  local_id: 'c1',
  change_id: '5b0c2d3e-8f1a-4b6c-9d2e-0f1a2b3c4d5e',
  client_updated_at: '2026-11-25T10:00:00.000Z',
} as const;

describe('sync items', () => {
  it('accepts an upsert of each table with its own fields', () => {
    expect(syncItem.safeParse({ ...base, table: 'conversations', fields: { title: 'Trip' } }).success).toBe(true);
    expect(
      syncItem.safeParse({
        ...base,
        table: 'messages',
        fields: { conversation_local_id: 'c1', role: 'user', content: 'hi', metadata: { a: [1] } },
      }).success,
    ).toBe(true);
    expect(
      syncItem.safeParse({ ...base, table: 'memories', fields: { content: 'x', importance_score: 0.4, tag: null } })
        .success,
    ).toBe(true);
    expect(syncItem.safeParse({ ...base, table: 'memories', op: 'delete', base_version: 3, mode: 'cas' }).success).toBe(
      true,
    );
  });

  it.each([
    ['an unknown table', { ...base, table: 'users' }],
    ['an unknown column', { ...base, table: 'conversations', fields: { title: 'x', user_id: 'u' } }],
    ['a column of another table', { ...base, table: 'conversations', fields: { content: 'x' } }],
    ['bookkeeping a device may not set', { ...base, table: 'memories', fields: { version: 9 } }],
    ['an unknown top-level key', { ...base, table: 'conversations', user_id: 'x' }],
    ['a delete with fields', { ...base, table: 'conversations', op: 'delete', fields: { title: 'x' } }],
    [
      'both conversation references',
      { ...base, table: 'messages', fields: { conversation_id: base.change_id, conversation_local_id: 'c' } },
    ],
    ['a role the table refuses', { ...base, table: 'messages', fields: { role: 'robot' } }],
    ['a score outside [0, 1]', { ...base, table: 'memories', fields: { importance_score: 1.5 } }],
    ['a time without a zone', { ...base, table: 'conversations', client_updated_at: '2026-11-25 10:00' }],
    ['a change_id that is not a uuid', { ...base, table: 'conversations', change_id: '1' }],
    ['an empty local_id', { ...base, table: 'conversations', local_id: '' }],
    ['a fractional base_version', { ...base, table: 'conversations', base_version: 1.5 }],
    ['an unknown mode', { ...base, table: 'conversations', mode: 'force' }],
  ])('refuses %s', (_name, value) => {
    expect(syncItem.safeParse(value).success).toBe(false);
  });
});

describe('sync requests', () => {
  it('needs push, pull or both', () => {
    expect(syncRequest.safeParse({}).success).toBe(false);
    expect(syncRequest.safeParse({ pull: {} }).success).toBe(true);
    expect(syncRequest.safeParse({ push: [], pull: { cursor: null, limit: 10 } }).success).toBe(true);
  });

  it('bounds the batch and the page', () => {
    const item = { ...base, table: 'conversations' };
    expect(syncRequest.safeParse({ push: Array(syncLimits.maxItems).fill(item) }).success).toBe(true);
    expect(syncRequest.safeParse({ push: Array(syncLimits.maxItems + 1).fill(item) }).success).toBe(false);
    expect(syncRequest.safeParse({ pull: { limit: syncLimits.maxPullChanges + 1 } }).success).toBe(false);
    expect(syncRequest.safeParse({ pull: { limit: 0 } }).success).toBe(false);
  });
});

describe('cursors', () => {
  it('round-trip through the opaque string', () => {
    const cursor = {
      since: '10:20:12,15',
      upto: '30:31:',
      after: { txid: '25', table: 'messages' as const, id: base.change_id },
    };
    const text = encodeCursor(cursor);
    expect(text).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    expect(decodeCursor(text)).toEqual(cursor);
  });

  it.each([
    ['not ours', 'abc'],
    ['not base64url', 'v1.***'],
    ['not JSON', `v1.${Buffer.from('nope').toString('base64url')}`],
    [
      'a snapshot with SQL in it',
      `v1.${Buffer.from(JSON.stringify({ since: "1:2:'); drop table x; --" })).toString('base64url')}`,
    ],
    ['an unknown key', `v1.${Buffer.from(JSON.stringify({ since: '1:2:', user: 'x' })).toString('base64url')}`],
  ])('are refused when %s', (_name, text) => {
    expect(decodeCursor(text)).toBeUndefined();
  });

  const cursorOf = (value: unknown) => `v1.${Buffer.from(JSON.stringify(value)).toString('base64url')}`;

  it.each([
    ['xmin above xmax', '5:1:'],
    ['xmin 0', '0:0:'],
    ['an id past 2^64 - 1', '18446744073709551616:18446744073709551616:'],
    ['an in-progress id at xmax', '1:5:5'],
    ['an in-progress id below xmin', '3:5:2'],
    ['in-progress ids out of order', '1:5:3,2'],
    ['a trailing comma', '1:5:3,'],
    ['a sign', '+1:5:'],
  ])('are refused when a snapshot has %s (pg_snapshot would refuse it)', (_name, snapshot) => {
    expect(isSnapshotText(snapshot)).toBe(false);
    expect(decodeCursor(cursorOf({ since: snapshot }))).toBeUndefined();
    expect(decodeCursor(cursorOf({ upto: snapshot }))).toBeUndefined();
  });

  it('accept every snapshot pg_snapshot accepts', () => {
    for (const snapshot of [
      '1:1:',
      '10:20:',
      '10:20:10',
      '10:20:12,15,15,19',
      '18446744073709551615:18446744073709551615:',
    ]) {
      expect(isSnapshotText(snapshot)).toBe(true);
    }
  });

  it('are refused when the page position names a transaction id past 2^64 - 1', () => {
    const after = { txid: '99999999999999999999', table: 'messages', id: base.change_id };
    expect(decodeCursor(cursorOf({ since: '1:2:', after }))).toBeUndefined();
    expect(decodeCursor(cursorOf({ since: '1:2:', after: { ...after, txid: '18446744073709551615' } }))).toBeDefined();
  });
});
