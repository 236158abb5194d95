-- Chapter 13: the message_count guard (chapter 6), with a plan that does not depend on statistics.
--
-- Why: on insert, private.guard_message_count counts the messages that already name the new
-- conversation, by (conversation_id, user_id). For a user the planner has no statistics for yet (a
-- new user, or any user outside the most-common-values list), it estimates that the user has a
-- handful of rows and reads the count through messages_user_id_updated_at_idx, filtering every
-- message of the user: each conversation insert then costs O(the user's messages). A device that
-- syncs 50 new conversations for a user with thousands of messages paid for that 50 times
-- (`npm run bench:sync` showed 500-item pushes slowing from 70 ms to over 1 s within one run).
-- Comparing user_id as text leaves conversation_id as the only indexable condition, so the count
-- always reads the conversation's own messages through messages_conversation_timeline_idx. The
-- behaviour is exactly chapter 6's; only the plan changes.

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
