/**
 * `SupabaseMemoryService`, as the design document names it: what an app calls to keep the signed-in
 * user's conversations, messages and memories. Every call returns at once with the row as the app
 * should show it (optimistic); the sync client pushes it, and rolls it back if the server refuses
 * (`onRollback`). Reads come from the local store, which realtime and pulls keep current.
 *
 * Rows are addressed by their local id (made here, kept by the server as `local_id`), so a row
 * created offline can be edited, referenced and deleted before the server has seen it.
 */
import type { Json } from '../supabase/functions/_shared/database.types.ts';
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
const byTime = (field: string) => (a: Record<string, unknown>, b: Record<string, unknown>) =>
  String(a[field]).localeCompare(String(b[field]));

export class SupabaseMemoryService {
  constructor(readonly client: SyncClient) {}

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

  /** Most recently updated first. */
  listConversations(): Conversation[] {
    return this.client.store.list('conversations').sort(byTime('updated_at')).reverse();
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

  /** A conversation's messages in time order. */
  listMessages(conversationLocalId: string): Message[] {
    const conversation = this.client.store.get('conversations', conversationLocalId);
    return this.client.store
      .list('messages')
      .filter(
        (message) =>
          message.conversation_local_id === conversationLocalId ||
          (conversation?.id != null && message.conversation_id === conversation.id),
      )
      .sort(byTime('timestamp'));
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

  /** Most important first. */
  listMemories(): Memory[] {
    return this.client.store.list('memories').sort((a, b) => (b.importance_score ?? 0) - (a.importance_score ?? 0));
  }

  private required<T extends SyncTable>(table: T, localId: string) {
    const row = this.client.store.get(table, localId);
    if (!row) throw new Error(`${table} ${localId} is not in the store`);
    return row;
  }
}
