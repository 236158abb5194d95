/**
 * RowIndex against the plain answer: after any sequence of batches of row changes (small ones
 * edited in place, large ones appended and sorted when read), every group holds exactly the rows
 * that name it, in the order a stable sort of the rows in ordinal order gives.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type IndexSpec, mergeGroups, RowIndex, type RowUpdate } from './row-index.ts';

// Few groups and few sort values: rows share groups and tie often.
const spec: IndexSpec<'messages', string> = {
  table: 'messages',
  groups: (row) => (row.groups as string[]) ?? [],
  sortValue: (row) => String(row.at),
  compare: (a, b) => a.localeCompare(b),
};
const newestFirst: IndexSpec<'messages', string> = {
  ...spec,
  compare: (a, b) => b.localeCompare(a),
  tiesNewestFirst: true,
};

const keys = Array.from({ length: 64 }, (_, i) => `k${i}`);
const row = fc.option(
  fc.record({
    groups: fc.uniqueArray(fc.constantFrom('g0', 'g1', 'g2'), { maxLength: 2 }),
    at: fc.constantFrom('2026-01-01T10:00:00Z', '2026-01-01T10:00:01Z', '2026-01-01T09:59:59.5Z'),
  }),
  { nil: null },
);
// A batch names each key at most once (as the store hands them over); up to 64 keys, so the bulk
// paths (more than 16 rows entering or leaving a group at once) run as well as the in-place ones.
const batch = fc.uniqueArray(fc.record({ key: fc.constantFrom(...keys), row }), {
  selector: (update) => update.key,
  maxLength: 64,
  size: 'max',
});
const steps = fc.array(fc.record({ batch, read: fc.constantFrom('g0', 'g1', 'g2', null) }), { maxLength: 12 });

function expectGroupsMatchModel(which: IndexSpec<'messages', string>) {
  const inOrder = (a: { ordinal: number; at: string }, b: { ordinal: number; at: string }) =>
    which.compare(a.at, b.at) || (which.tiesNewestFirst ? b.ordinal - a.ordinal : a.ordinal - b.ordinal);
  fc.assert(
    fc.property(steps, (run) => {
      const index = new RowIndex(which);
      // The plain model: rows by key, each with the ordinal it got when it first appeared.
      const rows = new Map<string, { ordinal: number; groups: string[]; at: string }>();
      const ordinals = new Map<string, number>();
      const expected = (names: string[]) =>
        [...rows.entries()]
          .filter(([, value]) => value.groups.some((name) => names.includes(name)))
          .sort(([, a], [, b]) => inOrder(a, b))
          .map(([key]) => key);
      const keysOf = (members: readonly { key: string }[]) => members.map((member) => member.key);
      for (const { batch: updates, read } of run) {
        const applied: RowUpdate[] = updates.map(({ key, row: value }) => {
          if (!ordinals.has(key)) ordinals.set(key, ordinals.size);
          if (value) rows.set(key, { ordinal: ordinals.get(key)!, ...value });
          else rows.delete(key);
          return { key, ordinal: ordinals.get(key)!, row: value };
        });
        index.apply(applied);
        // Only some groups are read between batches: the others stay as the batch left them (a
        // bulk-filled group unsorted) when the next batch edits them.
        if (read) expect(keysOf(index.group(read))).toEqual(expected([read]));
      }
      for (const name of ['g0', 'g1', 'g2']) expect(keysOf(index.group(name))).toEqual(expected([name]));
      expect(keysOf(mergeGroups(index, index.group('g0'), index.group('g1')))).toEqual(expected(['g0', 'g1']));
    }),
    { numRuns: 300 },
  );
}

describe('RowIndex', () => {
  it('property: each group is its rows in sort order, ties in ordinal order', () => expectGroupsMatchModel(spec));
  it('property: the same with the order reversed, ties newest first', () => expectGroupsMatchModel(newestFirst));

  it('a row that names no group, or is gone, is in no group', () => {
    const index = new RowIndex(spec);
    index.apply([{ key: 'a', ordinal: 0, row: { groups: ['g0'], at: '1' } }]);
    index.apply([{ key: 'a', ordinal: 0, row: { groups: [], at: '1' } }]);
    expect(index.group('g0')).toEqual([]);
    index.apply([{ key: 'a', ordinal: 0, row: { groups: ['g0'], at: '1' } }]);
    index.apply([{ key: 'a', ordinal: 0, row: null }]);
    expect(index.group('g0')).toEqual([]);
  });
});
