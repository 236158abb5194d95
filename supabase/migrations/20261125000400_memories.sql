-- Chapter 4: memories, what Virgil should remember about a person.
--
-- `importance_score` lies in [0, 1]; 1.0, the default, is for memories the user marked by hand.

create table public.memories (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  local_id text,
  content text not null,
  context text,
  importance_score double precision not null default 1.0,
  tag text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  version bigint not null default 1,
  constraint memories_user_id_local_id_key unique (user_id, local_id),
  constraint memories_local_id_length check (char_length(local_id) between 1 and 128),
  constraint memories_content_length check (char_length(content) between 1 and 10000),
  constraint memories_context_length check (char_length(context) <= 10000),
  constraint memories_tag_length check (char_length(tag) between 1 and 64),
  constraint memories_importance_score_range check (importance_score >= 0 and importance_score <= 1)
);
comment on table public.memories is 'Something Virgil remembers about the user, marked on any of their devices.';
comment on column public.memories.importance_score is 'How much the memory matters, from 0 to 1.';
comment on column public.memories.version is 'Grows by one on every update; used for conflict checks.';

create index memories_user_id_updated_at_idx on public.memories (user_id, updated_at, id);

create trigger memories_stamp_row
  before insert or update on public.memories
  for each row execute function private.stamp_row();

revoke all on table public.memories from anon, authenticated;
grant select, insert, update, delete on table public.memories to authenticated;
grant all on table public.memories to service_role;

alter table public.memories enable row level security;
