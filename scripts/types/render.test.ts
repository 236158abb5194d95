import { describe, expect, it } from 'vitest';
import type { Catalog, Column, FunctionArg, PgFunction, PgType, Relation } from './catalog.ts';
import { render } from './render.ts';

// A catalog built by hand: ids are arbitrary, type ids of built-in types are the real oids.
const builtin = (id: number, name: string): PgType => ({
  id,
  name,
  schema: 'pg_catalog',
  format: name,
  enums: [],
  attributes: [],
  typeRelationId: null,
});
const types: PgType[] = [
  builtin(16, 'bool'),
  builtin(20, 'int8'),
  builtin(23, 'int4'),
  builtin(25, 'text'),
  builtin(114, 'json'),
  builtin(2950, 'uuid'),
  builtin(2278, 'void'),
  { id: 5000, name: 'mood', schema: 'public', format: 'mood', enums: ['happy', 'sad'], attributes: [], typeRelationId: null },
  { id: 5001, name: 'items', schema: 'public', format: 'items', enums: [], attributes: [], typeRelationId: 100 },
  {
    id: 5002,
    name: 'pair',
    schema: 'public',
    format: 'pair',
    enums: [],
    attributes: [
      { name: 'left', typeId: 23 },
      { name: 'right', typeId: 25 },
    ],
    typeRelationId: 300,
  },
];

const relation = (id: number, name: string, kind: Relation['kind'] = 'table', isUpdatable = true): Relation => ({
  id,
  schema: 'public',
  name,
  kind,
  isUpdatable,
});
const column = (tableId: number, name: string, format: string, extra: Partial<Column> = {}): Column => ({
  tableId,
  name,
  format,
  isNullable: false,
  hasDefault: false,
  isIdentity: false,
  identityGeneration: null,
  isUpdatable: true,
  ...extra,
});
const fn = (name: string, args: FunctionArg[], extra: Partial<PgFunction> = {}): PgFunction => ({
  id: 900,
  schema: 'public',
  name,
  args,
  argumentTypes: args.map((a) => `${a.name} x`).join(', '),
  returnType: 'integer',
  returnTypeId: 23,
  returnTypeRelationId: null,
  isSetReturning: false,
  rows: null,
  ...extra,
});
const arg = (name: string, typeId: number, extra: Partial<FunctionArg> = {}): FunctionArg => ({
  mode: 'in',
  name,
  typeId,
  hasDefault: false,
  ...extra,
});

function catalog(parts: Partial<Catalog> = {}): Catalog {
  return {
    schemas: ['public'],
    relations: [relation(100, 'items'), relation(200, 'owners')],
    columns: [
      column(100, 'id', 'int8', { isIdentity: true, identityGeneration: 'ALWAYS', hasDefault: false }),
      column(100, 'name', 'text'),
      column(100, 'note', 'text', { isNullable: true }),
      column(100, 'created', 'timestamptz', { hasDefault: true }),
      column(100, 'serial_no', 'int4', { isIdentity: true, identityGeneration: 'BY DEFAULT' }),
      column(100, 'tags', '_text', { hasDefault: true }),
      column(100, 'mood', 'mood', { isNullable: true }),
      column(100, 'owner_id', 'uuid'),
      column(100, 'owner_org', 'uuid'),
      column(100, 'payload', 'jsonb'),
      column(200, 'id', 'uuid'),
      column(200, 'org', 'uuid'),
    ],
    relationships: [
      {
        foreignKeyName: 'items_owner_fkey',
        schema: 'public',
        relation: 'items',
        columns: ['owner_id', 'owner_org'],
        isOneToOne: false,
        referencedSchema: 'public',
        referencedRelation: 'owners',
        referencedColumns: ['id', 'org'],
      },
      {
        foreignKeyName: 'items_user_fkey',
        schema: 'public',
        relation: 'items',
        columns: ['owner_id'],
        isOneToOne: true,
        referencedSchema: 'auth',
        referencedRelation: 'users',
        referencedColumns: ['id'],
      },
    ],
    functions: [],
    types,
    ...parts,
  };
}

