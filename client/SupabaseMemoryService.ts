/**
 * `SupabaseMemoryService`, as the design document names it: what an app calls to keep the signed-in
 * user's conversations, messages and memories. Every call returns at once with the row as the app
 * should show it (optimistic); the sync client pushes it, and rolls it back if the server refuses
 * (`onRollback`). Reads come from the local store, which realtime and pulls keep current.
 *
 * Rows are addressed by their local id (made here, kept by the server as `local_id`), so a row
 * created offline can be edited, referenced and deleted before the server has seen it.
 *
 * The lists are read from the store's indexes (row-index.ts), kept sorted as rows change: a
 * conversation's messages cost what they are, however many other messages the device holds.
 */
import type { Json } from '../supabase/functions/_shared/database.types.ts';
import { type IndexMember, type IndexSpec, mergeGroups } from './row-index.ts';
import type { Rollback } from './store.ts';
import { SyncClient, type SyncClientOptions } from './sync-client.ts';
import type { LocalRow, SyncTable } from './types.ts';

export type Conversation = LocalRow<'conversations'>;
export type Message = LocalRow<'messages'>;
export type Memory = LocalRow<'memories'>;

export interface NewMessage {
  role: 'user' | 'assistant' | 'system';
  content: string;
  metadata?: { [key: string]: Json | undefined } | null;
  timestamp?: string;
}

export interface NewMemory {
  content: string;
  context?: string | null;
  tag?: string | null;
  /** In [0, 1]; left out, the server scores the content (docs/memory-scoring.md). */
  importance_score?: number;
}

export interface EditOptions {
  /** `cas`: apply only if nobody changed the row since this device last saw it. Default `lww`. */
  mode?: 'lww' | 'cas';
}

const newLocalId = () => crypto.randomUUID();
// Times compare as text in the default locale's collation (V8's localeCompare is faster here than an Intl.Collator).
const byText = (a: string, b: string) => a.localeCompare(b);

/** A message is listed under the conversation it names, by local id, by server id, or both. */
const byLocalConversation = (localId: string) => `local:${localId}`;
const byConversationId = (id: string) => `id:${id}`;

const messagesByConversation: IndexSpec<'messages', string> = {
  table: 'messages',
  groups: ({ conversation_local_id: local, conversation_id: id }) =>
    typeof local === 'string'
      ? typeof id === 'string'
        ? [byLocalConversation(local), byConversationId(id)]
        : [byLocalConversation(local)]
      : typeof id === 'string'
        ? [byConversationId(id)]
        : [],
  sortValue: (message) => String(message.timestamp),
  compare: byText,
};

const all = ['all'] as const;

const conversationsByUpdate: IndexSpec<'conversations', string> = {
  table: 'conversations',
  groups: () => all,
  sortValue: (conversation) => String(conversation.updated_at),
  compare: (a, b) => byText(b, a),
  tiesNewestFirst: true,
};

const memoriesByImportance: IndexSpec<'memories', number> = {
  table: 'memories',
  groups: () => all,
  sortValue: (memory) => (memory.importance_score as number | null | undefined) ?? 0,
  compare: (a, b) => b - a,
};

export class SupabaseMemoryService {
  constructor(readonly client: SyncClient) {
    // Made now, from what the store holds: the first list the app shows does not pay for them.
    client.store.index(messagesByConversation);
    client.store.index(conversationsByUpdate);
    client.store.index(memoriesByImportance);
  }

  /** Makes the client, loads its stored outbox and starts syncing. */
  static async start(options: SyncClientOptions): Promise<SupabaseMemoryService> {
    const client = new SyncClient(options);
    await client.start();
    return new SupabaseMemoryService(client);
  }

  get userId(): string {
    return this.client.userId;
  }

  /** Called for every edit the server did not take (conflict or rejected), after the rollback. */
  onRollback(listener: (rollback: Rollback) => void): () => void {
    return this.client.events.on('rollback', listener);
  }

  /** Resolves when every queued edit has been answered by the server (or the client stops). */
  whenSynced(): Promise<void> {
    return this.client.whenIdle();
  }

  async close(): Promise<void> {
    await this.client.stop();
  }

  // Conversations ---------------------------------------------------------------------------------

  createConversation(fields: { title?: string | null } = {}): Conversation {
    const localId = newLocalId();
    this.client.write({
      table: 'conversations',
      op: 'upsert',
      local_id: localId,
      fields: { title: fields.title ?? null },
    });
    return this.required('conversations', localId);
  }

