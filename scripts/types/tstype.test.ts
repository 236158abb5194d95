import { describe, expect, it } from 'vitest';
import { print } from './doc.ts';
import { array, intersection, nullable, obj, propertyKey, quote, raw, str, tuple, typeDoc, union } from './tstype.ts';

const layout = (type: Parameters<typeof typeDoc>[0]) => print(['type T = ', typeDoc(type)]);

describe('type layout (prettier rules, 80 columns)', () => {
  it('keeps a short collapsible object on one line and breaks an expanded one', () => {
    expect(layout(obj([{ key: 'a', type: raw('string') }, { key: 'b', optional: true, type: raw('number') }], false))).toBe(
      'type T = { a: string; b?: number }',
    );
    expect(layout(obj([{ key: 'a', type: raw('string') }]))).toBe('type T = {\n  a: string\n}');
    expect(layout(obj([]))).toBe('type T = {}');
  });

  it('breaks a collapsible object that does not fit', () => {
    const members = ['first_argument', 'second_argument', 'third_argument', 'fourth_one'].map((key) => ({ key, type: raw('string') }));
    expect(layout(obj(members, false))).toBe(
      'type T = {\n  first_argument: string\n  second_argument: string\n  third_argument: string\n  fourth_one: string\n}',
    );
  });

  it('hugs an object unioned with null, and breaks long unions with leading bars', () => {
    expect(layout(nullable(obj([{ key: 'a', type: raw('string') }]), true))).toBe('type T = {\n  a: string\n} | null');
    const long = union(['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'].map(str));
    expect(print(['x', typeDoc(obj([{ key: 'state', type: long }]))])).toBe(
      `x{\n  state:\n${['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'].map((s) => `    | "${s}"`).join('\n')}\n}`,
    );
  });

  it('writes an object & string intersection inline, breaking the object when the line is too long', () => {
    const message = 'a very long explanation that certainly does not fit on the rest of this line';
    expect(layout(intersection([obj([{ key: 'error', type: raw('true') }], false), str(message)]))).toBe(
      `type T = {\n  error: true\n} & "${message}"`,
    );
  });

  it('breaks tuples one element a line with a trailing comma', () => {
    expect(layout(tuple([str('a'), str('b')]))).toBe('type T = ["a", "b"]');
    const names = ['conversation_identifier', 'user_identifier', 'device_identifier', 'x'];
    expect(layout(tuple(names.map(str)))).toBe(`type T = [\n${names.map((n) => `  "${n}",`).join('\n')}\n]`);
  });

  it('parenthesises unions inside arrays', () => {
    expect(layout(array(union([str('a'), str('b')])))).toBe('type T = ("a" | "b")[]');
    expect(layout(array(raw('string')))).toBe('type T = string[]');
  });

  it('quotes keys and strings the way prettier does', () => {
    expect(propertyKey('timestamp')).toBe('timestamp');
    expect(propertyKey('user-id')).toBe('"user-id"');
    expect(propertyKey('')).toBe('""');
    expect(propertyKey('2fa')).toBe('"2fa"');
    expect(quote('plain')).toBe('"plain"');
    expect(quote('say "hi"')).toBe(`'say "hi"'`);
    expect(quote(`it's "x"`)).toBe(`'it\\'s "x"'`);
  });
});