/** The text of `Database[schema][section][name]`, taken from the output by indentation. */
function block(output: string, path: string[]): string {
  const lines = output.split('\n');
  let start = 0;
  let depth = 0;
  for (const key of path) {
    const indentation = ' '.repeat(2 + depth * 2);
    const found = lines.findIndex((l, i) => i >= start && (l.startsWith(`${indentation}${key}: `) || l.startsWith(`${indentation}${key}:`)));
    if (found < 0) throw new Error(`no ${path.join('.')} in output`);
    start = found;
    depth++;
  }
  const indentation = ' '.repeat(depth * 2);
  const end = lines.findIndex((l, i) => i > start && l.startsWith(indentation) && !l.startsWith(`${indentation} `));
  const opens = /[{[]$/.test(lines[start] ?? '');
  return lines.slice(start, !opens || end < 0 ? start + 1 : end + 1).join('\n');
}

describe('render', () => {
  const output = render(catalog());

  it('types rows: columns by name, nullable ones with | null, arrays, enums, json', () => {
    expect(block(output, ['public', 'Tables', 'items', 'Row'])).toBe(
      [
        '        Row: {',
        '          created: string',
        '          id: number',
        '          mood: Database["public"]["Enums"]["mood"] | null',
        '          name: string',
        '          note: string | null',
        '          owner_id: string',
        '          owner_org: string',
        '          payload: Json',
        '          serial_no: number',
        '          tags: string[]',
        '        }',
      ].join('\n'),
    );
  });

  it('makes defaults, identities and nullable columns optional on insert; identity always is never', () => {
    expect(block(output, ['public', 'Tables', 'items', 'Insert'])).toBe(
      [
        '        Insert: {',
        '          created?: string',
        '          id?: never',
        '          mood?: Database["public"]["Enums"]["mood"] | null',
        '          name: string',
        '          note?: string | null',
        '          owner_id: string',
        '          owner_org: string',
        '          payload: Json',
        '          serial_no?: number',
        '          tags?: string[]',
        '        }',
      ].join('\n'),
    );
    const update = block(output, ['public', 'Tables', 'items', 'Update']);
    expect(update).toContain('          id?: never\n');
    expect(update).toContain('          name?: string\n');
    expect(update.split('\n').filter((l) => /^ {10}\w+: /.test(l))).toEqual([]);
  });

  it('lists foreign keys within the schema as relationships, composite ones with all columns', () => {
    expect(block(output, ['public', 'Tables', 'items', 'Relationships'])).toBe(
      [
        '        Relationships: [',
        '          {',
        '            foreignKeyName: "items_owner_fkey"',
        '            columns: ["owner_id", "owner_org"]',
        '            isOneToOne: false',
        '            referencedRelation: "owners"',
        '            referencedColumns: ["id", "org"]',
        '          },',
        '        ]',
      ].join('\n'),
    );
    expect(output).not.toContain('items_user_fkey');
    expect(block(output, ['public', 'Tables', 'owners', 'Relationships'])).toBe('        Relationships: []');
  });

  it('writes enums as unions, in Enums and in Constants', () => {
    expect(block(output, ['public', 'Enums'])).toBe(['    Enums: {', '      mood: "happy" | "sad"', '    }'].join('\n'));
    expect(output).toContain('export const Constants = {\n  public: {\n    Enums: {\n      mood: ["happy", "sad"],\n    },\n  },\n} as const\n');
  });

  it('writes empty sections as [_ in never]: never', () => {
    expect(block(output, ['public', 'Views'])).toBe(['    Views: {', '      [_ in never]: never', '    }'].join('\n'));
    expect(block(output, ['public', 'Functions'])).toBe(['    Functions: {', '      [_ in never]: never', '    }'].join('\n'));
  });

  it('gives views Insert/Update only when they are updatable, and never for read-only columns', () => {
    const withViews = render(
      catalog({
        relations: [relation(100, 'items'), relation(200, 'owners'), relation(300, 'item_names', 'view', true), relation(301, 'stats', 'materialized view', false)],
        columns: [
          column(300, 'name', 'text'),
          column(300, 'upper_name', 'text', { isNullable: true, isUpdatable: false }),
          column(301, 'n', 'int8', { isNullable: true }),
        ],
        relationships: [],
      }),
    );
    expect(block(withViews, ['public', 'Views', 'item_names', 'Insert'])).toBe(
      ['        Insert: {', '          name?: string | null', '          upper_name?: never', '        }'].join('\n'),
    );
    expect(block(withViews, ['public', 'Views', 'stats'])).toBe(
      ['      stats: {', '        Row: {', '          n: number | null', '        }', '        Relationships: []', '      }'].join('\n'),
    );
  });

  it('types functions: args (optional when defaulted), scalar, set and table results', () => {
    const out = render(
      catalog({
        functions: [
          fn('count_items', [arg('owner', 2950), arg('max', 23, { hasDefault: true })]),
          fn('item_ids', [], { isSetReturning: true, rows: 1000, returnType: 'SETOF bigint', returnTypeId: 20 }),
          fn('touch', [], { returnType: 'void', returnTypeId: 2278 }),
          fn('items_of', [arg('owner', 2950)], {
            isSetReturning: true,
            rows: 1000,
            returnType: 'SETOF items',
            returnTypeId: 5001,
            returnTypeRelationId: 100,
          }),
          fn('pairs', [arg('n', 23), arg('label', 25, { mode: 'table' }), arg('total', 20, { mode: 'table' })], {
            isSetReturning: true,
            rows: 1000,
          }),
          fn('from_json', [arg('', 114)]),
          fn('from_int', [arg('', 23)]),
        ],
      }),
    );
    const functions = block(out, ['public', 'Functions']);
    expect(functions).toContain('      count_items: { Args: { max?: number; owner: string }; Returns: number }\n');
    expect(functions).toContain('      item_ids: { Args: never; Returns: number[] }\n');
    expect(functions).toContain('      touch: { Args: never; Returns: undefined }\n');
    expect(functions).toContain('      from_json: { Args: { "": Json }; Returns: number }\n');
    expect(functions).not.toContain('from_int');
    expect(functions).toContain(
      [
        '      pairs: {',
        '        Args: { n: number }',
        '        Returns: {',
        '          label: string',
        '          total: number',
        '        }[]',
        '      }',
      ].join('\n'),
    );
    expect(functions).toContain(
      [
        '        Returns: {',
        '          created: string',
        '          id: number',
      ].join('\n'),
    );
    expect(functions).toContain(
      ['        }[]', '        SetofOptions: {', '          from: "*"', '          to: "items"', '          isOneToOne: false', '          isSetofReturn: true', '        }'].join('\n'),
    );
  });

  it('types composite types with nullable attributes', () => {
    expect(block(output, ['public', 'CompositeTypes'])).toBe(
      ['    CompositeTypes: {', '      pair: {', '        left: number | null', '        right: string | null', '      }', '    }'].join('\n'),
    );
  });

  it('adds __InternalSupabase only when a PostgREST version is given', () => {
    expect(output).not.toContain('__InternalSupabase: {');
    expect(render(catalog(), { postgrestVersion: '13.0.5' })).toContain('  __InternalSupabase: {\n    PostgrestVersion: "13.0.5"\n  }\n');
  });

  it('leaves isOneToOne out when one-to-one detection is off (PostgREST v9)', () => {
    expect(render(catalog(), { detectOneToOneRelationships: false })).not.toContain('isOneToOne');
  });

  it('breaks a long enum union one member a line, as prettier does', () => {
    const labels = ['draft', 'queued', 'sending', 'sent', 'delivered', 'read', 'failed', 'cancelled'];
    const out = render(
      catalog({ types: [...types, { id: 6000, name: 'delivery_state', schema: 'public', format: 'delivery_state', enums: labels, attributes: [], typeRelationId: null }] }),
    );
    expect(out).toContain(['      delivery_state:', ...labels.map((l) => `        | "${l}"`)].join('\n') + '\n');
    expect(out).toContain(`      delivery_state: [\n${labels.map((l) => `        "${l}",`).join('\n')}\n      ],`);
  });

  it('does not depend on the order the catalog lists things in', () => {
    const base = catalog({
      functions: [fn('b_fn', [arg('x', 23)]), fn('a_fn', []), fn('b_fn', [arg('y', 25)], { argumentTypes: 'y text' })],
    });
    const reversed: Catalog = {
      ...base,
      relations: [...base.relations].reverse(),
      columns: [...base.columns].reverse(),
      relationships: [...base.relationships].reverse(),
      functions: [...base.functions].reverse(),
      types: [...base.types].reverse(),
    };
    expect(render(reversed)).toBe(render(base));
  });

  it('quotes keys that are not identifiers', () => {
    const out = render(catalog({ columns: [column(200, 'user-id', 'int4'), column(200, 'id', 'uuid')] }));
    expect(block(out, ['public', 'Tables', 'owners', 'Row'])).toBe(['        Row: {', '          id: string', '          "user-id": number', '        }'].join('\n'));
  });
});
