/**
 * Sorted groups of one table's rows (a conversation's messages by time, the conversations by last
 * update), kept current by the store as rows change, so listing a group costs what it returns
 * rather than a filter and sort of every row.
 *
 * The index keeps, per row, only its key, its groups and its sort value: the rows themselves stay
 * in the store, which makes each listed row as `get` would. A group that takes many rows at once
 * (the store's load, a large pull) is sorted when it is next read, so a cold start does not sort
 * every conversation the app may never open. Ties are broken by the row's ordinal
 * (when it entered the store), so a group is in exactly the order a stable sort of the store's rows,
 * in store order, would give.
 */
import type { SyncTable } from './types.ts';

/** A row's columns as the app sees them (pending edits applied); read it, never change it. */
export type RowFields = Readonly<Record<string, unknown>>;

export interface IndexSpec<T extends SyncTable = SyncTable, S = unknown> {
  readonly table: T;
  /** The groups the row belongs to, each once (none: it is in no list). */
  groups(row: RowFields): readonly string[];
  /** What the row is ordered by within its groups. */
  sortValue(row: RowFields): S;
  /** Order of two sort values; equal rows then go by ordinal (oldest first unless `tiesNewestFirst`). */
  compare(a: S, b: S): number;
  readonly tiesNewestFirst?: boolean;
}

export interface IndexMember<S = unknown> {
  /** The store's key of the row (its local id, or `#<id>`). */
  readonly key: string;
  /** Increases with each row the store takes in: the store's own order of its rows. */
  readonly ordinal: number;
  readonly sort: S;
  readonly groups: readonly string[];
}

export interface RowUpdate {
  key: string;
  ordinal: number;
  /** null: the row is gone (or hidden, a delete pending). */
  row: RowFields | null;
}

/** Above this many changes to one group at once, the group is rebuilt rather than edited in place. */
const rebuildAbove = 16;

export class RowIndex<T extends SyncTable = SyncTable, S = unknown> {
  private readonly groups = new Map<string, IndexMember<S>[]>();
  /** Groups filled in bulk and not sorted yet: each is sorted when first read or edited. */
  private readonly unsorted = new Set<string>();
  private readonly members = new Map<string, IndexMember<S>>();
  readonly order: (a: IndexMember<S>, b: IndexMember<S>) => number;

  /** `refresh` brings the index up to date with the store before every read. */
  constructor(
    readonly spec: IndexSpec<T, S>,
    private readonly refresh: () => void = () => undefined,
  ) {
    const ties = spec.tiesNewestFirst ? -1 : 1;
    this.order = (a, b) => spec.compare(a.sort, b.sort) || ties * (a.ordinal - b.ordinal);
  }

  /** A group's members in order: the index's own array, valid until the store next changes. */
  group(name: string): readonly IndexMember<S>[] {
    this.refresh();
    return this.sorted(name) ?? [];
  }

  private sorted(name: string): IndexMember<S>[] | undefined {
    const list = this.groups.get(name);
    if (list && this.unsorted.delete(name)) list.sort(this.order);
    return list;
  }

  /** Applies rows' new state (each key once): a row leaves its old groups and enters those it now names. */
  apply(updates: readonly RowUpdate[]): void {
    if (updates.length === 1) {
      const { key, ordinal, row } = updates[0]!;
      const old = this.members.get(key);
      if (old) for (const name of old.groups) this.leave(name, [old]);
      const member = this.place(key, ordinal, row);
      if (member) for (const name of member.groups) this.enter(name, [member]);
      return;
    }
    const leaving = new Map<string, IndexMember<S>[]>();
    const entering = new Map<string, IndexMember<S>[]>();
    const add = (map: Map<string, IndexMember<S>[]>, name: string, member: IndexMember<S>) => {
      const list = map.get(name);
      if (list) list.push(member);
      else map.set(name, [member]);
    };
    for (const { key, ordinal, row } of updates) {
      const old = this.members.get(key);
      if (old) for (const name of old.groups) add(leaving, name, old);
      const member = this.place(key, ordinal, row);
      if (member) for (const name of member.groups) add(entering, name, member);
    }
    for (const [name, members] of leaving) this.leave(name, members);
    for (const [name, members] of entering) this.enter(name, members);
  }

  /** Records the row's new membership (or its absence); returns the member to place. */
  private place(key: string, ordinal: number, row: RowFields | null): IndexMember<S> | undefined {
    const groups = row ? this.spec.groups(row) : [];
    if (!row || groups.length === 0) {
      this.members.delete(key);
      return undefined;
    }
    const member: IndexMember<S> = { key, ordinal, sort: this.spec.sortValue(row), groups };
    this.members.set(key, member);
    return member;
  }

  private leave(name: string, members: readonly IndexMember<S>[]): void {
    const list = this.groups.get(name);
    if (!list) return;
    if (members.length > rebuildAbove || this.unsorted.has(name)) {
      // Filtering keeps the order, sorted or not.
      const gone = new Set(members);
      const kept = list.filter((member) => !gone.has(member));
      if (kept.length > 0) this.groups.set(name, kept);
      else this.drop(name);
      return;
    }
    for (const member of members) {
      const at = this.lowerBound(list, member);
      if (list[at] === member) list.splice(at, 1);
    }
    if (list.length === 0) this.drop(name);
  }

  private drop(name: string): void {
    this.groups.delete(name);
    this.unsorted.delete(name);
  }

  private enter(name: string, members: readonly IndexMember<S>[]): void {
    let list = this.groups.get(name);
    if (!list) {
      list = [];
      this.groups.set(name, list);
    }
    if (members.length > rebuildAbove || this.unsorted.has(name)) {
      for (const member of members) list.push(member);
      this.unsorted.add(name);
    } else {
      for (const member of members) list.splice(this.lowerBound(list, member), 0, member);
    }
  }

  /** The first place in `list` whose member does not come before `member`. */
  private lowerBound(list: readonly IndexMember<S>[], member: IndexMember<S>): number {
    let low = 0;
    let high = list.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.order(list[mid]!, member) < 0) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

/** Two groups of one index as one list in the index's order, a row in both given once. */
export function mergeGroups<S>(
  index: RowIndex<SyncTable, S>,
  a: readonly IndexMember<S>[],
  b: readonly IndexMember<S>[],
): readonly IndexMember<S>[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const merged: IndexMember<S>[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    // A row in both groups is one member object, and the order is total: it meets itself.
    if (x === y) {
      merged.push(x);
      i++;
      j++;
    } else if (index.order(x, y) < 0) {
      merged.push(x);
      i++;
    } else {
      merged.push(y);
      j++;
    }
  }
  while (i < a.length) merged.push(a[i++]!);
  while (j < b.length) merged.push(b[j++]!);
  return merged;
}
