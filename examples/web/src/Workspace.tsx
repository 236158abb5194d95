/**
 * A signed-in person's conversations, messages and memories, read from and written to the device
 * client's local store: every edit shows at once, is kept in IndexedDB, and is sent when online.
 */
import {
  type Conversation,
  IndexedDbStorage,
  type Rollback,
  SupabaseMemoryService,
  SyncClient,
} from '@virgil/sync-client';
import { useRealtimeSync } from '@virgil/sync-client/react';
import { type FormEvent, useEffect, useMemo, useState } from 'react';
import { supabase } from './supabase.ts';
import { SyncIndicator } from './SyncIndicator.tsx';

export function Workspace({ userId, email }: { userId: string; email: string }) {
  const service = useMemo(
    () =>
      new SupabaseMemoryService(
        new SyncClient({
          supabase,
          userId,
          storage: new IndexedDbStorage(`virgil-sync-${userId}`),
          realtime: 'broadcast',
        }),
      ),
    [userId],
  );
  const { state, store } = useRealtimeSync(service.client);
  const [rollbacks, setRollbacks] = useState<Rollback[]>([]);
  // An edit the client refuses before queueing it (the sync function would refuse it): never shown as saved.
  const [refused, setRefused] = useState<string | null>(null);
  const attempt = (edit: () => void) => {
    try {
      edit();
      setRefused(null);
    } catch (error) {
      setRefused(describeRefusal(error));
    }
  };
  const [selected, setSelected] = useState<string | null>(null);
  useEffect(() => service.onRollback((rollback) => setRollbacks((shown) => [...shown, rollback])), [service]);

  const conversations = service.listConversations();
  const current = selected ? service.getConversation(selected) : null;

  return (
    <div className="workspace">
      <header>
        <h1>Virgil</h1>
        <SyncIndicator state={state} waiting={store.queued.length} />
        <span className="who" data-testid="who">
          {email}
        </span>
        <button onClick={() => supabase.auth.signOut({ scope: 'local' })}>Sign out</button>
      </header>
      {refused && (
        <p className="refused" role="alert" data-testid="refused">
          Not saved: {refused}
          <button onClick={() => setRefused(null)}>Dismiss</button>
        </p>
      )}
      {rollbacks.length > 0 && (
        <ul className="rollbacks" data-testid="rollbacks">
          {rollbacks.map((rollback) => (
            <li key={rollback.change_id} role="alert">
              Your change to {rollback.table.replace(/s$/, '')} was not kept: {rollback.reason ?? rollback.status}
              {rollback.detail ? ` (${rollback.detail})` : ''}.
              <button onClick={() => setRollbacks((shown) => shown.filter((r) => r !== rollback))}>Dismiss</button>
            </li>
          ))}
        </ul>
      )}
      <div className="panes">
        <nav className="conversations">
          <h2>Conversations</h2>
          <NewConversation
            onCreate={(title) => attempt(() => setSelected(service.createConversation({ title }).local_id!))}
          />
          <ul data-testid="conversation-list">
            {conversations.map((conversation) => (
              <li key={conversation.local_id}>
                <button
                  className={conversation.local_id === selected ? 'selected' : ''}
                  onClick={() => setSelected(conversation.local_id!)}
                >
                  {conversation.title || 'Untitled'} <small>{conversation.message_count ?? 0}</small>
                </button>
              </li>
            ))}
          </ul>
        </nav>
        <main>
          {current ? (
            <ConversationView service={service} conversation={current} attempt={attempt} />
          ) : (
            <p>Pick a conversation.</p>
          )}
        </main>
        <aside className="memories">
          <h2>Memories</h2>
          <ul data-testid="memory-list">
            {service.listMemories().map((memory) => (
              <li key={memory.local_id}>
                <span>{memory.content}</span>
                <small>{memory.importance_score == null ? 'scoring…' : memory.importance_score.toFixed(2)}</small>
                <button onClick={() => attempt(() => service.deleteMemory(memory.local_id!))} aria-label="Forget">
                  ✕
                </button>
              </li>
            ))}
          </ul>
        </aside>
      </div>
    </div>
  );
}

function NewConversation({ onCreate }: { onCreate: (title: string) => void }) {
  const [title, setTitle] = useState('');
  function submit(event: FormEvent) {
    event.preventDefault();
    onCreate(title.trim());
    setTitle('');
  }
  return (
    <form onSubmit={submit}>
      <input
        name="new-conversation"
        placeholder="New conversation"
        value={title}
        onChange={(e) => setTitle(e.target.value)}
      />
      <button type="submit">Add</button>
    </form>
  );
}

/** What the client says of an edit it refused: a zod issue (`title: Too big…`) or the error's message. */
function describeRefusal(error: unknown): string {
  const issue = (error as { issues?: { path: PropertyKey[]; message: string }[] }).issues?.[0];
  if (issue) return `${issue.path.map(String).join('.')}: ${issue.message}`;
  return error instanceof Error ? error.message : String(error);
}

function ConversationView({
  service,
  conversation,
  attempt,
}: {
  service: SupabaseMemoryService;
  conversation: Conversation;
  attempt: (edit: () => void) => void;
}) {
  const [text, setText] = useState('');
  const localId = conversation.local_id!;

  function send(event: FormEvent) {
    event.preventDefault();
    if (text.trim() === '') return;
    attempt(() => {
      service.saveMessage(localId, { role: 'user', content: text });
      setText('');
    });
  }
  return (
    <section className="conversation">
      {/* Keyed by the title: a rename from another device (or a rollback) resets the field. */}
      <RenameForm
        key={conversation.title ?? ''}
        title={conversation.title ?? ''}
        onRename={(title) => attempt(() => service.renameConversation(localId, title))}
        onDelete={() => attempt(() => service.deleteConversation(localId))}
      />
      <h2 data-testid="conversation-title">{conversation.title || 'Untitled'}</h2>
      <ol className="messages" data-testid="messages">
        {service.listMessages(localId).map((message) => (
          <li key={message.local_id} className={`message ${message.role}`}>
            <p>{message.content}</p>
            <button onClick={() => attempt(() => service.markImportant(message.local_id!))}>★ Mark important</button>
          </li>
        ))}
      </ol>
      <form className="composer" onSubmit={send}>
        <textarea name="message" value={text} onChange={(e) => setText(e.target.value)} placeholder="Write a message" />
        <button type="submit">Send</button>
      </form>
    </section>
  );
}

function RenameForm(props: { title: string; onRename: (title: string) => void; onDelete: () => void }) {
  const [title, setTitle] = useState(props.title);
  function submit(event: FormEvent) {
    event.preventDefault();
    props.onRename(title);
  }
  return (
    <form className="rename" onSubmit={submit}>
      <input name="title" aria-label="Title" value={title} onChange={(e) => setTitle(e.target.value)} />
      <button type="submit">Rename</button>
      <button type="button" className="delete" onClick={props.onDelete}>
        Delete conversation
      </button>
    </form>
  );
}
