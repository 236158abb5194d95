import { describe, expect, it } from 'vitest';
import type { SelectPolicy, TableInfo } from './catalog.ts';
import { payloadColumns, primaryKeyHidden } from './columns.ts';
import { checkableOn, policyPredicate } from './policies.ts';

const policy = (
  name: string,
  permissive: boolean,
  roles: string[] | 'public',
  qual: string | null,
  reads: string[] = [],
): SelectPolicy => ({
  name,
  permissive,
  roles,
  qual,
  reads,
});

const table = (selectPolicies: SelectPolicy[]): TableInfo => ({
  schema: 'public',
  table: 'notes',
  rls: true,
  columns: ['id', 'user_id', 'body', 'secret'].map((name) => ({
    name,
    type: name === 'body' || name === 'secret' ? 'text' : 'uuid',
  })),
  types: new Map([
    ['id', 'uuid'],
    ['user_id', 'uuid'],
    ['body', 'text'],
    ['secret', 'text'],
  ]),
  primaryKey: ['id'],
  selectPolicies,
  selectable: new Map([
    ['authenticated', new Set(['id', 'user_id', 'body'])],
    ['anon', new Set(['body'])],
  ]),
});

describe('policyPredicate', () => {
  it('ORs the permissive policies and ANDs the restrictive ones that apply to the role', () => {
    const notes = table([
      policy('own', true, ['authenticated'], '(user_id = auth.uid())', ['user_id']),
      policy('shared', true, 'public', "(body = 'shared'::text)", ['body']),
      policy('not archived', false, ['authenticated'], '(secret IS NULL)', ['secret']),
      policy('for admins', true, ['admin'], 'true'),
    ]);
    expect(policyPredicate(notes, 'authenticated')).toBe(
      "(((user_id = auth.uid())) or ((body = 'shared'::text))) and ((secret IS NULL))",
    );
    expect(policyPredicate(notes, 'anon')).toBe("(((body = 'shared'::text)))");
  });

  it('denies by default: no permissive policy (or only ones without USING) means false, whatever the restrictive ones say', () => {
    expect(policyPredicate(table([]), 'authenticated')).toBe('false');
    expect(
      policyPredicate(
        table([policy('r', false, 'public', 'true'), policy('p', true, 'public', null)]),
        'authenticated',
      ),
    ).toBe('false');
  });
});

describe('checkableOn', () => {
  const notes = table([policy('own', true, ['authenticated'], '(user_id = auth.uid())', ['user_id'])]);
  it('needs every column the policies read in the old image', () => {
    expect(checkableOn(notes, { id: 'a', user_id: 'b', body: null })).toBe(true);
    expect(checkableOn(notes, { id: 'a' })).toBe(false);
    expect(checkableOn(table([]), { id: 'a' })).toBe(true);
  });
});

describe('payload columns', () => {
  const notes = table([]);
  it('keeps only what the role may select, narrowed by select plus the primary key', () => {
    expect([...payloadColumns(notes, 'authenticated', undefined)]).toEqual(['id', 'user_id', 'body']);
    expect([...payloadColumns(notes, 'authenticated', ['body', 'secret'])]).toEqual(['id', 'body']);
    expect([...payloadColumns(notes, 'nobody', undefined)]).toEqual([]);
  });

  it('flags a role that may not read the primary key', () => {
    expect(primaryKeyHidden(notes, 'authenticated')).toBe(false);
    expect(primaryKeyHidden(notes, 'anon')).toBe(true);
    expect(primaryKeyHidden(notes, 'nobody')).toBe(true);
  });
});
