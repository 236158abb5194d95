import { describe, expect, it } from 'vitest';
import type { Relationship } from './catalog.ts';
import { targetEntries, tokenize, viewColumnOrigins, viewRelationships } from './view-keys.ts';

// The shape of pg_rewrite.ev_action for `create view v as select id, "my col" as b, 1 as c from t`
// (trimmed to the fields that matter, with the escapes the server writes).
const definition =
  '({QUERY :commandType 1 :rtable ({RTE :alias <> :eref {ALIAS :aliasname t :colnames ("id" "my\\ col")}}) ' +
  ':targetList ({TARGETENTRY :expr {VAR :varno 1 :varattno 1 :location 7} :resno 1 :resname id :resorigtbl 16400 :resorigcol 1 :resjunk false} ' +
  '{TARGETENTRY :expr {VAR :varno 1 :varattno 2} :resno 2 :resname b :resorigtbl 16400 :resorigcol 2 :resjunk false} ' +
  '{TARGETENTRY :expr {CONST :consttype 23 :constvalue 4 [ 1 0 0 0 0 0 0 0 ]} :resno 3 :resname c :resorigtbl 0 :resorigcol 0 :resjunk false}) ' +
  ':onConflict <>})';

describe('pg_node_tree', () => {
  it('splits like the server does, honouring backslash escapes', () => {
    expect(tokenize('{A :x my\\ col :y (1 2)}')).toEqual(['{', 'A', ':x', 'my col', ':y', '(', '1', '2', ')', '}']);
  });

  it("reads each target entry's origin table and column", () => {
    expect(targetEntries(definition)).toEqual([
      { resno: 1, origTable: 16400, origColumn: 1 },
      { resno: 2, origTable: 16400, origColumn: 2 },
      { resno: 3, origTable: 0, origColumn: 0 },
    ]);
  });
});

describe('view relationships', () => {
  const fk: Relationship = {
    foreignKeyName: 'm_fkey',
    schema: 'public',
    relation: 't',
    columns: ['id', 'my col'],
    isOneToOne: false,
    referencedSchema: 'public',
    referencedRelation: 'c',
    referencedColumns: ['cid', 'uid'],
  };
  const view = { id: 500, schema: 'public', name: 'v', definition };
  const columns = [
    { viewId: 500, attnum: 1, name: 'id' },
    { viewId: 500, attnum: 2, name: 'b' },
    { viewId: 500, attnum: 3, name: 'c' },
  ];
  const key = { name: 'm_fkey', type: 'f' as const, tableId: 16400, tableSchema: 'public', tableName: 't', columns: [1, 2], columnNames: ['id', 'my col'] };

  it('lets a view that shows every column of a foreign key take part in it, under its own column names', () => {
    const dependencies = viewColumnOrigins([view], columns, [key]);
    expect(dependencies).toEqual([
      {
        tableSchema: 'public',
        tableName: 't',
        viewSchema: 'public',
        viewName: 'v',
        constraintName: 'm_fkey',
        constraintType: 'f',
        columns: [
          { tableColumn: 'id', viewColumns: ['id'] },
          { tableColumn: 'my col', viewColumns: ['b'] },
        ],
      },
    ]);
    expect(viewRelationships([fk], dependencies)).toEqual([{ ...fk, relation: 'v', columns: ['id', 'b'] }]);
  });

  it('ignores a key the view shows only in part', () => {
    expect(viewColumnOrigins([view], columns, [{ ...key, columns: [1, 4], columnNames: ['id', 'other'] }])).toEqual([]);
  });
});
