-- Chapter 11: sync_push, a device's batch of offline edits applied in one transaction.
--
-- Each item addresses a row by the device's local_id: upsert (only the fields it names change) or
-- delete. The conflict check and the write are one step: the row is locked (`for update`) before
-- it is compared, so two devices racing on one row queue, and the second is judged against what
-- the first wrote. Rules, in order:
--   1. a change_id seen before returns its receipt (chapter 10) and writes nothing;
--   2. an upsert that would change nothing is `unchanged`;
--   3. mode `cas` (strict): applied only if base_version equals the row's version;
--   4. mode `lww` (default): applied if base_version equals the row's version (the device edited
--      what is there now), else if its edit is later than the row's last edit, comparing
--      (edited_at, change_id) so that equal times are broken the same way on every server;
--   5. otherwise `conflict`, with the server's current row so the device can roll back.
-- A deleted row (tombstone) is judged the same way: an older edit does not bring it back.
-- Every item runs in its own subtransaction: a rejected item (bad value, missing conversation,
-- constraint) is reported with a reason and the others still apply, in the order given.
--
-- All functions are security invoker: every read and write is the caller's, under RLS.

-- Rule 3 and 4.
create or replace function sync.may_overwrite(item jsonb, current_version bigint, current_edited_at timestamptz, current_change_id uuid)
returns boolean
language sql
immutable
set search_path = ''
as $$
  select case
    when coalesce(item ->> 'mode', 'lww') = 'cas' then (item ->> 'base_version')::bigint is not distinct from current_version
    when (item ->> 'base_version')::bigint = current_version then true
    else ((item ->> 'client_updated_at')::timestamptz, (item ->> 'change_id')::uuid)
         > (current_edited_at, coalesce(current_change_id, '00000000-0000-0000-0000-000000000000'::uuid))
  end;
$$;
comment on function sync.may_overwrite(jsonb, bigint, timestamptz, uuid) is
  'Whether a sync item may overwrite a row at current_version last edited at current_edited_at (cas or last-write-wins).';
grant execute on function sync.may_overwrite(jsonb, bigint, timestamptz, uuid) to authenticated;

create or replace function sync.outcome(status text, row_id uuid, version bigint)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select jsonb_build_object('status', status, 'id', row_id, 'version', version);
$$;
comment on function sync.outcome(text, uuid, bigint) is 'The per-item answer for applied and unchanged items.';
grant execute on function sync.outcome(text, uuid, bigint) to authenticated;

create or replace function sync.conflict(row_id uuid, version bigint, current_row jsonb)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select jsonb_build_object('status', 'conflict', 'id', row_id, 'version', version,
                            'deleted', current_row is null, 'row', current_row);
$$;
comment on function sync.conflict(uuid, bigint, jsonb) is
  'The per-item answer for a write that lost: the server''s current row, or deleted = true and row = null.';
grant execute on function sync.conflict(uuid, bigint, jsonb) to authenticated;

