/**
 * The device client's local costs, with no server: a device holding `conversations` ×
 * `messagesPerConversation` server rows in IndexedDB, driven through `SupabaseMemoryService` and
 * its `SyncClient` offline. The same module runs in Node (fake-indexeddb) and in a browser page
 * (the real IndexedDB), so it imports nothing from Node.
 *
 *   fill         the rows merged as pulled changes, then stored (not a target; the setup)
 *   list         `listMessages` of one random conversation, and `listConversations`
 *   merge        a batch of remote changes merged as a pull answer is (fromPull, merge, `change`
 *                event): new messages in a few conversations, edits, conversation updates, deletes;
 *                until the app's next read (listConversations and one active conversation's
 *                messages), which brings the indexes up to date
 *   cold start   a new storage and service over the same database until the first lists answer:
 *                with the fill's rows (the target), and again at the end, with the merged rows
 *                and the writes, some of them still in the storage's journal
 *   write        `saveMessage` until `listMessages` shows it, and until IndexedDB holds it
 *
 * Every phase checks what it measured (counts, the written row in the list, the rows after a
 * restart) and throws when it is wrong, so a figure is never of work that was not done.
 */
import { createClient } from '@supabase/supabase-js';
import { type IDBFactory, IndexedDbStorage } from '../../client/indexeddb-storage.ts';
import { fromPull } from '../../client/remote-changes.ts';
import type { ClientStorage } from '../../client/storage.ts';
import { SupabaseMemoryService } from '../../client/SupabaseMemoryService.ts';
import { SyncClient } from '../../client/sync-client.ts';
import type { RemoteChange } from '../../client/types.ts';

export interface ScenarioOptions {
  indexedDB: IDBFactory;
  conversations: number;
  messagesPerConversation: number;
  listRuns: number;
  mergeBatches: number;
  mergeSize: number;
  coldStarts: number;
  writes: number;
  /** Progress lines (the browser forwards them to the terminal). */
  log?: (line: string) => void;
}

/** Samples in milliseconds per measurement, plus what the run held. */
export interface ScenarioResult {
  rows: { conversations: number; messages: number; filledMessages: number };
  samples: Record<MeasurementName, number[]>;
}

export type MeasurementName =
  | 'fill'
  | 'listMessages'
  | 'listConversations'
  | 'merge'
  | 'mergeDurable'
  | 'coldStart'
  | 'coldStartRead'
  | 'coldStartIndexes'
  | 'coldStartLater'
  | 'writeVisible'
  | 'writeDurable';

type PulledChange = Parameters<typeof fromPull>[0];

/** A small seeded generator (mulberry32), so every run makes the same shapes. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const words = 'the a flight Lisbon hotel tomorrow remember meeting notes idea plan book call dinner train'.split(' ');

/** The server's rows of one user, as pulls deliver them, with what a later batch needs to edit them. */
class ServerRows {
  readonly conversations: { id: string; local_id: string; version: number; count: number; created: string }[] = [];
  readonly messages: { id: string; local_id: string; conversation: number; version: number; timestamp: string }[] = [];
  /** The conversations the last batch added messages to. */
  active: number[] = [];
  private clock = Date.parse('2026-01-01T08:00:00.000Z');

  constructor(
    readonly userId: string,
    private readonly random: () => number,
  ) {}

  private tick(): string {
    this.clock += 1 + Math.floor(this.random() * 60_000);
    return new Date(this.clock).toISOString();
  }

  private text(): string {
    const length = 8 + Math.floor(this.random() * 40);
    return Array.from({ length }, () => words[Math.floor(this.random() * words.length)]).join(' ');
  }

  newConversation(): PulledChange {
    const at = this.tick();
    const conversation = { id: crypto.randomUUID(), local_id: crypto.randomUUID(), version: 1, count: 0, created: at };
    this.conversations.push(conversation);
    return this.conversationChange(this.conversations.length - 1, at);
  }

  conversationChange(index: number, at = this.tick()): PulledChange {
    const c = this.conversations[index]!;
    return {
      table: 'conversations',
      op: 'upsert',
      id: c.id,
      local_id: c.local_id,
      version: c.version,
      row: {
        id: c.id,
        local_id: c.local_id,
        user_id: this.userId,
        title: `Conversation ${index}`,
        message_count: c.count,
        created_at: c.created,
        updated_at: at,
        version: c.version,
      },
    };
  }

  /** The conversation gained messages: the server counts them and bumps its version. */
  touchConversation(index: number): PulledChange {
    this.conversations[index]!.version += 1;
    return this.conversationChange(index);
  }

