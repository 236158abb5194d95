import { describe, expect, it } from 'vitest';
import { PresenceRegistry } from './presence.ts';

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
