import { describe, expect, it } from 'vitest';
import { fromBroadcast, fromPostgresChanges, fromPull } from './remote-changes.ts';

const id = '7d3f3a5e-0000-4000-8000-000000000001';
const row = { id, user_id: 'u', local_id: 'm-1', content: 'hi', version: 3 };

describe('postgres_changes payloads', () => {
  it('INSERT and UPDATE carry the new row, its version and local id', () => {
    for (const eventType of ['INSERT', 'UPDATE']) {
      expect(
        fromPostgresChanges({
          schema: 'public',
          table: 'memories',
          eventType,
          new: row,
          old: {},
          commit_timestamp: '2026-11-30T10:00:00.000Z',
        }),
      ).toEqual({
        table: 'memories',
        op: 'upsert',
        id,
        local_id: 'm-1',
        version: 3,
        row,
        source: 'realtime',
        commitTimestamp: '2026-11-30T10:00:00.000Z',
      });
    }
  });

  it('a DELETE on an RLS table carries only the key: no version, no local id', () => {
    expect(
      fromPostgresChanges({ schema: 'public', table: 'messages', eventType: 'DELETE', new: {}, old: { id } }),
    ).toEqual({
      table: 'messages',
      op: 'delete',
      id,
      local_id: null,
      version: null,
      row: null,
      source: 'realtime',
    });
  });

  it('other schemas, other tables and malformed rows are not changes', () => {
    expect(
      fromPostgresChanges({ schema: 'private', table: 'memories', eventType: 'INSERT', new: row }),
    ).toBeUndefined();
    expect(fromPostgresChanges({ schema: 'public', table: 'profiles', eventType: 'INSERT', new: row })).toBeUndefined();
    expect(
      fromPostgresChanges({ schema: 'public', table: 'memories', eventType: 'INSERT', new: { content: 'no id' } }),
    ).toBeUndefined();
    expect(
      fromPostgresChanges({ schema: 'public', table: 'memories', eventType: 'TRUNCATE', new: row }),
    ).toBeUndefined();
  });
});

describe('broadcast payloads from realtime.broadcast_changes', () => {
  it('INSERT and UPDATE read `record`', () => {
    const message = {
      type: 'broadcast',
      event: 'UPDATE',
      payload: {
        operation: 'UPDATE',
        table: 'conversations',
        schema: 'public',
        record: row,
        old_record: { ...row, version: 2 },
      },
    };
    expect(fromBroadcast(message)).toEqual({
      table: 'conversations',
      op: 'upsert',
      id,
      local_id: 'm-1',
      version: 3,
      row,
      source: 'realtime',
    });
  });

  it('DELETE reads the whole `old_record`, version included', () => {
    const message = {
      event: 'DELETE',
      payload: { operation: 'DELETE', table: 'memories', schema: 'public', record: null, old_record: row },
    };
    expect(fromBroadcast(message)).toEqual({
      table: 'memories',
      op: 'delete',
      id,
      local_id: 'm-1',
      version: 3,
      row: null,
      source: 'realtime',
    });
  });

  it('the operation falls back to the event name, and foreign payloads are ignored', () => {
    expect(fromBroadcast({ event: 'INSERT', payload: { table: 'memories', schema: 'public', record: row } })?.op).toBe(
      'upsert',
    );
    expect(
      fromBroadcast({ event: 'INSERT', payload: { table: 'memories', schema: 'audit', record: row } }),
    ).toBeUndefined();
    expect(fromBroadcast({ event: 'typing', payload: { user: 'ben' } })).toBeUndefined();
    expect(fromBroadcast({ event: 'INSERT', payload: 'text' })).toBeUndefined();
  });
});

describe('pulled changes', () => {
  it('keep their version; a delete has no row', () => {
    expect(fromPull({ table: 'memories', op: 'delete', id, local_id: 'm-1', version: 4, row: null })).toEqual({
      table: 'memories',
      op: 'delete',
      id,
      local_id: 'm-1',
      version: 4,
      row: null,
      source: 'pull',
    });
  });
});