  newMessage(conversation: number): PulledChange {
    const at = this.tick();
    const message = { id: crypto.randomUUID(), local_id: crypto.randomUUID(), conversation, version: 1, timestamp: at };
    this.messages.push(message);
    this.conversations[conversation]!.count += 1;
    return this.messageChange(this.messages.length - 1, at);
  }

  editMessage(index: number): PulledChange {
    this.messages[index]!.version += 1;
    return this.messageChange(index, this.tick());
  }

  deleteMessage(index: number): PulledChange {
    const [m] = this.messages.splice(index, 1);
    this.conversations[m!.conversation]!.count -= 1;
    return { table: 'messages', op: 'delete', id: m!.id, local_id: m!.local_id, version: m!.version + 1, row: null };
  }

  private messageChange(index: number, updatedAt: string): PulledChange {
    const m = this.messages[index]!;
    return {
      table: 'messages',
      op: 'upsert',
      id: m.id,
      local_id: m.local_id,
      version: m.version,
      row: {
        id: m.id,
        local_id: m.local_id,
        user_id: this.userId,
        conversation_id: this.conversations[m.conversation]!.id,
        role: this.random() < 0.5 ? 'user' : 'assistant',
        content: this.text(),
        metadata: null,
        timestamp: m.timestamp,
        updated_at: updatedAt,
        version: m.version,
      },
    };
  }

  /**
   * One pull answer's worth of another device's activity: 80 % new messages in ten conversations,
   * 15 % edits of older messages anywhere, 4 % the conversations' new counts, 1 % deletes.
   */
  batch(size: number): PulledChange[] {
    const deletes = Math.floor(size * 0.01);
    const touched = Math.floor(size * 0.04);
    const edits = Math.floor(size * 0.15);
    const added = size - deletes - touched - edits;
    const active = Array.from({ length: 10 }, () => Math.floor(this.random() * this.conversations.length));
    this.active = active;
    const changes: PulledChange[] = [];
    for (let i = 0; i < added; i++) changes.push(this.newMessage(active[i % active.length]!));
    for (let i = 0; i < edits; i++) changes.push(this.editMessage(Math.floor(this.random() * this.messages.length)));
    for (let i = 0; i < deletes; i++)
      changes.push(this.deleteMessage(Math.floor(this.random() * this.messages.length)));
    for (let i = 0; i < touched; i++) changes.push(this.touchConversation(active[i % active.length]!));
    return changes;
  }
}

function fail(what: string): never {
  throw new Error(`bench check failed: ${what}`);
}

