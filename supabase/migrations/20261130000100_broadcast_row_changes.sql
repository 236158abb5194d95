-- Chapter 15: every change of a person's rows is broadcast to that person's private topic.
--
-- Broadcast from Database is the platform's scalable path to devices: a row trigger writes one
-- message per change into realtime.messages through realtime.broadcast_changes (created by the
-- platform, not by us), and the Realtime server streams it to the topic's subscribers, whose access
-- was decided once, at join, by the policies of the next chapter. Postgres Changes (chapter 7) keeps
-- working beside it.
--
-- The topic is `virgil-sync-<user_id>`: one per person. A row never
-- goes to any other topic, and a row never changes owner (private.stamp_row), so an UPDATE's old
-- and new images always belong to the same person. The event is the operation (INSERT, UPDATE,
-- DELETE) and the payload the platform's own shape: {old_record, record, operation, table, schema, id}.
--
-- Security definer (owned by postgres, which bypasses RLS): the message is written whatever the
-- writer's own rights on realtime.messages, as Supabase's documented trigger does. realtime.send
-- never fails the caller's transaction; a message that cannot be written becomes a WARNING, and the
-- device catches up through sync's pull.

create function private.broadcast_row_change()
  returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
begin
  perform realtime.broadcast_changes(
    'virgil-sync-' || coalesce(new.user_id, old.user_id)::text,
    tg_op, tg_op, tg_table_name, tg_table_schema, new, old
  );
  return null;
end;
$$;

revoke all on function private.broadcast_row_change() from public;

create trigger conversations_broadcast_changes
  after insert or update or delete on public.conversations
  for each row execute function private.broadcast_row_change();

create trigger messages_broadcast_changes
  after insert or update or delete on public.messages
  for each row execute function private.broadcast_row_change();

create trigger memories_broadcast_changes
  after insert or update or delete on public.memories
  for each row execute function private.broadcast_row_change();
