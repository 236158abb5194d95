-- Chapter 13: sync_pull, everything that changed for the caller since a cursor, deletions included.
--
-- Why snapshots and not timestamps: a transaction that starts first can commit last. With an
-- `updated_at > cursor` rule, a device that pulled between the two commits would have moved its
-- cursor past the slow transaction's rows and never see them. Here the cursor is the snapshot the
-- previous pull ran in (pg_current_snapshot()): it names exactly which transactions that pull could
-- see. A row belongs to the next pull when the transaction that last wrote it (sync.changes,
-- chapter 8) was not visible to the previous snapshot; a transaction in progress then is picked up
-- once it has committed, however long it took.
--
-- Pages: one pull is bounded by `upto`, the snapshot of its first page, and walks the entries in
-- (change_txid, table, row id) order with `after` marking the last one sent. The last page hands
-- back `since = upto`. A row that changes again while a device pages is left for the next pull
-- (its new transaction is not visible to `upto`), so nothing is sent twice in a pull or skipped.
--
-- The cursor is a JSON object {since?, upto?, after?}: the edge function passes it to devices as
-- an opaque string. Without `since` (a device's first pull) the answer is the current rows, with no
-- tombstones. The function is stable, so all its reads share one snapshot, the one it hands out.

create or replace function public.sync_pull(cursor jsonb default null, max_changes integer default 1000)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  uid uuid := (select auth.uid());
  since pg_snapshot := (cursor ->> 'since')::pg_snapshot;
  upto pg_snapshot := coalesce((cursor ->> 'upto')::pg_snapshot, pg_current_snapshot());
  after_txid xid8 := coalesce((cursor #>> '{after,txid}')::xid8, '0'::xid8);
  after_table text := coalesce(cursor #>> '{after,table}', '');
  after_row uuid := coalesce((cursor #>> '{after,id}')::uuid, '00000000-0000-0000-0000-000000000000'::uuid);
  lower_bound xid8;
  page jsonb;
  sent integer;
  last_entry jsonb;
begin
  if uid is null then
    raise exception 'sync_pull needs a signed-in user' using errcode = '42501';
  end if;
  if cursor is not null and jsonb_typeof(cursor) <> 'object' then
    raise exception 'cursor must be a JSON object' using errcode = '22023';
  end if;
  if max_changes is null or max_changes < 1 or max_changes > 10000 then
    raise exception 'max_changes must be from 1 to 10000' using errcode = '22023';
  end if;
  -- Every transaction below the previous snapshot's xmin was visible to it: the index range starts there.
  lower_bound := greatest(coalesce(pg_snapshot_xmin(since), '0'::xid8), after_txid);

  with entries as (
    select c.table_name, c.row_id, c.local_id, c.version, c.deleted, c.change_txid
    from sync.changes c
    where c.user_id = uid
      and c.change_txid >= lower_bound
      and (since is null or not pg_visible_in_snapshot(c.change_txid, since))
      and pg_visible_in_snapshot(c.change_txid, upto)
      and (c.change_txid, c.table_name, c.row_id) > (after_txid, after_table, after_row)
      and (since is not null or not c.deleted)
    order by c.change_txid, c.table_name, c.row_id
    limit max_changes + 1
  ),
  shaped as (
    select e.*,
      case e.table_name
        when 'conversations' then (select to_jsonb(t) from public.conversations t where t.id = e.row_id)
        when 'messages' then (select to_jsonb(t) from public.messages t where t.id = e.row_id)
        else (select to_jsonb(t) from public.memories t where t.id = e.row_id)
      end as current_row
    from entries e
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'table', s.table_name, 'op', case when s.deleted then 'delete' else 'upsert' end,
           'id', s.row_id, 'local_id', s.local_id, 'version', s.version,
           'row', case when s.deleted then null else s.current_row end,
           'txid', s.change_txid::text)
         order by s.change_txid, s.table_name, s.row_id), '[]'::jsonb),
         count(*)
  into page, sent
  from shaped s;

  if sent > max_changes then
    page := page - max_changes;  -- the extra entry only said that there is more
    last_entry := page -> (max_changes - 1);
    return jsonb_build_object(
      'changes', page,
      'has_more', true,
      'cursor', jsonb_strip_nulls(jsonb_build_object(
        'since', since::text, 'upto', upto::text,
        'after', jsonb_build_object('txid', last_entry ->> 'txid', 'table', last_entry ->> 'table', 'id', last_entry ->> 'id'))));
  end if;
  return jsonb_build_object('changes', page, 'has_more', false, 'cursor', jsonb_build_object('since', upto::text));
end;
$$;
comment on function public.sync_pull(jsonb, integer) is
  'Everything that changed for the calling user since a cursor (a snapshot), tombstones included, in pages; see chapter 13.';
grant execute on function public.sync_pull(jsonb, integer) to authenticated;
