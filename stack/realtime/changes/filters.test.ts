import { describe, expect, it } from 'vitest';
import { FilterError, matches, parseFilter } from './filters.ts';

const types = new Map([
  ['id', 'int8'],
  ['name', 'text'],
  ['done', 'bool'],
  ['score', 'float8'],
  ['due', 'timestamptz'],
]);
const row = { id: 7, name: 'a,b', done: true, score: 0.5, due: '2026-01-02 03:04:05+00' };
const pass = (filter: string, image: Record<string, unknown> = row) => matches(parseFilter(filter), image, types);

describe('parseFilter', () => {
  it('splits on top-level commas only and unquotes values', () => {
    expect(parseFilter('name=eq."a,b",id=in.(1,"2,3")')).toEqual([
      { column: 'name', op: 'eq', negated: false, value: 'a,b' },
      { column: 'id', op: 'in', negated: false, value: ['1', '2,3'] },
    ]);
  });

  it('reads the not. prefix and treats blank filters as none', () => {
    expect(parseFilter('id=not.eq.1')[0]).toMatchObject({ op: 'eq', negated: true });
    expect(parseFilter('   ')).toEqual([]);
    expect(parseFilter(undefined)).toEqual([]);
  });

  it('rejects unknown operators, undefined values, bad `is` values and `in` without parentheses', () => {
    for (const bad of ['foo=hey.1', 'id=eq.undefined', 'done=is.maybe', 'id=in.1,2', 'noequals', 'name=match.(']) {
      expect(() => parseFilter(bad), bad).toThrow(FilterError);
    }
  });

  it('limits `in` to 100 values', () => {
    const values = Array.from({ length: 101 }, (_, i) => i).join(',');
    expect(() => parseFilter(`id=in.(${values})`)).toThrow(FilterError);
  });
});

describe('matches', () => {
  it('compares by column type', () => {
    expect(pass('id=eq.7')).toBe(true);
    expect(pass('id=gt.10')).toBe(false);
    expect(pass('score=lte.0.5')).toBe(true);
    expect(pass('done=eq.true')).toBe(true);
    expect(pass('due=gt.2026-01-01T00:00:00Z')).toBe(true);
    expect(pass('due=lt.2026-01-01T00:00:00Z')).toBe(false);
  });

  it('treats SQL NULL as unknown except for is and isdistinct', () => {
    const nulls = { ...row, name: null };
    expect(pass('name=eq.x', nulls)).toBe(false);
    expect(pass('name=neq.x', nulls)).toBe(false);
    expect(pass('name=not.eq.x', nulls)).toBe(false);
    expect(pass('name=is.null', nulls)).toBe(true);
    expect(pass('name=not.is.null', nulls)).toBe(false);
    expect(pass('name=isdistinct.x', nulls)).toBe(true);
    expect(pass('name=not.isdistinct.null', nulls)).toBe(true);
  });

  it('implements like/ilike wildcards and match/imatch regexes', () => {
    expect(pass('name=like.a%')).toBe(true);
    expect(pass('name=like.A%')).toBe(false);
    expect(pass('name=ilike.A*')).toBe(true);
    expect(pass('name=like.a_b')).toBe(true);
    expect(pass('name=match.^a')).toBe(true);
    expect(pass('name=match.^A')).toBe(false);
    expect(pass('name=imatch.^A')).toBe(true);
  });

  it('ANDs every condition and fails on a column the image lacks', () => {
    expect(pass('id=eq.7,done=is.true')).toBe(true);
    expect(pass('id=eq.7,done=is.false')).toBe(false);
    expect(pass('user_id=eq.7')).toBe(false);
  });
});
