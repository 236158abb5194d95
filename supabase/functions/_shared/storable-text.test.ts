import { describe, expect, it } from 'vitest';
import { formatPath } from './errors.ts';
import { findUnstorableText, unstorableProblem } from './storable-text.ts';

describe('text PostgreSQL cannot store', () => {
  it('is a NUL character or half of a surrogate pair, never a whole pair', () => {
    expect(unstorableProblem('a\u0000b')).toBe('nul_character');
    expect(unstorableProblem('\uD800')).toBe('lone_surrogate');
    expect(unstorableProblem('x\uDC00')).toBe('lone_surrogate');
    expect(unstorableProblem('\uDC00\uD800')).toBe('lone_surrogate');
    expect(unstorableProblem('🌊 \uD83D\uDE00 ok')).toBeUndefined();
  });

  it('is found in values and keys at any depth, with its path', () => {
    const body = { push: [{ fields: { title: 'fine' } }, { fields: { metadata: { ok: [1, { ['k\u0000']: 'v' }] } } }] };
    expect(findUnstorableText(body)).toEqual({
      path: ['push', 1, 'fields', 'metadata', 'ok', 1, 'k\u0000'],
      problem: 'nul_character',
    });
    expect(findUnstorableText({ pull: { cursor: 'v1.\uDFFF' } })).toEqual({
      path: ['pull', 'cursor'],
      problem: 'lone_surrogate',
    });
    expect(findUnstorableText({ push: [{ fields: { content: 'all good' } }], n: 3, b: true, z: null })).toBeUndefined();
    expect(formatPath(['push', 3, 'fields', 'title'])).toBe('push[3].fields.title');
  });
});
