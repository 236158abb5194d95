-- Chapter 12: the lock order, so that writers of one conversation queue and never deadlock.
--
-- Eight devices pushing new messages into one conversation at once deadlocked (40P01): each
-- message insert's reference check takes FOR KEY SHARE on the conversation row, and the counting
-- trigger (chapter 6) then asked for FOR UPDATE on the same row, which conflicts with the KEY SHARE
-- every other writer already held. Two writers each waited for the other to let go.
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
--   - sync_push, item by item or set-wise (chapters 10, 10b): sync.lock_batch_rows (below) takes
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
--     deadlock_timeout, and the `sync` function retries a cancelled push (README "Sync protocol").

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

-- Chapter 6's counter, now FOR NO KEY UPDATE (rule 1): the same row lock an UPDATE of
-- message_count takes, which does not wait for the reference checks' FOR KEY SHARE.
create or replace function private.apply_message_count_deltas(deltas jsonb)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- deltas: [{"conversation_id": uuid, "user_id": uuid, "delta": int}], non-zero deltas only.
  perform 1
  from public.conversations c
  join jsonb_to_recordset(deltas) as d(conversation_id uuid, user_id uuid, delta integer)
    on c.id = d.conversation_id and c.user_id = d.user_id
  order by c.id
  for no key update of c;

  update public.conversations c
  set message_count = c.message_count + d.delta
  from jsonb_to_recordset(deltas) as d(conversation_id uuid, user_id uuid, delta integer)
  where c.id = d.conversation_id and c.user_id = d.user_id;
end;
$$;
comment on function private.apply_message_count_deltas(jsonb) is
  'Adds per-conversation message deltas to conversations.message_count, locking rows in id order, FOR NO KEY UPDATE (chapter 12).';

-- sync_push as in chapter 10b, taking the batch's locks first.
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
  -- The lock order (top of this file): every row this batch may contend for, before any write.
  perform sync.lock_batch_rows(items);

  -- A batch that only creates rows is written set-wise (chapter 10b); otherwise item by item.
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
