-- Chapter 12: sync_push, the entry point, and its set-wise path for a batch that only creates rows.
--
-- Why: devices mostly come back with new rows (messages written offline), and item by item each
-- message insert runs the message_count trigger and bumps its conversation once, so a batch of
-- hundreds of messages in one conversation updates that row hundreds of times in one transaction.
-- When every item of a batch creates a new row, in an order where each message's conversation
-- already exists or comes earlier, the outcome of the item-by-item rules (chapter 11) is known in
-- advance: every item is `applied` at version 1. So the rows are inserted one statement per table,
-- conversations first, and the receipts and change-log edit times written in bulk. Anything else
-- (an existing row, a tombstone, a replay, a duplicate, a bad value, a concurrent insert) makes this
-- return null, having written nothing, and sync_push decides item by item.
--
-- Before either path writes anything, sync_push takes the row locks the batch may contend for, in
-- the lock order written out below (sync.lock_batch_rows).

-- The set-wise path's change-log entries, written in one statement: security definer because no API
-- role may write sync.changes. It records only the caller's own rows, found by the local_ids given,
-- with the transaction's id, as private.log_change would have row by row.
create or replace function sync.record_created_rows(items jsonb)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  uid uuid := (select auth.uid());
begin
  -- Each row is found by its own (user_id, local_id) probe (a lateral join kept apart by `limit 1`,
  -- so the planner cannot flatten it into a scan of all the user's rows), so the unique index is
  -- used whatever the planner believes about how many rows the user has.
  with batch as (
    select e.item ->> 'table' as table_name, e.item ->> 'local_id' as local_id,
           (e.item ->> 'client_updated_at')::timestamptz as edited_at, (e.item ->> 'change_id')::uuid as change_id
    from jsonb_array_elements(items) as e(item)
  ),
  created as (
    select 'conversations' as table_name, t.id, t.user_id, t.local_id, t.version
    from batch b
    cross join lateral (select t.* from public.conversations t where t.user_id = uid and t.local_id = b.local_id limit 1) as t
    where b.table_name = 'conversations'
    union all
    select 'messages', t.id, t.user_id, t.local_id, t.version
    from batch b
    cross join lateral (select t.* from public.messages t where t.user_id = uid and t.local_id = b.local_id limit 1) as t
    where b.table_name = 'messages'
    union all
    select 'memories', t.id, t.user_id, t.local_id, t.version
    from batch b
    cross join lateral (select t.* from public.memories t where t.user_id = uid and t.local_id = b.local_id limit 1) as t
    where b.table_name = 'memories'
  )
  insert into sync.changes as c (table_name, row_id, user_id, local_id, version, change_txid, deleted, edited_at, change_id)
  select r.table_name, r.id, r.user_id, r.local_id, r.version, pg_current_xact_id(), false, b.edited_at, b.change_id
  from created r
  join batch b on b.table_name = r.table_name and b.local_id = r.local_id
  on conflict (table_name, row_id) do update
    set local_id = excluded.local_id, version = excluded.version, change_txid = excluded.change_txid,
        deleted = false, edited_at = excluded.edited_at, change_id = excluded.change_id;
end;
$$;
comment on function sync.record_created_rows(jsonb) is
  'Writes the change-log entries of the rows sync.try_bulk_create just inserted for the caller, with their devices'' edit times.';
grant execute on function sync.record_created_rows(jsonb) to authenticated;

-- The fields the set-wise path writes, per table (messages only by conversation_local_id).
create or replace function sync.bulk_writable_fields(table_name text)
returns text[]
language sql
immutable
set search_path = ''
as $$
  select case table_name
    when 'conversations' then array['title', 'created_at']
    when 'messages' then array['conversation_local_id', 'role', 'content', 'timestamp', 'metadata']
    when 'memories' then array['content', 'context', 'tag', 'importance_score', 'created_at']
    else array[]::text[]
  end;
$$;
comment on function sync.bulk_writable_fields(text) is 'The fields sync.try_bulk_create writes for a table.';
grant execute on function sync.bulk_writable_fields(text) to authenticated;

create or replace function sync.object_or_empty(value jsonb)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select case when jsonb_typeof(value) = 'object' then value else '{}'::jsonb end;
$$;
comment on function sync.object_or_empty(jsonb) is 'The value when it is a JSON object, else {} (so key functions never fail on it).';
grant execute on function sync.object_or_empty(jsonb) to authenticated;

create or replace function sync.try_bulk_create(items jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  uid uuid := (select auth.uid());
  conversation_ids text[];
  message_ids text[];
  memory_ids text[];
  change_ids uuid[];
  named_conversations text[];
  existing_conversations jsonb;
  results jsonb;
begin
  if jsonb_typeof(items) is distinct from 'array' or jsonb_array_length(items) = 0 then
    return null;
  end if;

  -- Any error below (a value that does not cast, a constraint, a concurrent insert) means the batch
  -- needs the item-by-item answer: the subtransaction is undone and null returned. Every lookup is
  -- one probe per key (`unnest(keys) cross join lateral (… where user_id = uid and key = l.key)`),
  -- so the (user_id, key) index is used whatever the planner believes about how many rows the user
  -- has: with `key = any(keys)` it scans all of a new user's rows, whose count it does not know yet.
  begin
    -- Every item must be a well-formed creation the item-by-item rules would apply as is.
    if exists (
      select 1
      from jsonb_array_elements(items) as e(item)
      where jsonb_typeof(e.item) is distinct from 'object'
         or e.item ->> 'op' is distinct from 'upsert'
         or e.item ->> 'table' is null
         or e.item ->> 'table' not in ('conversations', 'messages', 'memories')
         or coalesce(e.item ->> 'mode', 'lww') not in ('lww', 'cas')
         or e.item ->> 'base_version' is not null
         or e.item ->> 'local_id' is null or e.item ->> 'change_id' is null or e.item ->> 'client_updated_at' is null
         or jsonb_typeof(coalesce(e.item -> 'fields', '{}'::jsonb)) is distinct from 'object'
         or exists (
           select 1
           from jsonb_object_keys(sync.object_or_empty(e.item -> 'fields')) as k
           where k <> all (sync.bulk_writable_fields(e.item ->> 'table')))
    ) then
      return null;
    end if;

    select array_agg(e.item ->> 'local_id') filter (where e.item ->> 'table' = 'conversations'),
           array_agg(e.item ->> 'local_id') filter (where e.item ->> 'table' = 'messages'),
           array_agg(e.item ->> 'local_id') filter (where e.item ->> 'table' = 'memories'),
           array_agg((e.item ->> 'change_id')::uuid),
           array_agg(distinct e.item -> 'fields' ->> 'conversation_local_id') filter (where e.item ->> 'table' = 'messages')
    into conversation_ids, message_ids, memory_ids, change_ids, named_conversations
    from jsonb_array_elements(items) as e(item);

    -- No duplicate in the batch, no replay, no row or tombstone already there.
    if (select count(distinct x) from unnest(conversation_ids) x) <> coalesce(cardinality(conversation_ids), 0)
       or (select count(distinct x) from unnest(message_ids) x) <> coalesce(cardinality(message_ids), 0)
       or (select count(distinct x) from unnest(memory_ids) x) <> coalesce(cardinality(memory_ids), 0)
       or (select count(distinct x) from unnest(change_ids) x) <> cardinality(change_ids)
       or exists (select 1 from unnest(change_ids) as l(key)
                  cross join lateral (select 1 from sync.receipts r where r.user_id = uid and r.change_id = l.key limit 1) as f)
       or exists (select 1 from unnest(conversation_ids) as l(key)
                  cross join lateral (select 1 from sync.changes c where c.user_id = uid and c.table_name = 'conversations' and c.local_id = l.key limit 1) as f)
       or exists (select 1 from unnest(message_ids) as l(key)
                  cross join lateral (select 1 from sync.changes c where c.user_id = uid and c.table_name = 'messages' and c.local_id = l.key limit 1) as f)
       or exists (select 1 from unnest(memory_ids) as l(key)
                  cross join lateral (select 1 from sync.changes c where c.user_id = uid and c.table_name = 'memories' and c.local_id = l.key limit 1) as f)
       or exists (select 1 from unnest(conversation_ids) as l(key)
                  cross join lateral (select 1 from public.conversations t where t.user_id = uid and t.local_id = l.key limit 1) as f)
       or exists (select 1 from unnest(message_ids) as l(key)
                  cross join lateral (select 1 from public.messages t where t.user_id = uid and t.local_id = l.key limit 1) as f)
       or exists (select 1 from unnest(memory_ids) as l(key)
                  cross join lateral (select 1 from public.memories t where t.user_id = uid and t.local_id = l.key limit 1) as f)
    then
      return null;
    end if;

    -- Each message names its conversation by a local_id that exists or is created earlier in the batch.
    select coalesce(jsonb_object_agg(t.local_id, t.id), '{}'::jsonb) into existing_conversations
    from unnest(named_conversations) as l(key)
    cross join lateral (select t.local_id, t.id from public.conversations t where t.user_id = uid and t.local_id = l.key limit 1) as t;
    if exists (
      with batch as (
        select e.n, e.item ->> 'table' as table_name, e.item ->> 'local_id' as local_id,
               e.item -> 'fields' ->> 'conversation_local_id' as conversation_local_id
        from jsonb_array_elements(items) with ordinality as e(item, n)
      ),
      created_here as (
        select b.local_id, min(b.n) as n from batch b where b.table_name = 'conversations' group by b.local_id
      )
      select 1
      from batch m
      left join created_here c on c.local_id = m.conversation_local_id
      where m.table_name = 'messages'
        and (m.conversation_local_id is null
             or (c.n is null or c.n > m.n) and not existing_conversations ? m.conversation_local_id)
    ) then
      return null;
    end if;

    -- private.log_change leaves these inserts to sync.record_created_rows (one statement, below).
    perform set_config('virgil.sync_bulk', pg_current_xact_id()::text, true);
    insert into public.conversations (local_id, title, created_at)
    select e.item ->> 'local_id', e.item -> 'fields' ->> 'title',
           coalesce((e.item -> 'fields' ->> 'created_at')::timestamptz, now())
    from jsonb_array_elements(items) with ordinality as e(item, n)
    where e.item ->> 'table' = 'conversations'
    order by e.n;

    select existing_conversations || coalesce(jsonb_object_agg(t.local_id, t.id), '{}'::jsonb) into existing_conversations
    from unnest(conversation_ids) as l(key)
    cross join lateral (select t.local_id, t.id from public.conversations t where t.user_id = uid and t.local_id = l.key limit 1) as t;

    insert into public.messages (local_id, conversation_id, role, content, "timestamp", metadata)
    select e.item ->> 'local_id', (existing_conversations ->> (e.item -> 'fields' ->> 'conversation_local_id'))::uuid,
           e.item -> 'fields' ->> 'role', e.item -> 'fields' ->> 'content',
           coalesce((e.item -> 'fields' ->> 'timestamp')::timestamptz, now()),
           nullif(e.item -> 'fields' -> 'metadata', 'null'::jsonb)
    from jsonb_array_elements(items) with ordinality as e(item, n)
    where e.item ->> 'table' = 'messages'
    order by e.n;

    insert into public.memories (local_id, content, context, tag, importance_score, created_at)
    select e.item ->> 'local_id', e.item -> 'fields' ->> 'content', e.item -> 'fields' ->> 'context',
           e.item -> 'fields' ->> 'tag', coalesce((e.item -> 'fields' ->> 'importance_score')::double precision, 1.0),
           coalesce((e.item -> 'fields' ->> 'created_at')::timestamptz, now())
    from jsonb_array_elements(items) with ordinality as e(item, n)
    where e.item ->> 'table' = 'memories'
    order by e.n;
    perform set_config('virgil.sync_bulk', '', true);

    -- The device's edit time and change id decide later conflicts, as on the item-by-item path.
    perform sync.record_created_rows(items);

    -- Receipts and answers: version 1, the version each item wrote (a conversation's messages bump
    -- it afterwards, as they would item by item).
    with written as (
      select c.table_name, c.local_id, c.row_id
      from unnest(conversation_ids) as l(key)
      cross join lateral (select c.* from sync.changes c where c.user_id = uid and c.table_name = 'conversations' and c.local_id = l.key limit 1) as c
      union all
      select c.table_name, c.local_id, c.row_id
      from unnest(message_ids) as l(key)
      cross join lateral (select c.* from sync.changes c where c.user_id = uid and c.table_name = 'messages' and c.local_id = l.key limit 1) as c
      union all
      select c.table_name, c.local_id, c.row_id
      from unnest(memory_ids) as l(key)
      cross join lateral (select c.* from sync.changes c where c.user_id = uid and c.table_name = 'memories' and c.local_id = l.key limit 1) as c
    ),
    answered as (
      select e.n, (e.item ->> 'change_id')::uuid as change_id, w.table_name, w.local_id, w.row_id
      from jsonb_array_elements(items) with ordinality as e(item, n)
      join written w on w.table_name = e.item ->> 'table' and w.local_id = e.item ->> 'local_id'
    ),
    kept as (
      insert into sync.receipts (user_id, change_id, table_name, local_id, status, row_id, version)
      select uid, a.change_id, a.table_name, a.local_id, 'applied', a.row_id, 1 from answered a
    )
    select jsonb_agg(sync.outcome('applied', a.row_id, 1) order by a.n) into results from answered a;

    if jsonb_array_length(results) is distinct from jsonb_array_length(items) then
      raise exception 'bulk create wrote % of % items', jsonb_array_length(results), jsonb_array_length(items)
        using errcode = '22000';
    end if;
    return results;
  exception
    when integrity_constraint_violation or data_exception or insufficient_privilege then
      return null;
  end;
end;
$$;
comment on function sync.try_bulk_create(jsonb) is
  'Writes a batch that only creates rows set-wise and returns its results, or null (having written nothing) when the batch needs item-by-item rules.';
grant execute on function sync.try_bulk_create(jsonb) to authenticated;

-- Why an item was rejected, as a stable code, from the SQLSTATE that refused it.
create or replace function sync.rejection_reason(sqlstate text)
returns text
language sql
immutable
set search_path = ''
as $$
  select case
    when sqlstate = '23503' then 'reference_not_found'
    when sqlstate = '23505' then 'duplicate'
    when sqlstate = '23514' then 'constraint_violated'
    when sqlstate = '23502' then 'missing_field'
    when sqlstate = '22023' then 'invalid_item'
    when sqlstate = '22001' then 'value_too_long'
    when sqlstate = '42501' then 'not_allowed'
    when sqlstate like '22%' then 'invalid_value'
    else 'rejected'
  end;
$$;
comment on function sync.rejection_reason(text) is 'Maps the SQLSTATE that refused a sync item to the reason code devices see.';
grant execute on function sync.rejection_reason(text) to authenticated;

-- The lock order, so that writers of one conversation queue and never deadlock.
--
-- Why: each message insert's reference check takes FOR KEY SHARE on its conversation's row. A
-- writer that then asked for FOR UPDATE on that row (to move message_count, say) would wait for the
-- KEY SHARE every other writer of the conversation holds, and two such writers would each wait for
-- the other (40P01). Writers of one conversation must queue instead.
--
-- THE LOCK ORDER. Every path that changes messages takes its row locks in this order, and each
-- lock in the weakest mode that does the job:
--
--   1. conversations, in ascending id order:
--        FOR UPDATE            a conversation the transaction edits or deletes itself;
--        FOR NO KEY UPDATE     a conversation whose messages (or message_count) it changes:
--                              what an UPDATE of message_count takes anyway, and compatible with
--                              the FOR KEY SHARE of the message -> conversation reference check,
--                              so a writer holding KEY SHARE is never asked to wait for an upgrade;
--   2. messages, only ever after their conversation (the conversation's lock is what queues two
--      writers of the same conversation's messages);
--   3. memories, in ascending id order;
--   4. bookkeeping rows (sync.changes, sync.receipts, tombstones), written by triggers while the
--      row they describe is locked.
--
-- How each path keeps it:
--   - sync_push, item by item or set-wise (chapters 11 and 12): sync.lock_batch_rows (below) takes
--     1 and 3 for every existing row the batch names, before it writes anything; the per-item
--     `select ... for update` that follows re-locks rows the transaction already holds;
--   - plain inserts, and updates that do not move a message (the Data API, any SQL): the rows are
--     new or are messages only; the counting trigger takes 1 at the end of the statement, in id
--     order, FOR NO KEY UPDATE (private.apply_message_count_deltas, below);
--   - a conversation's delete, and its cascade: the conversation (FOR UPDATE), then its messages;
--   - the one exception PostgreSQL imposes: a plain DELETE of a message, or an UPDATE that moves
--     one, locks that message before any trigger can lock its conversation. It can only meet a
--     writer that wants that very message the other way round (a sync edit of the same message, or
--     the delete of its conversation); PostgreSQL then cancels one of the two (40P01) within
--     deadlock_timeout, and the `sync` function retries a cancelled push (docs/sync-protocol.md).

-- Every row a batch may wait for, locked in the order above before the batch writes anything. Rows
-- are found key by key on (user_id, local_id), like the set-wise path, and only the caller's rows
-- (security invoker, under RLS). Malformed items are skipped here; the batch rejects them later.
create or replace function sync.lock_batch_rows(items jsonb)
returns void
language plpgsql
set search_path = ''
as $$
declare
  uid uuid := (select auth.uid());
  target record;
begin
  if jsonb_typeof(items) is distinct from 'array' then
    return;
  end if;
  for target in
    with batch as (
      select e.item ->> 'table' as table_name, e.item ->> 'local_id' as local_id,
             sync.object_or_empty(e.item -> 'fields') as fields,
             -- not cast when it is no uuid: that item is rejected later, on its own
             case when e.item -> 'fields' ->> 'conversation_id' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                  then (e.item -> 'fields' ->> 'conversation_id')::uuid end as conversation_id
      from jsonb_array_elements(items) as e(item)
      where jsonb_typeof(e.item) = 'object' and e.item ->> 'local_id' is not null
    ),
    wanted as (
      -- The batch's own conversations, to be edited or deleted.
      select c.id, true as exclusive
      from batch b
      cross join lateral (select c.id from public.conversations c where c.user_id = uid and c.local_id = b.local_id limit 1) as c
      where b.table_name = 'conversations'
      union all
      -- Conversations a message is written into, by local_id or by id.
      select c.id, false
      from batch b
      cross join lateral (select c.id from public.conversations c
                          where c.user_id = uid and c.local_id = b.fields ->> 'conversation_local_id' limit 1) as c
      where b.table_name = 'messages' and b.fields ? 'conversation_local_id'
      union all
      select c.id, false
      from batch b
      cross join lateral (select c.id from public.conversations c
                          where c.user_id = uid and c.id = b.conversation_id limit 1) as c
      where b.table_name = 'messages' and b.conversation_id is not null
      union all
      -- Conversations the batch's existing messages are in now (an edit, a move or a delete).
      select m.conversation_id, false
      from batch b
      cross join lateral (select m.conversation_id from public.messages m where m.user_id = uid and m.local_id = b.local_id limit 1) as m
      where b.table_name = 'messages' and m.conversation_id is not null
    )
    select w.id, bool_or(w.exclusive) as exclusive from wanted w group by w.id order by w.id
  loop
    if target.exclusive then
      perform 1 from public.conversations c where c.id = target.id for update;
    else
      perform 1 from public.conversations c where c.id = target.id for no key update;
    end if;
  end loop;

  perform 1
  from public.memories m
  where m.id in (
    select f.id
    from jsonb_array_elements(items) as e(item)
    cross join lateral (select m.id from public.memories m where m.user_id = uid and m.local_id = e.item ->> 'local_id' limit 1) as f
    where jsonb_typeof(e.item) = 'object' and e.item ->> 'table' = 'memories')
  order by m.id
  for update of m;
end;
$$;
comment on function sync.lock_batch_rows(jsonb) is
  'Locks every existing row a sync batch may wait for, in the lock order of chapter 12, before the batch writes.';
grant execute on function sync.lock_batch_rows(jsonb) to authenticated;

create or replace function public.sync_push(items jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  results jsonb[] := array[]::jsonb[];
  bulk jsonb;
  item jsonb;
  result jsonb;
  state text;
  detail text;
  refused_by text;
begin
  if (select auth.uid()) is null then
    raise exception 'sync_push needs a signed-in user' using errcode = '42501';
  end if;
  if jsonb_typeof(items) is distinct from 'array' then
    raise exception 'items must be a JSON array' using errcode = '22023';
  end if;
  -- The message → conversation reference is deferred to commit (chapter 3); here it is checked at
  -- each item, so that an item pointing nowhere is rejected alone instead of failing the batch.
  set constraints public.messages_conversation_fkey immediate;
  -- The lock order (above): every row this batch may contend for, before any write.
  perform sync.lock_batch_rows(items);

  -- A batch that only creates rows is written set-wise (above); otherwise item by item.
  bulk := sync.try_bulk_create(items);
  if bulk is not null then
    return bulk;
  end if;

  for item in select e.value from jsonb_array_elements(items) with ordinality as e(value, n) order by e.n loop
    begin
      result := sync.apply_change(item);
    exception
      when integrity_constraint_violation or data_exception or insufficient_privilege then
        get stacked diagnostics state = returned_sqlstate, detail = message_text, refused_by = constraint_name;
        result := jsonb_build_object('status', 'rejected', 'reason', sync.rejection_reason(state), 'detail', detail)
          || case when refused_by <> '' then jsonb_build_object('constraint', refused_by) else '{}'::jsonb end;
    end;
    results := results || result;
  end loop;
  return to_jsonb(results);
end;
$$;
comment on function public.sync_push(jsonb) is
  'Applies a device''s batch of changes as the calling user; one result per item, in order (applied, unchanged, conflict, rejected).';
grant execute on function public.sync_push(jsonb) to authenticated;
