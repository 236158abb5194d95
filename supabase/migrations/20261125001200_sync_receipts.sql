-- Chapter 10: receipts, which make a replayed sync item harmless.
--
-- A device that lost the answer to a push sends the same batch again. Every item carries a
-- change_id the device made up once for that edit; the first time the item is applied (or found to
-- change nothing) its outcome is kept here, and a replay returns that outcome without touching the
-- row: no duplicate, no version bump, no message_count drift. Conflicts and rejections write nothing
-- and keep no receipt, so a replay of those is simply decided again.
--
-- Receipts are written by public.sync_push, which runs as the caller (security invoker), so
-- signed-in users may read and add their own, and nothing more.

create table sync.receipts (
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  change_id uuid not null,
  table_name text not null,
  local_id text not null,
  status text not null,
  row_id uuid,
  version bigint,
  created_at timestamptz not null default now(),
  primary key (user_id, change_id),
  constraint receipts_status_check check (status in ('applied', 'unchanged')),
  constraint receipts_table_name_check check (table_name in ('conversations', 'messages', 'memories'))
);
comment on table sync.receipts is 'The outcome of each sync change a device pushed, so that replaying it returns the same answer and writes nothing.';

revoke all on table sync.receipts from public, anon, authenticated;
grant select, insert on table sync.receipts to authenticated;
grant all on table sync.receipts to service_role;

alter table sync.receipts enable row level security;

create policy "Users can read their own receipts"
  on sync.receipts for select to authenticated
  using (user_id = (select auth.uid()));

create policy "Users can keep receipts of their own"
  on sync.receipts for insert to authenticated
  with check (user_id = (select auth.uid()));
