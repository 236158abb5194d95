-- Chapter 9: tombstones. Every delete, however it happens (sync, Data API, a conversation's
-- messages going with it, SQL), turns the row's sync.changes entry into a tombstone written by the
-- deleting transaction, so devices pull the delete like any other change.
--
-- Each table gets a statement-level delete trigger of its own, beside (never inside) chapter 6's
-- counting.

create or replace function private.record_deletes()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- A user being deleted takes their rows along; there is nobody left to tell, and the entries
  -- go with the user (sync.forget_deleted_user).
  insert into sync.changes as c (table_name, row_id, user_id, local_id, version, change_txid, deleted, edited_at, change_id)
  select tg_table_name, o.id, o.user_id, o.local_id, o.version + 1, pg_current_xact_id(), true,
         coalesce((private.current_sync_change(tg_table_name, o.local_id) ->> 'edited_at')::timestamptz, now()),
         (private.current_sync_change(tg_table_name, o.local_id) ->> 'change_id')::uuid
  from deleted_rows o
  where exists (select from auth.users u where u.id = o.user_id)
  on conflict (table_name, row_id) do update
    set local_id = excluded.local_id, version = excluded.version, change_txid = excluded.change_txid,
        deleted = true, edited_at = excluded.edited_at, change_id = excluded.change_id;
  return null;
end;
$$;
comment on function private.record_deletes() is
  'After each delete statement on a synced table: turns the rows'' change-log entries into tombstones.';

create trigger conversations_record_deletes
  after delete on public.conversations
  referencing old table as deleted_rows
  for each statement execute function private.record_deletes();

create trigger memories_record_deletes
  after delete on public.memories
  referencing old table as deleted_rows
  for each statement execute function private.record_deletes();

create trigger messages_record_deletes
  after delete on public.messages
  referencing old table as deleted_rows
  for each statement execute function private.record_deletes();

-- A deleted user's change log goes with them.
create or replace function private.forget_deleted_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from sync.changes c using deleted_users d where c.user_id = d.id;
  return null;
end;
$$;
comment on function private.forget_deleted_user() is
  'After users are deleted: removes their sync change log (their rows went by on delete cascade).';

create trigger on_auth_users_deleted_forget_sync_changes
  after delete on auth.users
  referencing old table as deleted_users
  for each statement execute function private.forget_deleted_user();
