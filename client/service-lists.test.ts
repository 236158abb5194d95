/**
 * The service's lists, read from the store's indexes, against the plain definition (every row of
 * the table, filtered and sorted: what the lists were before they had indexes), after any mix of
 * what changes a store: the app's edits, realtime and pulled changes, sync's answers, restarts.
 * No server: the store is driven directly.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PushResult, SyncItem } from '../supabase/functions/_shared/sync-protocol.ts';
import { MemoryStorage } from './storage.ts';
import type { LocalStore } from './store.ts';
import { SupabaseMemoryService } from './SupabaseMemoryService.ts';
import { SyncClient } from './sync-client.ts';
import type { LocalRow, RemoteChange, SyncTable } from './types.ts';

const byTime = (field: string) => (a: Record<string, unknown>, b: Record<string, unknown>) =>
  String(a[field]).localeCompare(String(b[field]));

/** The lists as defined: a scan of the store. */
const plain = {
  conversations: (store: LocalStore) => store.list('conversations').sort(byTime('updated_at')).reverse(),
  messages(store: LocalStore, conversationLocalId: string) {
    const conversation = store.get('conversations', conversationLocalId);
    return store
      .list('messages')
      .filter(
        (message) =>
          message.conversation_local_id === conversationLocalId ||
          (conversation?.id != null && message.conversation_id === conversation.id),
      )
      .sort(byTime('timestamp'));
  },
  memories: (store: LocalStore) =>
    store.list('memories').sort((a, b) => (b.importance_score ?? 0) - (a.importance_score ?? 0)),
};

// Small pools, so rows collide, move between conversations and tie on time and score.
const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const conversationKeys = ['c1', 'c2', 'c3'];
const conversationIds = [uuid(1), uuid(2), uuid(3)];
const messageKeys = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'];
const messageIds = [uuid(11), uuid(12), uuid(13), uuid(14), uuid(15), uuid(16), uuid(17)];
const memoryKeys = ['r1', 'r2', 'r3'];
const memoryIds = [uuid(21), uuid(22), uuid(23), uuid(24)];
const times = ['2026-03-01T10:00:00+00:00', '2026-03-01T10:00:01+00:00', '2026-03-01T09:00:00.5+00:00'];

const pick = <T>(values: readonly T[]) => fc.constantFrom(...values);
const version = fc.integer({ min: 1, max: 4 });

const edit = fc.oneof(
  fc.record({
    kind: fc.constant('edit' as const),
    table: fc.constant('conversations' as const),
    key: pick(conversationKeys),
    op: fc.constantFrom('upsert' as const, 'delete' as const),
    fields: fc.record({ title: fc.constantFrom('a', 'b') }),
  }),
  fc.record({
    kind: fc.constant('edit' as const),
    table: fc.constant('messages' as const),
    key: pick(messageKeys),
    op: fc.constantFrom('upsert' as const, 'upsert' as const, 'delete' as const),
    fields: fc.oneof(
      fc.record({ conversation_local_id: pick([...conversationKeys, 'elsewhere']), content: fc.constant('x') }),
      fc.record({ conversation_id: pick(conversationIds), timestamp: pick(times) }),
      fc.record({ content: fc.constantFrom('edited', 'again') }),
    ),
  }),
  fc.record({
    kind: fc.constant('edit' as const),
    table: fc.constant('memories' as const),
    key: pick(memoryKeys),
    op: fc.constantFrom('upsert' as const, 'delete' as const),
    fields: fc.record({ content: fc.constant('m'), importance_score: pick([0.2, 0.5, 0.5, 0.9]) }),
  }),
);

const remote = fc.oneof(
  fc.record({
    kind: fc.constant('remote' as const),
    table: fc.constant('conversations' as const),
    id: pick(conversationIds),
    local_id: fc.option(pick(conversationKeys), { nil: null }),
    version,
    deleted: fc.boolean(),
    row: fc.record({ title: fc.constant('remote'), updated_at: pick(times) }),
  }),
  fc.record({
    kind: fc.constant('remote' as const),
    table: fc.constant('messages' as const),
    id: pick(messageIds),
    local_id: fc.option(pick(messageKeys), { nil: null }),
    version,
    deleted: fc.boolean(),
    row: fc.record({ conversation_id: pick(conversationIds), timestamp: pick(times), content: fc.constant('r') }),
  }),
  fc.record({
    kind: fc.constant('remote' as const),
    table: fc.constant('memories' as const),
    id: pick(memoryIds),
    local_id: fc.option(pick(memoryKeys), { nil: null }),
    version,
    deleted: fc.boolean(),
    row: fc.record({ content: fc.constant('r'), importance_score: pick([0.2, 0.5, 0.9]) }),
  }),
);

