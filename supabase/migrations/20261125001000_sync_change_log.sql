-- Chapter 8: the change log that `sync` pulls from, tombstones included.
--
-- Why a side table: a device that was offline must learn of every row that changed while it was
-- away, deletions included, and in an order that can never skip a row. Each synced row has exactly
-- one entry in sync.changes (one per row id, upserted on every write), carrying
--   * change_txid: the id of the transaction that last wrote the row (xid8). The pull cursor is a
--     transaction snapshot (pg_current_snapshot()), and "changed since the cursor" means "written
--     by a transaction the cursor's snapshot could not see". Unlike a timestamp or a sequence, this
--     never skips a row whose transaction committed after a later-numbered one (chapter 13);
--   * deleted: a tombstone. The entry outlives its row, so a delete reaches devices that were
--     offline when it happened;
--   * edited_at / change_id: who wins a concurrent edit under last-write-wins (chapter 11): the
--     device's own edit time for writes made through sync, the server time for any other write.
--
-- Schema `sync` holds the bookkeeping. It is not one of the API's schemas ([api] schemas), so the
-- Data API never exposes it; signed-in users may read their own entries, as `sync_pull` (security
-- invoker) needs, and nothing else. Entries are written only by the definer trigger functions below.

create schema if not exists sync;
comment on schema sync is 'Bookkeeping of the sync protocol (change log, tombstones, receipts); not exposed through the Data API.';
revoke all on schema sync from public, anon, authenticated;
grant usage on schema sync to authenticated;
alter default privileges in schema sync revoke execute on functions from public, anon, authenticated;

create table sync.changes (
  table_name text not null,
  row_id uuid not null,
  -- No reference to auth.users: entries are written while a user's rows are being deleted with the
  -- user (on delete cascade), after the user row is gone; private.record_deletes skips those, and
  -- the user's own entries are removed by sync.forget_deleted_user below.
  user_id uuid not null,
  local_id text,
  version bigint not null,
  change_txid xid8 not null default pg_current_xact_id(),
  deleted boolean not null default false,
  edited_at timestamptz not null default now(),
  change_id uuid,
  primary key (table_name, row_id),
  constraint changes_table_name_check check (table_name in ('conversations', 'messages', 'memories'))
);
comment on table sync.changes is 'One entry per synced row: the transaction that last wrote it, and whether it was deleted (tombstone).';
comment on column sync.changes.change_txid is 'Transaction that last wrote the row; compared with the pull cursor''s snapshot.';
comment on column sync.changes.deleted is 'True once the row is deleted: the tombstone devices pull to learn of the delete.';
comment on column sync.changes.edited_at is 'Edit time that decides last-write-wins: the device''s for sync writes, the server''s otherwise.';
comment on column sync.changes.change_id is 'The sync change that last wrote the row (tie-breaker for equal edit times); null for other writes.';

-- Pull: "this user's entries written after the cursor", in transaction order.
create index changes_user_id_change_txid_idx on sync.changes (user_id, change_txid, table_name, row_id);
-- A row's entry by the device's local_id: the tombstone a re-created row is judged against, and
-- the set-wise path's bookkeeping (chapter 12).
create index changes_user_id_local_id_idx on sync.changes (user_id, table_name, local_id);

revoke all on table sync.changes from public, anon, authenticated;
grant select on table sync.changes to authenticated;
grant all on table sync.changes to service_role;

alter table sync.changes enable row level security;

create policy "Users can read their own change log"
  on sync.changes for select to authenticated
  using (user_id = (select auth.uid()));

-- What sync_push tells the triggers about the item it is writing: {table, local_id, change_id,
-- edited_at}. Transaction-local, set and cleared around each item.
create or replace function private.current_sync_change(target_table text, target_local_id text)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  raw text := current_setting('virgil.sync_change', true);
  change jsonb;
begin
  if raw is null or raw = '' then
    return null;
  end if;
  change := raw::jsonb;
  if change ->> 'table' = target_table and change ->> 'local_id' is not distinct from target_local_id then
    return change;
  end if;
  return null;
end;
$$;
comment on function private.current_sync_change(text, text) is
  'The sync item being written, when it is this row; null for every other write.';

-- Every write of a synced row is logged by a row trigger of its own, after the write: an AFTER
-- trigger fires only for rows really written, with their final version (an upsert that ends in its
-- update branch logs that update, never the insert it did not make). Security definer for this one
-- write, which no API role may make itself; it acts only on the row just written.
create or replace function private.log_change()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  change jsonb;
begin
  -- The set-wise path (chapter 12) records the rows it inserts itself, in one statement.
  if tg_op = 'INSERT' and pg_trigger_depth() = 1
     and current_setting('virgil.sync_bulk', true) = pg_current_xact_id()::text then
    return null;
  end if;

  change := private.current_sync_change(tg_table_name, new.local_id);
  if change is not null then
    -- Written by a sync item: its device's edit time and change id decide later conflicts.
    insert into sync.changes as c (table_name, row_id, user_id, local_id, version, change_txid, deleted, edited_at, change_id)
    values (tg_table_name, new.id, new.user_id, new.local_id, new.version, pg_current_xact_id(), false,
            (change ->> 'edited_at')::timestamptz, (change ->> 'change_id')::uuid)
    on conflict (table_name, row_id) do update
      set local_id = excluded.local_id, version = excluded.version, change_txid = excluded.change_txid,
          deleted = false, edited_at = excluded.edited_at, change_id = excluded.change_id;
  elsif pg_trigger_depth() > 1 and tg_op = 'UPDATE' then
    -- Written by another trigger (message_count): devices must see it, but it is nobody's edit,
    -- so the last edit's time and change id stay.
    insert into sync.changes as c (table_name, row_id, user_id, local_id, version, change_txid, deleted, edited_at, change_id)
    values (tg_table_name, new.id, new.user_id, new.local_id, new.version, pg_current_xact_id(), false, now(), null)
    on conflict (table_name, row_id) do update
      set local_id = excluded.local_id, version = excluded.version, change_txid = excluded.change_txid,
          deleted = false;
  else
    -- Any other write (Data API, seed, SQL): an edit made now, on the server.
    insert into sync.changes as c (table_name, row_id, user_id, local_id, version, change_txid, deleted, edited_at, change_id)
    values (tg_table_name, new.id, new.user_id, new.local_id, new.version, pg_current_xact_id(), false, now(), null)
    on conflict (table_name, row_id) do update
      set local_id = excluded.local_id, version = excluded.version, change_txid = excluded.change_txid,
          deleted = false, edited_at = excluded.edited_at, change_id = null;
  end if;
  return null;
end;
$$;
comment on function private.log_change() is
  'After each insert or update of a synced row: records the write in sync.changes.';

create trigger conversations_log_change
  after insert or update on public.conversations
  for each row execute function private.log_change();

create trigger messages_log_change
  after insert or update on public.messages
  for each row execute function private.log_change();

create trigger memories_log_change
  after insert or update on public.memories
  for each row execute function private.log_change();

-- Every row already there (the seed) gets its entry, so a first pull with a cursor sees them.
insert into sync.changes (table_name, row_id, user_id, local_id, version, edited_at)
select 'conversations', id, user_id, local_id, version, updated_at from public.conversations
union all
select 'messages', id, user_id, local_id, version, updated_at from public.messages
union all
select 'memories', id, user_id, local_id, version, updated_at from public.memories
on conflict do nothing;
