import { describe, expect, it } from 'vitest';
import type { Change } from './changes.ts';
import { changeData, commitTimestamp, jsonValue, unauthorizedData } from './records.ts';
import { testTable } from './test-support.ts';

const table = testTable('public', 'memories', [
  ['id', 'uuid'],
  ['content', 'text'],
  ['meta', 'jsonb'],
  ['at', 'timestamptz'],
]);
const row = [
  { name: 'id', type: 'uuid', value: 'u1' },
  { name: 'content', type: 'text', value: 'x' },
  { name: 'meta', type: 'jsonb', value: '{"a": 1}' },
  { name: 'at', type: 'timestamp with time zone', value: '2026-11-25 01:05:46.20329+00' },
];

describe('records', () => {
  it('formats commit timestamps as UTC milliseconds and values as the platform’s JSON', () => {
    expect(commitTimestamp('2026-11-25 01:05:46.20329+00')).toBe('2026-11-25T01:05:46.203Z');
    expect(jsonValue('jsonb', '{"a": 1}')).toEqual({ a: 1 });
    expect(jsonValue('timestamptz', '2026-11-25 01:05:46.20329+00')).toBe('2026-11-25T01:05:46.20329+00:00');
    expect(jsonValue('int8', 5)).toBe(5);
  });

  it('builds INSERT data with typnames in table order', () => {
    const change: Change = { type: 'INSERT', schema: 'public', table: 'memories', columns: row, identity: [] };
    expect(changeData(change, table, 'T')).toEqual({
      schema: 'public',
      table: 'memories',
      commit_timestamp: 'T',
      type: 'INSERT',
      columns: table.columns,
      record: { id: 'u1', content: 'x', meta: { a: 1 }, at: '2026-11-25T01:05:46.20329+00:00' },
      errors: null,
    });
  });

  it('cuts a DELETE’s old record to the primary key on an RLS table, and keeps it whole otherwise', () => {
    const change: Change = { type: 'DELETE', schema: 'public', table: 'memories', columns: [], identity: row };
    expect(changeData(change, table, 'T').old_record).toEqual({ id: 'u1' });
    expect(changeData(change, { ...table, rls: false }, 'T').old_record).toMatchObject({ id: 'u1', content: 'x' });
    expect(changeData(change, table, 'T')).not.toHaveProperty('record');
  });

  it('fills an UPDATE’s unchanged (TOASTed) values from the old image', () => {
    const change: Change = {
      type: 'UPDATE',
      schema: 'public',
      table: 'memories',
      columns: row.slice(0, 2),
      identity: row,
    };
    expect(changeData(change, table, 'T').record).toMatchObject({ id: 'u1', content: 'x', meta: { a: 1 } });
  });

  it('leaves columns outside the visible set out of columns, record and old_record', () => {
    const visible = new Set(['id', 'content']);
    const update: Change = { type: 'UPDATE', schema: 'public', table: 'memories', columns: row, identity: row };
    const data = changeData(update, table, 'T', visible);
    expect(data.columns).toEqual([
      { name: 'id', type: 'uuid' },
      { name: 'content', type: 'text' },
    ]);
    expect(data.record).toEqual({ id: 'u1', content: 'x' });
    expect(data.old_record).toEqual({ id: 'u1', content: 'x' });
    const remove: Change = { type: 'DELETE', schema: 'public', table: 'memories', columns: [], identity: row };
    expect(changeData(remove, { ...table, rls: false }, 'T', new Set(['meta'])).old_record).toEqual({ meta: { a: 1 } });
  });

  it('builds the 401 event with no data', () => {
    const change: Change = { type: 'INSERT', schema: 'public', table: 'memories', columns: row, identity: [] };
    expect(unauthorizedData(change, 'T')).toEqual({
      schema: 'public',
      table: 'memories',
      commit_timestamp: 'T',
      type: 'INSERT',
      columns: [],
      record: {},
      errors: ['Error 401: Unauthorized'],
    });
  });
});
