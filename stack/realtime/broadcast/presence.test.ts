import { describe, expect, it } from 'vitest';
import { isPrototypeKey, presenceMetaProblem, PresenceRegistry } from './presence.ts';

describe('PresenceRegistry', () => {
  it('tracks one meta per member under its key, with a phx_ref', () => {
    const registry = new PresenceRegistry<object>();
    const [phone, laptop] = [{}, {}];
    const joined = registry.track('t', phone, 'ada', { device: 'phone' })!;
    registry.track('t', laptop, 'ada', { device: 'laptop' });
    expect(joined.leaves).toEqual({});
    expect(joined.joins.ada!.metas[0]).toMatchObject({ device: 'phone', phx_ref: expect.any(String) });
    expect(registry.state('t').ada!.metas.map((meta) => meta.device)).toEqual(['phone', 'laptop']);
    expect(registry.state('other')).toEqual({});
  });

  it('changes nothing for the same payload, and replaces the meta (with phx_ref_prev) for a new one', () => {
    const registry = new PresenceRegistry<object>();
    const member = {};
    const first = registry.track('t', member, 'k', { status: 'idle' })!;
    expect(registry.track('t', member, 'k', { status: 'idle' })).toBeUndefined();
    const second = registry.track('t', member, 'k', { status: 'typing' })!;
    const previousRef = first.joins.k!.metas[0]!.phx_ref;
    expect(second.leaves.k!.metas[0]!.phx_ref).toBe(previousRef);
    expect(second.joins.k!.metas[0]).toMatchObject({ status: 'typing', phx_ref_prev: previousRef });
    expect(second.joins.k!.metas[0]!.phx_ref).not.toBe(previousRef);
  });

  it('untracks with a leaves diff, once', () => {
    const registry = new PresenceRegistry<object>();
    const member = {};
    registry.track('t', member, 'k', { a: 1 });
    expect(registry.untrack('t', member)!.leaves.k!.metas[0]).toMatchObject({ a: 1 });
    expect(registry.untrack('t', member)).toBeUndefined();
    expect(registry.state('t')).toEqual({});
  });
});

describe('presence validation', () => {
  it('keeps a key named like a prototype property an ordinary key of the state', () => {
    const registry = new PresenceRegistry<object>();
    registry.track('t', {}, '__proto__', { a: 1 });
    registry.track('t', {}, 'constructor', { b: 2 });
    const state = registry.state('t');
    expect(Object.keys(state)).toEqual(['__proto__', 'constructor']);
    expect(JSON.parse(JSON.stringify(state)).constructor.metas).toHaveLength(1);
  });

  it('refuses metas with more than the key limit, prototype keys at any depth, or deep nesting', () => {
    expect(presenceMetaProblem({ a: 1, b: { c: [1, { d: 2 }] } }, 10)).toBeUndefined();
    expect(presenceMetaProblem(Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, i])), 10)).toMatch(
      /at most 10 keys/,
    );
    expect(presenceMetaProblem(JSON.parse('{"a":{"__proto__":{"x":1}}}'), 10)).toMatch(/__proto__/);
    expect(presenceMetaProblem({ list: [{ toString: 'x' }] }, 10)).toMatch(/toString/);
    expect(presenceMetaProblem({ deep: JSON.parse(`${'['.repeat(2000)}${']'.repeat(2000)}`) }, 10)).toMatch(/deeper/);
    expect(isPrototypeKey('hasOwnProperty')).toBe(true);
    expect(isPrototypeKey('online_at')).toBe(false);
  });
});