export async function runScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const log = options.log ?? (() => undefined);
  const random = seeded(20261202);
  const userId = crypto.randomUUID();
  const name = `virgil-sync-bench-${userId}`;
  // A real supabase-js client that never connects: the client is offline throughout.
  const supabase = createClient('http://127.0.0.1:9', 'bench-key-unused', {
    auth: { persistSession: false, autoRefreshToken: false },
  });
  /** What SupabaseMemoryService.start does, in its two steps, with the storage's read timed. */
  const start = async () => {
    const storage = new IndexedDbStorage(name, options.indexedDB);
    let readMs = 0;
    const timed: ClientStorage = {
      load: async () => {
        const t0 = performance.now();
        const state = await storage.load();
        readMs = performance.now() - t0;
        return state;
      },
      write: (change) => storage.write(change),
      close: () => storage.close(),
    };
    const client = new SyncClient({ supabase, userId, storage: timed, online: false, followNetwork: false });
    await client.start();
    const t0 = performance.now();
    const service = new SupabaseMemoryService(client);
    return { storage, service, readMs, indexesMs: performance.now() - t0 };
  };
  const samples: ScenarioResult['samples'] = {
    fill: [],
    listMessages: [],
    listConversations: [],
    merge: [],
    mergeDurable: [],
    coldStart: [],
    coldStartRead: [],
    coldStartIndexes: [],
    coldStartLater: [],
    writeVisible: [],
    writeDurable: [],
  };
  const server = new ServerRows(userId, random);
  /** The device's own messages (the server has not seen them: the client is offline). */
  const written: { conversation: string; localId: string }[] = [];
  const expectCounts = (service: SupabaseMemoryService, what: string) => {
    const conversations = service.listConversations();
    if (conversations.length !== server.conversations.length)
      fail(`${what}: ${conversations.length} conversations, expected ${server.conversations.length}`);
    const messages = service.client.store.list('messages').length;
    const expected = server.messages.length + written.length;
    if (messages !== expected) fail(`${what}: ${messages} messages, expected ${expected}`);
  };
  const merge = (service: SupabaseMemoryService, changes: readonly PulledChange[]) => {
    const { store, events } = service.client;
    for (const pulled of changes) {
      const change: RemoteChange = fromPull(pulled);
      events.emit('change', change, store.merge(change));
    }
  };

  // Cold starts: everything from IndexedDB into a new store and service.
  const coldStarts = async (runs: number, total: number[], read?: number[], indexes?: number[]) => {
    for (let i = 0; i < runs; i++) {
      await service.close();
      await storage.close();
      const t0 = performance.now();
      const started = await start();
      ({ storage, service } = started);
      const conversations = service.listConversations();
      service.listMessages(conversations[0]!.local_id!);
      total.push(performance.now() - t0);
      read?.push(started.readMs);
      indexes?.push(started.indexesMs);
      expectCounts(service, 'after a cold start');
    }
  };

  // Fill: the device pulled every row once.
  let { storage, service } = await start();
  const fillStarted = performance.now();
  const fill: PulledChange[] = [];
  for (let c = 0; c < options.conversations; c++) fill.push(server.newConversation());
  for (let c = 0; c < options.conversations; c++)
    for (let m = 0; m < options.messagesPerConversation; m++) fill.push(server.newMessage(c));
  for (let c = 0; c < options.conversations; c++) fill.push(server.touchConversation(c));
  merge(service, fill);
  await service.client.store.persisted();
  samples.fill.push(performance.now() - fillStarted);
  expectCounts(service, 'after the fill');
  const filledMessages = server.messages.length;
  log(`filled ${server.conversations.length} conversations, ${filledMessages} messages`);

  // Lists of random conversations.
  for (let i = 0; i < options.listRuns; i++) {
    const c = server.conversations[Math.floor(random() * server.conversations.length)]!;
    const t0 = performance.now();
    const list = service.listMessages(c.local_id);
    samples.listMessages.push(performance.now() - t0);
    if (list.length !== c.count) fail(`listMessages gave ${list.length} rows, expected ${c.count}`);
  }
  for (let i = 0; i < Math.max(1, Math.floor(options.listRuns / 10)); i++) {
    const t0 = performance.now();
    const list = service.listConversations();
    samples.listConversations.push(performance.now() - t0);
    if (list.length !== server.conversations.length) fail('listConversations missed rows');
  }
  log(`listed ${options.listRuns} conversations`);

  // The target's cold start: the rows of the fill, as the fill left them in IndexedDB.
  await coldStarts(options.coldStarts, samples.coldStart, samples.coldStartRead, samples.coldStartIndexes);
  log(`${options.coldStarts} cold starts`);

  // Merges of pull answers, each stored before the next arrives.
  for (let b = 0; b < options.mergeBatches; b++) {
    const batch = server.batch(options.mergeSize);
    const dropped = service.client.store.dropped;
    const t0 = performance.now();
    merge(service, batch);
    const conversations = service.listConversations();
    const active = server.conversations[server.active[0]!]!;
    const messages = service.listMessages(active.local_id);
    samples.merge.push(performance.now() - t0);
    if (conversations.length !== server.conversations.length || messages.length !== active.count)
      fail('the lists after a merge are not what was merged');
    await service.client.store.persisted();
    samples.mergeDurable.push(performance.now() - t0);
    if (service.client.store.dropped !== dropped) fail('a merged change was dropped');
  }
  expectCounts(service, 'after the merges');
  log(`merged ${options.mergeBatches} batches of ${options.mergeSize}`);

  // Local writes, one at a time.
  for (let i = 0; i < options.writes; i++) {
    const conversation = server.conversations[Math.floor(random() * server.conversations.length)]!.local_id;
    const t0 = performance.now();
    const message = service.saveMessage(conversation, { role: 'user', content: `local write ${i}` });
    const list = service.listMessages(conversation);
    const t1 = performance.now();
    await service.client.store.persisted();
    const t2 = performance.now();
    samples.writeVisible.push(t1 - t0);
    samples.writeDurable.push(t2 - t0);
    if (!list.some((row) => row.local_id === message.local_id)) fail('a written message is not in its list');
    written.push({ conversation, localId: message.local_id! });
  }
  // Later cold starts: the merges' rows too, part of them still in the journal. Durable means
  // these restarts have the writes.
  await coldStarts(Math.max(1, Math.ceil(options.coldStarts / 2)), samples.coldStartLater);
  for (const { conversation, localId } of written)
    if (!service.listMessages(conversation).some((row) => row.local_id === localId && row.pending))
      fail('a written message is not in IndexedDB');
  log(`${options.writes} writes`);
  await service.close();
  await storage.close();

  return {
    rows: { conversations: server.conversations.length, messages: server.messages.length, filledMessages },
    samples,
  };
}