-- Whether an item may overwrite an existing row, judged against the row's last edit: the conflict
-- answer when it may not, null when it may. The edit time that counts is the one the change log
-- recorded (a device's own time for sync writes), else the row's updated_at.
create or replace function sync.overwrite_conflict(target_table text, item jsonb, current_row jsonb)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  current_id uuid := (current_row ->> 'id')::uuid;
  current_version bigint := (current_row ->> 'version')::bigint;
  last_edit sync.changes;
begin
  select c.* into last_edit from sync.changes c where c.table_name = target_table and c.row_id = current_id;
  if sync.may_overwrite(item, current_version,
                        coalesce(last_edit.edited_at, (current_row ->> 'updated_at')::timestamptz),
                        last_edit.change_id) then
    return null;
  end if;
  return sync.conflict(current_id, current_version, current_row);
end;
$$;
comment on function sync.overwrite_conflict(text, jsonb, jsonb) is
  'The conflict answer when a sync item may not overwrite current_row (judged against its last edit), else null.';
grant execute on function sync.overwrite_conflict(text, jsonb, jsonb) to authenticated;

-- Refuses fields a table does not take (the edge function refuses them first, with a 400).
create or replace function sync.require_known_fields(table_name text, fields jsonb, allowed text[])
returns void
language plpgsql
immutable
set search_path = ''
as $$
declare
  unknown text;
begin
  if jsonb_typeof(fields) is distinct from 'object' then
    raise exception 'fields must be a JSON object' using errcode = '22023';
  end if;
  select string_agg(key, ', ' order by key) into unknown
  from jsonb_object_keys(fields) as key
  where key <> all (allowed);
  if unknown is not null then
    raise exception '% has no writable column %', table_name, unknown using errcode = '22023';
  end if;
end;
$$;
comment on function sync.require_known_fields(text, jsonb, text[]) is 'Raises 22023 when fields names a column the table does not take from devices.';
grant execute on function sync.require_known_fields(text, jsonb, text[]) to authenticated;

-- No row with this local_id: may the item create it? Not if it was deleted by a later edit (lww),
-- or if the device did not see that deletion (cas). Returns the conflict, or null to go ahead.
create or replace function sync.deletion_blocks(table_name text, item jsonb)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  tomb sync.changes;
begin
  -- `offset 0` keeps the lookup on (user_id, table_name, local_id): without it the planner may walk
  -- all of the user's entries in change_txid order to satisfy `order by … limit 1`.
  select t.* into tomb
  from (
    select c.* from sync.changes c
    where c.user_id = (select auth.uid()) and c.table_name = deletion_blocks.table_name
      and c.local_id = item ->> 'local_id' and c.deleted
    offset 0
  ) as t
  order by t.change_txid desc
  limit 1;
  if not found then
    if coalesce(item ->> 'mode', 'lww') = 'cas' and item ->> 'base_version' is not null then
      return sync.conflict(null, null, null);
    end if;
    return null;
  end if;
  if sync.may_overwrite(item, tomb.version, tomb.edited_at, tomb.change_id) then
    return null;
  end if;
  return sync.conflict(tomb.row_id, tomb.version, null);
end;
$$;
comment on function sync.deletion_blocks(text, jsonb) is
  'For an upsert of a local_id with no row: the conflict with its tombstone, or null when the item may create it.';
grant execute on function sync.deletion_blocks(text, jsonb) to authenticated;

-- conversations: title, created_at.
create or replace function sync.apply_conversation(item jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  fields jsonb := coalesce(item -> 'fields', '{}'::jsonb);
  cur public.conversations;
  blocked jsonb;
  new_title text;
  new_created_at timestamptz;
begin
  perform sync.require_known_fields('conversations', fields, array['title', 'created_at']);
  select c.* into cur from public.conversations c
  where c.user_id = (select auth.uid()) and c.local_id = item ->> 'local_id'
  for update;

  if not found then
    if item ->> 'op' = 'delete' then
      return sync.outcome('unchanged', null, null);
    end if;
    blocked := sync.deletion_blocks('conversations', item);
    if blocked is not null then
      return blocked;
    end if;
    insert into public.conversations (local_id, title, created_at)
    values (item ->> 'local_id', fields ->> 'title', coalesce((fields ->> 'created_at')::timestamptz, now()))
    on conflict (user_id, local_id) do nothing
    returning * into cur;
    if not found then
      -- Another transaction created it meanwhile; decide again against its row.
      return sync.apply_conversation(item);
    end if;
    return sync.outcome('applied', cur.id, cur.version);
  end if;

  if item ->> 'op' = 'upsert' then
    new_title := case when fields ? 'title' then fields ->> 'title' else cur.title end;
    new_created_at := case when fields ? 'created_at' then (fields ->> 'created_at')::timestamptz else cur.created_at end;
    if new_title is not distinct from cur.title and new_created_at is not distinct from cur.created_at then
      return sync.outcome('unchanged', cur.id, cur.version);
    end if;
  end if;

  blocked := sync.overwrite_conflict('conversations', item, to_jsonb(cur));
  if blocked is not null then
    return blocked;
  end if;

  if item ->> 'op' = 'delete' then
    delete from public.conversations c where c.id = cur.id;
    return sync.outcome('applied', cur.id, cur.version + 1);
  end if;
  update public.conversations c set title = new_title, created_at = new_created_at
  where c.id = cur.id
  returning * into cur;
  return sync.outcome('applied', cur.id, cur.version);
end;
$$;
comment on function sync.apply_conversation(jsonb) is 'Applies one sync item to conversations (see chapter 11''s rules).';
grant execute on function sync.apply_conversation(jsonb) to authenticated;

-- messages: conversation_id or conversation_local_id, role, content, timestamp, metadata.
create or replace function sync.apply_message(item jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  fields jsonb := coalesce(item -> 'fields', '{}'::jsonb);
  cur public.messages;
  blocked jsonb;
  new_conversation_id uuid;
  new_role text;
  new_content text;
  new_timestamp timestamptz;
  new_metadata jsonb;
begin
  perform sync.require_known_fields('messages', fields,
    array['conversation_id', 'conversation_local_id', 'role', 'content', 'timestamp', 'metadata']);
  select m.* into cur from public.messages m
  where m.user_id = (select auth.uid()) and m.local_id = item ->> 'local_id'
  for update;

  if item ->> 'op' = 'upsert' then
    -- A device that created the conversation offline knows only its local_id.
    if fields ? 'conversation_local_id' then
      select c.id into new_conversation_id from public.conversations c
      where c.user_id = (select auth.uid()) and c.local_id = fields ->> 'conversation_local_id';
      if new_conversation_id is null then
        raise exception 'no conversation has local_id %', fields ->> 'conversation_local_id'
          using errcode = '23503', hint = 'send the conversation before its messages, in the same batch or an earlier one';
      end if;
    elsif fields ? 'conversation_id' then
      new_conversation_id := (fields ->> 'conversation_id')::uuid;
    else
      new_conversation_id := cur.conversation_id;
    end if;
    new_role := case when fields ? 'role' then fields ->> 'role' else cur.role end;
    new_content := case when fields ? 'content' then fields ->> 'content' else cur.content end;
    new_timestamp := case when fields ? 'timestamp' then (fields ->> 'timestamp')::timestamptz else cur."timestamp" end;
    new_metadata := case when fields ? 'metadata' then nullif(fields -> 'metadata', 'null'::jsonb) else cur.metadata end;
  end if;

  if cur.id is null then
    if item ->> 'op' = 'delete' then
      return sync.outcome('unchanged', null, null);
    end if;
    blocked := sync.deletion_blocks('messages', item);
    if blocked is not null then
      return blocked;
    end if;
    insert into public.messages (local_id, conversation_id, role, content, "timestamp", metadata)
    values (item ->> 'local_id', new_conversation_id, new_role, new_content, coalesce(new_timestamp, now()), new_metadata)
    on conflict (user_id, local_id) do nothing
    returning * into cur;
    if not found then
      return sync.apply_message(item);
    end if;
    return sync.outcome('applied', cur.id, cur.version);
  end if;

  if item ->> 'op' = 'upsert'
     and new_conversation_id is not distinct from cur.conversation_id and new_role is not distinct from cur.role
     and new_content is not distinct from cur.content and new_timestamp is not distinct from cur."timestamp"
     and new_metadata is not distinct from cur.metadata then
    return sync.outcome('unchanged', cur.id, cur.version);
  end if;

  blocked := sync.overwrite_conflict('messages', item, to_jsonb(cur));
  if blocked is not null then
    return blocked;
  end if;

  if item ->> 'op' = 'delete' then
    delete from public.messages m where m.id = cur.id;
    return sync.outcome('applied', cur.id, cur.version + 1);
  end if;
  update public.messages m
  set conversation_id = new_conversation_id, role = new_role, content = new_content,
      "timestamp" = new_timestamp, metadata = new_metadata
  where m.id = cur.id
  returning * into cur;
  return sync.outcome('applied', cur.id, cur.version);
end;
$$;
comment on function sync.apply_message(jsonb) is 'Applies one sync item to messages (see chapter 11''s rules).';
grant execute on function sync.apply_message(jsonb) to authenticated;

-- memories: content, context, tag, importance_score, created_at.
create or replace function sync.apply_memory(item jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  fields jsonb := coalesce(item -> 'fields', '{}'::jsonb);
  cur public.memories;
  blocked jsonb;
  new_content text;
  new_context text;
  new_tag text;
  new_score double precision;
  new_created_at timestamptz;
begin
  perform sync.require_known_fields('memories', fields, array['content', 'context', 'tag', 'importance_score', 'created_at']);
  select m.* into cur from public.memories m
  where m.user_id = (select auth.uid()) and m.local_id = item ->> 'local_id'
  for update;

  if not found then
    if item ->> 'op' = 'delete' then
      return sync.outcome('unchanged', null, null);
    end if;
    blocked := sync.deletion_blocks('memories', item);
    if blocked is not null then
      return blocked;
    end if;
    insert into public.memories (local_id, content, context, tag, importance_score, created_at)
    values (item ->> 'local_id', fields ->> 'content', fields ->> 'context', fields ->> 'tag',
            coalesce((fields ->> 'importance_score')::double precision, 1.0),
            coalesce((fields ->> 'created_at')::timestamptz, now()))
    on conflict (user_id, local_id) do nothing
    returning * into cur;
    if not found then
      return sync.apply_memory(item);
    end if;
    return sync.outcome('applied', cur.id, cur.version);
  end if;

  if item ->> 'op' = 'upsert' then
    new_content := case when fields ? 'content' then fields ->> 'content' else cur.content end;
    new_context := case when fields ? 'context' then fields ->> 'context' else cur.context end;
    new_tag := case when fields ? 'tag' then fields ->> 'tag' else cur.tag end;
    new_score := case when fields ? 'importance_score' then (fields ->> 'importance_score')::double precision else cur.importance_score end;
    new_created_at := case when fields ? 'created_at' then (fields ->> 'created_at')::timestamptz else cur.created_at end;
    if new_content is not distinct from cur.content and new_context is not distinct from cur.context
       and new_tag is not distinct from cur.tag and new_score is not distinct from cur.importance_score
       and new_created_at is not distinct from cur.created_at then
      return sync.outcome('unchanged', cur.id, cur.version);
    end if;
  end if;

  blocked := sync.overwrite_conflict('memories', item, to_jsonb(cur));
  if blocked is not null then
    return blocked;
  end if;

  if item ->> 'op' = 'delete' then
    delete from public.memories m where m.id = cur.id;
    return sync.outcome('applied', cur.id, cur.version + 1);
  end if;
  update public.memories m
  set content = new_content, context = new_context, tag = new_tag, importance_score = new_score, created_at = new_created_at
  where m.id = cur.id
  returning * into cur;
  return sync.outcome('applied', cur.id, cur.version);
end;
$$;
comment on function sync.apply_memory(jsonb) is 'Applies one sync item to memories (see chapter 11''s rules).';
grant execute on function sync.apply_memory(jsonb) to authenticated;

-- One item: check its shape, answer a replay from its receipt, else apply it and keep a receipt.
create or replace function sync.apply_change(item jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  uid uuid := (select auth.uid());
  item_table text := item ->> 'table';
  item_change_id uuid;
  receipt sync.receipts;
  result jsonb;
begin
  if jsonb_typeof(item) is distinct from 'object' then
    raise exception 'each item must be a JSON object' using errcode = '22023';
  end if;
  if item_table is null or item_table not in ('conversations', 'messages', 'memories') then
    raise exception 'unknown table %', coalesce(item_table, '(none)') using errcode = '22023';
  end if;
  if item ->> 'op' is null or item ->> 'op' not in ('upsert', 'delete') then
    raise exception 'op must be upsert or delete' using errcode = '22023';
  end if;
  if coalesce(item ->> 'mode', 'lww') not in ('lww', 'cas') then
    raise exception 'mode must be lww or cas' using errcode = '22023';
  end if;
  if item ->> 'local_id' is null or item ->> 'change_id' is null or item ->> 'client_updated_at' is null then
    raise exception 'local_id, change_id and client_updated_at are required' using errcode = '22023';
  end if;
  item_change_id := (item ->> 'change_id')::uuid;
  perform (item ->> 'client_updated_at')::timestamptz, (item ->> 'base_version')::bigint;

  select r.* into receipt from sync.receipts r where r.user_id = uid and r.change_id = item_change_id;
  if found then
    if receipt.table_name <> item_table or receipt.local_id <> item ->> 'local_id' then
      raise exception 'change_id % was already used for another row', item_change_id using errcode = '22023';
    end if;
    return sync.outcome(receipt.status, receipt.row_id, receipt.version);
  end if;

  -- Tells private.log_change and the tombstone triggers whose edit this is (chapter 8).
  perform set_config('virgil.sync_change', jsonb_build_object(
    'table', item_table, 'local_id', item ->> 'local_id', 'change_id', item_change_id,
    'edited_at', (item ->> 'client_updated_at')::timestamptz)::text, true);
  result := case item_table
    when 'conversations' then sync.apply_conversation(item)
    when 'messages' then sync.apply_message(item)
    else sync.apply_memory(item)
  end;
  perform set_config('virgil.sync_change', '', true);

  if result ->> 'status' in ('applied', 'unchanged') then
    insert into sync.receipts (user_id, change_id, table_name, local_id, status, row_id, version)
    values (uid, item_change_id, item_table, item ->> 'local_id', result ->> 'status', (result ->> 'id')::uuid, (result ->> 'version')::bigint)
    on conflict on constraint receipts_pkey do nothing;
    if not found then
      -- The same change was pushed concurrently and applied there first: answer as it was answered.
      select r.* into receipt from sync.receipts r where r.user_id = uid and r.change_id = item_change_id;
      return sync.outcome(receipt.status, receipt.row_id, receipt.version);
    end if;
  end if;
  return result;
end;
$$;
comment on function sync.apply_change(jsonb) is 'Applies one sync item, or answers its replay from the receipt.';
grant execute on function sync.apply_change(jsonb) to authenticated;
