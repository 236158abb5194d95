-- Chapter 2: conversations, one per chat thread a user has with Virgil.
--
-- `local_id` is the id a device gave the conversation while offline; it is unique per user, so a
-- device can upsert on (user_id, local_id) without ever colliding with another user's ids.
-- `message_count` is kept exact by the database (chapter 6); nobody sets it by hand.

create table public.conversations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  local_id text,
  title text,
  message_count integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version bigint not null default 1,
  constraint conversations_user_id_local_id_key unique (user_id, local_id),
  -- The target of messages' (conversation_id, user_id) reference: a message can only point at a
  -- conversation of its own user.
  constraint conversations_id_user_id_key unique (id, user_id),
  constraint conversations_local_id_length check (char_length(local_id) between 1 and 128),
  constraint conversations_title_length check (char_length(title) <= 500),
  constraint conversations_message_count_not_negative check (message_count >= 0)
);
comment on table public.conversations is 'A chat thread between a user and Virgil, synced across the user''s devices.';
comment on column public.conversations.local_id is 'The id the creating device gave it; unique per user.';
comment on column public.conversations.message_count is 'Number of messages in the conversation, kept exact by trigger.';
comment on column public.conversations.version is 'Grows by one on every update; used for conflict checks.';

-- Delta sync ("what changed for me since…") and the conversation list, newest first.
create index conversations_user_id_updated_at_idx on public.conversations (user_id, updated_at, id);

create trigger conversations_stamp_row
  before insert or update on public.conversations
  for each row execute function private.stamp_row();

-- Only signed-in users, and only the four data verbs; anon gets nothing at all.
revoke all on table public.conversations from anon, authenticated;
grant select, insert, update, delete on table public.conversations to authenticated;
grant all on table public.conversations to service_role;

alter table public.conversations enable row level security;
