import { describe, expect, it } from 'vitest';
import { identifier, literal, PG_EPOCH_MS } from './postgres.ts';

describe('PostgreSQL conventions', () => {
  it.each([
    ["it's", "'it''s'"],
    ["''", "''''''"],
    ['plain', "'plain'"],
    ['back\\slash', "'back\\slash'"],
  ])('literal(%j) doubles its single quotes: %s', (value, expected) => {
    expect(literal(value)).toBe(expected);
  });

  it.each([
    ['a"b', '"a""b"'],
    ['My Table', '"My Table"'],
  ])('identifier(%j) doubles its double quotes: %s', (name, expected) => {
    expect(identifier(name)).toBe(expected);
  });

  it('the protocol epoch is 2000-01-01 UTC', () => {
    expect(new Date(PG_EPOCH_MS).toISOString()).toBe('2000-01-01T00:00:00.000Z');
  });
});
