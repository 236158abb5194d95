import { describe, expect, it } from 'vitest';
import type { Claims } from '../../identity/jwt.ts';
import type { Catalog } from './catalog.ts';
import type { Transaction } from './changes.ts';
import { type Binding, Dispatcher, type Subscriber } from './dispatcher.ts';
import { parseFilter } from './filters.ts';
import type { CheckGroup, Visibility } from './visibility.ts';
import { testTable } from './test-support.ts';

const table = testTable(
  'public',
  'notes',
  [
    ['id', 'int8'],
    ['user_id', 'uuid'],
  ],
  { selectable: new Map([['authenticated', new Set(['id', 'user_id'])]]) },
);
const catalog = { get: () => table, lookup: async () => table } as unknown as Catalog;

const insert = (lsn: number, id: number, user: string): Transaction => ({
  lsn: BigInt(lsn),
  xid: lsn,
  commitTimestamp: '2026-11-30 10:00:00+00',
  changes: [
    {
      type: 'INSERT',
      schema: 'public',
      table: 'notes',
      columns: [
        { name: 'id', type: 'bigint', value: id },
        { name: 'user_id', type: 'uuid', value: user },
      ],
      identity: [],
    },
  ],
});

function subscriber(user: string, filter?: string): Subscriber & { got: number[] } {
  const binding: Binding = { id: 1, event: '*', schema: 'public', table: 'notes', conditions: parseFilter(filter) };
  const got: number[] = [];
  return {
    claims: { sub: user, role: 'authenticated' } as Claims,
    bindings: [binding],
    got,
    deliver: (_ids, data) => got.push((JSON.parse(data) as { record: { id: number } }).record.id),
  };
}

/**
 * RLS as a fake: each user sees the ids of their rows. The first check answers only when the test
 * opens `gate`; `answered` counts the checks that have answered.
 */
function gatedFirstVisibility(owner: Map<number, string>) {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const waiters: { what: 'checks' | 'answered'; count: number; resolve: () => void }[] = [];
  const wake = () => waiters.filter((w) => fake[w.what] >= w.count).forEach((waiter) => waiter.resolve());
  const fake = {
    checks: 0,
    answered: 0,
    open,
    /** Resolves once `count` checks have started (or, `answered`, have answered). */
    until: (what: 'checks' | 'answered', count: number) =>
      new Promise<void>((resolve) => (fake[what] >= count ? resolve() : waiters.push({ what, count, resolve }))),
    async check(groups: CheckGroup[]) {
      fake.checks++;
      wake();
      if (fake.checks === 1) await gate;
      fake.answered++;
      wake();
      return groups.map(
        (group) =>
          new Set(
            group.items
              .filter((item) => owner.get(Number(item.image.id)) === (group.claims as Claims).sub)
              .map((item) => item.key),
          ),
      );
    },
  };
  return fake;
}

describe('Dispatcher', () => {
  it('checks later batches while an earlier one waits, yet sends and acknowledges in commit order', async () => {
    const owner = new Map([
      [1, 'ada'],
      [2, 'ada'],
      [3, 'ada'],
    ]);
    const visibility = gatedFirstVisibility(owner);
    const acknowledged: bigint[] = [];
    const dispatcher = new Dispatcher(
      catalog,
      visibility as unknown as Visibility,
      (transaction) => acknowledged.push(transaction.lsn),
      () => undefined,
    );
    const ada = subscriber('ada');
    dispatcher.subscribe(ada);
    // Each transaction its own batch: the next is enqueued once the one before is being checked.
    dispatcher.enqueue(insert(10, 1, 'ada'));
    await visibility.until('checks', 1);
    dispatcher.enqueue(insert(20, 2, 'ada'));
    await visibility.until('checks', 2);
    dispatcher.enqueue(insert(30, 3, 'ada'));
    // The later batches are checked (answered) while the first one still waits ...
    await visibility.until('answered', 2);
    expect(visibility.checks).toBe(3);
    expect(ada.got).toEqual([]);
    visibility.open();
    await dispatcher.idle();
    // ... and nothing overtook it.
    expect(ada.got).toEqual([1, 2, 3]);
    expect(acknowledged).toEqual([10n, 20n, 30n]);
  });

  it('finds channels filtered on a value through the index, and unfiltered ones on every change', async () => {
    const owner = new Map([
      [1, 'ada'],
      [2, 'ben'],
    ]);
    const visibility = gatedFirstVisibility(owner);
    visibility.open();
    const dispatcher = new Dispatcher(
      catalog,
      visibility as unknown as Visibility,
      () => undefined,
      () => undefined,
    );
    const ada = subscriber('ada', 'user_id=eq.ada');
    const adaAll = subscriber('ada');
    const benNeq = subscriber('ben', 'user_id=neq.ada');
    const benSpoof = subscriber('ben', 'user_id=eq.ada');
    for (const channel of [ada, adaAll, benNeq, benSpoof]) dispatcher.subscribe(channel);
    dispatcher.enqueue(insert(10, 1, 'ada'));
    dispatcher.enqueue(insert(20, 2, 'ben'));
    await dispatcher.idle();
    expect(ada.got).toEqual([1]);
    expect(adaAll.got).toEqual([1]);
    expect(benNeq.got).toEqual([2]);
    expect(benSpoof.got).toEqual([]);
    dispatcher.unsubscribe(ada);
    dispatcher.enqueue(insert(30, 3, 'ada'));
    owner.set(3, 'ada');
    await dispatcher.idle();
    expect(ada.got).toEqual([1]);
    expect(adaAll.got).toEqual([1, 3]);
  });
});