/** Sync's answer to the first `count` queued items, one status each. */
const answer = fc.record({
  kind: fc.constant('answer' as const),
  count: fc.integer({ min: 1, max: 4 }),
  statuses: fc.array(fc.constantFrom('applied', 'unchanged', 'conflict', 'conflict-deleted', 'rejected'), {
    minLength: 4,
    maxLength: 4,
  }),
  ids: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
});

const restart = fc.record({ kind: fc.constant('restart' as const), serviceFirst: fc.boolean() });

const step = fc.oneof({ arbitrary: edit, weight: 4 }, { arbitrary: remote, weight: 4 }, answer, restart);

const idsOf: Record<SyncTable, string[]> = {
  conversations: conversationIds,
  messages: messageIds,
  memories: memoryIds,
};

function open(storage: MemoryStorage) {
  const client = new SyncClient({
    supabase: {} as SupabaseClient,
    userId: 'u',
    storage,
    online: false,
    followNetwork: false,
  });
  return { client, store: client.store };
}

const keysOf = (rows: LocalRow[]) => rows.map((row) => `${row.local_id ?? row.id}`);

describe('the service lists (indexed) against a scan of the store', () => {
  it('property: any mix of edits, remote changes, answers and restarts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), async (steps) => {
        const storage = new MemoryStorage();
        let { client, store } = open(storage);
        let service = new SupabaseMemoryService(client);
        let clock = 0;
        for (const s of steps) {
          if (s.kind === 'edit') {
            store.enqueue({
              table: s.table,
              op: s.op,
              local_id: s.key,
              change_id: crypto.randomUUID(),
              client_updated_at: times[clock++ % times.length]!,
              ...(s.op === 'upsert' ? { fields: s.fields } : {}),
            } as SyncItem);
          } else if (s.kind === 'remote') {
            const change: RemoteChange = {
              table: s.table,
              op: s.deleted ? 'delete' : 'upsert',
              id: s.id,
              local_id: s.local_id,
              version: s.version,
              row: s.deleted ? null : { id: s.id, local_id: s.local_id, user_id: 'u', version: s.version, ...s.row },
              source: 'pull',
            };
            store.merge(change);
          } else if (s.kind === 'answer') {
            const batch = store.queued.slice(0, s.count);
            store.markSent(batch);
            const results = batch.map((item, index): PushResult => {
              const status = s.statuses[index]!;
              const id = idsOf[item.table][s.ids[index]! % idsOf[item.table].length]!;
              const base = { index, table: item.table, local_id: item.local_id, change_id: item.change_id };
              if (status === 'conflict')
                return {
                  ...base,
                  status: 'conflict',
                  id,
                  row: {
                    id,
                    local_id: item.local_id,
                    version: 9,
                    conversation_id: conversationIds[0]!,
                    timestamp: times[0]!,
                    updated_at: times[1]!,
                  },
                };
              if (status === 'conflict-deleted') return { ...base, status: 'conflict', id, deleted: true };
              if (status === 'rejected') return { ...base, status: 'rejected', reason: 'reference_not_found' };
              return { ...base, status, id, version: 5 };
            });
            store.reconcile(batch, results);
          } else {
            await store.persisted();
            ({ client, store } = open(storage));
            // The service made before the load (indexes filled by it) or after (made from it).
            if (s.serviceFirst) service = new SupabaseMemoryService(client);
            await store.load();
            if (!s.serviceFirst) service = new SupabaseMemoryService(client);
          }
          expect(service.listConversations()).toEqual(plain.conversations(store));
          expect(service.listMemories()).toEqual(plain.memories(store));
          for (const key of [...conversationKeys, 'elsewhere', ...conversationIds.map((id) => `#${id}`)])
            expect(keysOf(service.listMessages(key)), key).toEqual(keysOf(plain.messages(store, key)));
          for (const key of conversationKeys) expect(service.listMessages(key)).toEqual(plain.messages(store, key));
        }
      }),
      { numRuns: 300 },
    );
  });
});
