import { describe, expect, it } from 'vitest';
import type { TableInfo } from './catalog.ts';
import { deleteVisibilityQuery, identifier, literal, populateJson, rowKey, visibilityQuery } from './visibility.ts';

const table: TableInfo = {
  schema: 'public',
  table: 'we"ird',
  rls: true,
  columns: [{ name: 'id', type: 'uuid' }],
  types: new Map([['id', 'uuid']]),
  primaryKey: ['id'],
  selectPolicies: [],
  selectable: new Map(),
};

describe('visibilityQuery', () => {
  it('quotes identifiers and literals so claims cannot break out of the statement', () => {
    const query = visibilityQuery('authenticated', { sub: "x'); drop table t; --" }, table, [["a'b"]]);
    expect(query).toContain(`set local role "authenticated"`);
    expect(query).toContain(`from "public"."we""ird" t`);
    expect(query).toContain(`'{"sub":"x''); drop table t; --"}'`);
    expect(query).toContain(`'[{"id":"a''b"}]'::jsonb`);
    expect(query.startsWith('set transaction read only;')).toBe(true);
  });

  it('helpers double their quote characters', () => {
    expect(literal("it's")).toBe("'it''s'");
    expect(identifier('a"b')).toBe('"a""b"');
    expect(rowKey([1, 'x', null])).toBe('["1","x",null]');
  });

  it('builds the DELETE check from catalog policies over the old image, aliased as the table', () => {
    const notes: TableInfo = {
      ...table,
      table: 'notes',
      columns: [
        { name: 'id', type: 'uuid' },
        { name: 'user_id', type: 'uuid' },
        { name: 'meta', type: 'jsonb' },
      ],
      types: new Map([
        ['id', 'uuid'],
        ['user_id', 'uuid'],
        ['meta', 'jsonb'],
      ]),
      selectPolicies: [{ name: 'own', permissive: true, roles: ['authenticated'], qual: '(user_id = ( SELECT auth.uid() AS uid))', reads: ['user_id'] }],
    };
    const query = deleteVisibilityQuery('authenticated', { sub: 'u' }, notes, [['delete 0', { id: "a'1", user_id: 'u', meta: '{"x": 1}' }]]);
    expect(query.startsWith('set transaction read only;')).toBe(true);
    expect(query).toContain(`'[{"virgil key":"delete 0","virgil row":{"id":"a''1","user_id":"u","meta":{"x":1}}}]'::jsonb`);
    expect(query).toContain(`cross join lateral jsonb_populate_record(null::"public"."notes", x."virgil row") as "notes"`);
    expect(query).toContain(`pg_catalog.has_column_privilege('"public"."notes"', 'id', 'SELECT')`);
    expect(query).toContain(`case when pg_catalog.row_security_active('"public"."notes"') then (((user_id = ( SELECT auth.uid() AS uid)))) else true end`);
    // A role no policy names gets the default deny.
    expect(deleteVisibilityQuery('anon', {}, notes, [['k', { id: 'a' }]])).toContain('then false else true end');
    expect(populateJson(notes, { id: 'a', meta: 'not json', stray: 1 })).toEqual({ id: 'a', meta: 'not json' });
  });
});
