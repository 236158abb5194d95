-- Chapter 3: messages, the lines of a conversation.
--
-- A message references its conversation by the pair (conversation_id, user_id), so the reference
-- itself guarantees the conversation belongs to the same user: pointing a message at someone
-- else's conversation fails like pointing it at one that does not exist. The check is deferred to
-- commit, so a device may write a message before the conversation it belongs to, in one
-- transaction.

create table public.messages (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  conversation_id uuid,
  local_id text,
  role text not null,
  content text not null,
  "timestamp" timestamptz not null default now(),
  metadata jsonb,
  updated_at timestamptz not null default now(),
  version bigint not null default 1,
  constraint messages_user_id_local_id_key unique (user_id, local_id),
  constraint messages_conversation_fkey foreign key (conversation_id, user_id)
    references public.conversations (id, user_id) on delete cascade
    deferrable initially deferred,
  constraint messages_role_check check (role in ('user', 'assistant', 'system')),
  constraint messages_local_id_length check (char_length(local_id) between 1 and 128),
  constraint messages_content_length check (char_length(content) <= 100000),
  constraint messages_metadata_is_object check (metadata is null or jsonb_typeof(metadata) = 'object'),
  constraint messages_metadata_size check (metadata is null or octet_length(metadata::text) <= 65536)
);
comment on table public.messages is 'One message of a conversation, from the user, Virgil (assistant) or the system.';
comment on column public.messages."timestamp" is 'When the message was written, on the device that wrote it.';
comment on column public.messages.metadata is 'Free-form JSON object attached by the client (at most 64 KiB).';
comment on column public.messages.version is 'Grows by one on every update; used for conflict checks.';

-- A conversation's messages in time order; also serves the reference's cascade on delete.
create index messages_conversation_timeline_idx on public.messages (conversation_id, user_id, "timestamp", id);
-- Delta sync, and the column every policy reads.
create index messages_user_id_updated_at_idx on public.messages (user_id, updated_at, id);

create trigger messages_stamp_row
  before insert or update on public.messages
  for each row execute function private.stamp_row();

revoke all on table public.messages from anon, authenticated;
grant select, insert, update, delete on table public.messages to authenticated;
grant all on table public.messages to service_role;

alter table public.messages enable row level security;
