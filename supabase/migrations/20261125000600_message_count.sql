-- Chapter 6: conversations.message_count, exact under any number of concurrent writers.
--
-- Counts change in one place: a statement-level trigger on messages that adds, per conversation,
-- the rows a statement inserted minus the rows it deleted (a move counts as both). The update is
-- relative (`message_count + delta`) under the conversation's row lock, so concurrent writers queue
-- instead of overwriting each other; locks are taken in id order so two writers touching the same
-- conversations cannot deadlock, and FOR NO KEY UPDATE: the lock an UPDATE of message_count takes
-- anyway, which does not wait for the FOR KEY SHARE that every message insert's reference check
-- holds on its conversation (FOR UPDATE would, and two writers of one conversation would each wait
-- for the other). The lock order every writer keeps is written out in chapter 12. The update
-- matches conversation and user, so no message can change another user's conversation. Bumping the conversation also moves its updated_at and
-- version, which is what tells other devices that the conversation changed.
--
-- The functions are security definer because API roles may not write message_count; they touch
-- only conversations of the users whose messages the statement changed.

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
  'Adds per-conversation message deltas to conversations.message_count, locking rows in id order, FOR NO KEY UPDATE.';

create or replace function private.count_messages()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  deltas jsonb;
begin
  if tg_op = 'INSERT' then
    select jsonb_agg(jsonb_build_object('conversation_id', conversation_id, 'user_id', user_id, 'delta', n))
    into deltas
    from (
      select conversation_id, user_id, count(*) as n
      from new_messages where conversation_id is not null
      group by conversation_id, user_id
    ) counted;
  elsif tg_op = 'DELETE' then
    select jsonb_agg(jsonb_build_object('conversation_id', conversation_id, 'user_id', user_id, 'delta', -n))
    into deltas
    from (
      select conversation_id, user_id, count(*) as n
      from old_messages where conversation_id is not null
      group by conversation_id, user_id
    ) counted;
  else
    -- An update moves a message when its conversation_id changes; unchanged rows cancel out.
    select jsonb_agg(jsonb_build_object('conversation_id', conversation_id, 'user_id', user_id, 'delta', n))
    into deltas
    from (
      select conversation_id, user_id, sum(n) as n
      from (
        select conversation_id, user_id, 1 as n from new_messages where conversation_id is not null
        union all
        select conversation_id, user_id, -1 from old_messages where conversation_id is not null
      ) moves
      group by conversation_id, user_id
      having sum(n) <> 0
    ) counted;
  end if;

  if deltas is not null then
    perform private.apply_message_count_deltas(deltas);
  end if;
  return null;
end;
$$;
comment on function private.count_messages() is
  'After each statement on messages: moves conversations.message_count by what the statement changed.';

create trigger messages_count_inserts
  after insert on public.messages
  referencing new table as new_messages
  for each statement execute function private.count_messages();

create trigger messages_count_deletes
  after delete on public.messages
  referencing old table as old_messages
  for each statement execute function private.count_messages();

create trigger messages_count_moves
  after update on public.messages
  referencing old table as old_messages new table as new_messages
  for each statement execute function private.count_messages();

-- Nobody sets message_count by hand. On insert it starts at the number of the user's messages that
-- already name the conversation (a device may send a message before its conversation); a client may
-- send that number or 0, anything else is refused. On update, only the counting trigger above
-- (which runs one trigger level down) may change it.
create or replace function private.guard_message_count()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  actual integer;
begin
  if tg_op = 'INSERT' then
    -- user_id is compared as text on purpose: it leaves conversation_id as the only indexable
    -- condition, so the count always reads this conversation's own messages through
    -- messages_conversation_timeline_idx. Compared as uuid, a user the planner has no statistics for
    -- gets a plan that reads every message of the user through messages_user_id_updated_at_idx,
    -- once per conversation inserted (500-item sync pushes went from 70 ms to over 1 s).
    select count(*) into actual
    from public.messages m
    where m.conversation_id = new.id and m.user_id::text = new.user_id::text;
    if new.message_count is distinct from 0 and new.message_count is distinct from actual then
      raise exception 'conversations.message_count is kept by the database and cannot be set'
        using errcode = '42501', hint = 'leave message_count out of the insert';
    end if;
    new.message_count := actual;
  elsif new.message_count is distinct from old.message_count and pg_trigger_depth() < 2 then
    raise exception 'conversations.message_count is kept by the database and cannot be set'
      using errcode = '42501', hint = 'leave message_count out of the update';
  end if;
  return new;
end;
$$;
comment on function private.guard_message_count() is
  'Before insert or update on conversations: message_count is computed, never taken from a client.';

create trigger conversations_guard_message_count
  before insert or update on public.conversations
  for each row execute function private.guard_message_count();