  renameConversation(localId: string, title: string | null, options: EditOptions = {}): Conversation {
    this.client.write({ table: 'conversations', op: 'upsert', local_id: localId, fields: { title }, ...options });
    return this.required('conversations', localId);
  }

  /** Deletes the conversation; the server deletes its messages with it. */
  deleteConversation(localId: string): void {
    this.client.write({ table: 'conversations', op: 'delete', local_id: localId });
  }

  getConversation(localId: string): Conversation | null {
    return this.client.store.get('conversations', localId);
  }

  /** Most recently updated first (equal times: the one the device learnt of last first). */
  listConversations(): Conversation[] {
    return this.rows('conversations', this.client.store.index(conversationsByUpdate).group('all'));
  }

  // Messages --------------------------------------------------------------------------------------

  saveMessage(conversationLocalId: string, message: NewMessage): Message {
    const localId = newLocalId();
    const conversation = this.client.store.get('conversations', conversationLocalId);
    // A conversation known to the server only by id (created elsewhere without a local id) is named by id.
    const reference =
      conversationLocalId.startsWith('#') && conversation?.id
        ? { conversation_id: conversation.id }
        : { conversation_local_id: conversationLocalId };
    this.client.write({
      table: 'messages',
      op: 'upsert',
      local_id: localId,
      fields: {
        ...reference,
        role: message.role,
        content: message.content,
        ...(message.metadata !== undefined ? { metadata: message.metadata } : {}),
        ...(message.timestamp ? { timestamp: message.timestamp } : {}),
      },
    });
    return this.required('messages', localId);
  }

  editMessage(
    localId: string,
    fields: { content?: string; metadata?: { [key: string]: Json | undefined } | null },
    options: EditOptions = {},
  ): Message {
    this.client.write({ table: 'messages', op: 'upsert', local_id: localId, fields, ...options });
    return this.required('messages', localId);
  }

  deleteMessage(localId: string): void {
    this.client.write({ table: 'messages', op: 'delete', local_id: localId });
  }

  getMessage(localId: string): Message | null {
    return this.client.store.get('messages', localId);
  }

  /** A conversation's messages in time order (equal times: in the order the device learnt of them). */
  listMessages(conversationLocalId: string): Message[] {
    const conversation = this.client.store.get('conversations', conversationLocalId);
    const index = this.client.store.index(messagesByConversation);
    const byLocal = index.group(byLocalConversation(conversationLocalId));
    const byId = conversation?.id != null ? index.group(byConversationId(conversation.id)) : [];
    return this.rows('messages', mergeGroups(index, byLocal, byId));
  }

  /** Marking a message as important makes a memory of it (design document, "Memory Sync"). */
  markImportant(messageLocalId: string, memory: Omit<NewMemory, 'content'> & { content?: string } = {}): Memory {
    const message = this.client.store.get('messages', messageLocalId);
    if (!message) throw new Error(`no message ${messageLocalId}`);
    return this.saveMemory({
      context: `message ${messageLocalId}`,
      ...memory,
      content: (memory.content ?? message.content).slice(0, 10_000),
    });
  }

  // Memories --------------------------------------------------------------------------------------

  saveMemory(memory: NewMemory): Memory {
    const localId = newLocalId();
    this.client.write({ table: 'memories', op: 'upsert', local_id: localId, fields: memory });
    return this.required('memories', localId);
  }

  updateMemory(localId: string, fields: Partial<NewMemory>, options: EditOptions = {}): Memory {
    this.client.write({ table: 'memories', op: 'upsert', local_id: localId, fields, ...options });
    return this.required('memories', localId);
  }

  deleteMemory(localId: string): void {
    this.client.write({ table: 'memories', op: 'delete', local_id: localId });
  }

  getMemory(localId: string): Memory | null {
    return this.client.store.get('memories', localId);
  }

  /** Most important first (equal scores: in the order the device learnt of them). */
  listMemories(): Memory[] {
    return this.rows('memories', this.client.store.index(memoriesByImportance).group('all'));
  }

  /** The rows an index lists, each as `get` makes it (every member is a row the app can see). */
  private rows<T extends SyncTable>(table: T, members: readonly IndexMember[]): LocalRow<T>[] {
    const rows: LocalRow<T>[] = [];
    for (const { key } of members) {
      const row = this.client.store.get(table, key);
      if (row) rows.push(row);
    }
    return rows;
  }

  private required<T extends SyncTable>(table: T, localId: string) {
    const row = this.client.store.get(table, localId);
    if (!row) throw new Error(`${table} ${localId} is not in the store`);
    return row;
  }
}
