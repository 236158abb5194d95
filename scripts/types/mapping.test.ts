import { describe, expect, it } from 'vitest';
import type { PgType, Relation } from './catalog.ts';
import { print } from './doc.ts';
import { type MappingContext, pgTypeToTs } from './mapping.ts';
import { typeDoc } from './tstype.ts';

const userType = (name: string, schema: string, extra: Partial<PgType>): PgType => ({
  id: 1,
  name,
  schema,
  format: name,
  enums: [],
  attributes: [],
  typeRelationId: null,
  ...extra,
});
const relation = (name: string, schema: string, kind: Relation['kind']): Relation => ({ id: 1, name, schema, kind, isUpdatable: true });
const context: MappingContext = {
  schemas: ['public'],
  types: [
    userType('mood', 'public', { enums: ['happy', 'sad'] }),
    userType('factor_type', 'auth', { enums: ['totp', 'webauthn'] }),
    userType('pair', 'public', { attributes: [{ name: 'a', typeId: 23 }] }),
    userType('point3', 'private', { attributes: [{ name: 'x', typeId: 701 }] }),
  ],
  relations: [relation('messages', 'public', 'table'), relation('inbox', 'public', 'view'), relation('ft', 'public', 'foreign table')],
};
const ts = (pgType: string) => print(typeDoc(pgTypeToTs('public', pgType, context)));

describe('Postgres → TypeScript types', () => {
  it.each([
    ['bool', 'boolean'],
    ['int2', 'number'],
    ['int4', 'number'],
    ['int8', 'number'],
    ['float4', 'number'],
    ['float8', 'number'],
    ['numeric', 'number'],
    ['text', 'string'],
    ['varchar', 'string'],
    ['bpchar', 'string'],
    ['uuid', 'string'],
    ['date', 'string'],
    ['time', 'string'],
    ['timestamptz', 'string'],
    ['timestamp', 'string'],
    ['interval', 'string'],
    ['bytea', 'string'],
    ['json', 'Json'],
    ['jsonb', 'Json'],
    ['void', 'undefined'],
    ['record', 'Record<string, unknown>'],
    ['_text', 'string[]'],
    ['_int8', 'number[]'],
    ['_jsonb', 'Json[]'],
    ['inet', 'unknown'],
    ['tstzrange', 'unknown'],
  ])('%s → %s', (pgType, expected) => {
    expect(ts(pgType)).toBe(expected);
  });

  it('refers to enums and composite types of generated schemas by name', () => {
    expect(ts('mood')).toBe('Database["public"]["Enums"]["mood"]');
    expect(ts('_mood')).toBe('Database["public"]["Enums"]["mood"][]');
    expect(ts('pair')).toBe('Database["public"]["CompositeTypes"]["pair"]');
  });

  it('spells out enums of other schemas and gives up on their composite types', () => {
    expect(ts('factor_type')).toBe('"totp" | "webauthn"');
    expect(ts('_factor_type')).toBe('("totp" | "webauthn")[]');
    expect(ts('point3')).toBe('unknown');
  });

  it('uses the Row type for table and view row types (not for foreign tables)', () => {
    expect(ts('messages')).toBe('Database["public"]["Tables"]["messages"]["Row"]');
    expect(ts('inbox')).toBe('Database["public"]["Views"]["inbox"]["Row"]');
    expect(ts('ft')).toBe('unknown');
  });
});
