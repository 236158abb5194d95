import { describe, expect, it } from 'vitest';
import { deleteCheckStatement, LANE_SETTINGS, populateJson, rowCheckStatement, rowKey } from './visibility.ts';
import { testTable } from './test-support.ts';

const table = testTable('public', 'we"ird', [
  ['id', 'uuid'],
  ['n', 'int8'],
]);

describe('rowCheckStatement', () => {
  it('looks each key up by scalar equality in its own LATERAL subquery, values only as parameters', () => {
    const text = rowCheckStatement(table);
    expect(text).toContain(`from unnest($1::text[]::"uuid"[]) with ordinality as k(k1, n)`);
    expect(text).toContain(`cross join lateral (select from "public"."we""ird" t where t."id" = k.k1 limit 1) v`);
    // The xids, role and claims follow the key arrays; nothing is inlined.
    expect(text).toContain('unnest($2::int8[])');
    expect(text).toContain(
      `current_user = $3::text and pg_catalog.current_setting('request.jwt.claims', true) = $4::text`,
    );
    expect(text).not.toMatch(/ any\(| in \(/);
    const composite = rowCheckStatement({ ...table, primaryKey: ['id', 'n'] });
    expect(composite).toContain(`unnest($1::text[]::"uuid"[], $2::text[]::"int8"[]) with ordinality as k(k1, k2, n)`);
    expect(composite).toContain(`t."id" = k.k1 and t."n" = k.k2 limit 1`);
    expect(composite).toContain('unnest($3::int8[])');
  });

  it('answers visibility from the snapshot the table is read with, in the same statement', () => {
    const text = rowCheckStatement(table);
    expect(text).toContain('pg_catalog.pg_current_snapshot()');
    expect(text).toContain('pg_catalog.pg_visible_in_snapshot(');
    expect(text.split(';')).toHaveLength(1);
  });

  it('runs on sessions that cannot write, never choose a sequential or bitmap scan, and never JIT-compile', () => {
    expect(LANE_SETTINGS).toMatchObject({
      default_transaction_read_only: true,
      enable_seqscan: 'off',
      enable_bitmapscan: 'off',
      jit: 'off',
    });
  });

  it('keys rows by their primary key values as text', () => {
    expect(rowKey([1, 'x', null])).toBe('["1","x",null]');
  });
});

describe('deleteCheckStatement', () => {
  it('builds the DELETE check from catalog policies over the old image, aliased as the table', () => {
    const notes = testTable(
      'public',
      'notes',
      [
        ['id', 'uuid'],
        ['user_id', 'uuid'],
        ['meta', 'jsonb'],
      ],
      {
        selectPolicies: [
          {
            name: 'own',
            permissive: true,
            roles: ['authenticated'],
            qual: '(user_id = ( SELECT auth.uid() AS uid))',
            reads: ['user_id'],
          },
        ],
      },
    );
    const text = deleteCheckStatement(notes, 'authenticated');
    expect(text).toContain(`jsonb_to_recordset($1::text::jsonb)`);
    expect(text).toContain(`unnest($2::int8[])`);
    expect(text).toContain(
      `cross join lateral jsonb_populate_record(null::"public"."notes", x."virgil row") as "notes"`,
    );
    expect(text).toContain(`pg_catalog.has_column_privilege('"public"."notes"', 'id', 'SELECT')`);
    expect(text).toContain(
      `case when pg_catalog.row_security_active('"public"."notes"') then (((user_id = ( SELECT auth.uid() AS uid)))) else true end`,
    );
    // A role no policy names gets the default deny.
    expect(deleteCheckStatement(notes, 'anon')).toContain('then false else true end');
    expect(populateJson(notes, { id: 'a', meta: 'not json', stray: 1 })).toEqual({ id: 'a', meta: 'not json' });
    expect(populateJson(notes, { id: 'a', meta: '{"x": 1}' })).toEqual({ id: 'a', meta: { x: 1 } });
  });
});
