-- Every insert, update and delete of Ada's conversations, messages and memories becomes one message
-- on her private topic, in the payload realtime.broadcast_changes builds; Ben's topic never hears of
-- them. The messages are read as the server reads them (its own connection, no RLS).
begin;
select plan(12);

select tests.create_user('ada');
select tests.create_user('ben');

create temporary view ada_topic as
  select event, payload from realtime.messages where topic = 'virgil-sync-' || tests.uid('ada');

select tests.authenticate_as('ada');
insert into public.conversations (id, local_id, title) values ('a1a1a1a1-0000-4000-8000-000000000009', 'c-1', 'Lisbon');
insert into public.messages (id, local_id, conversation_id, role, content)
values ('a2a2a2a2-0000-4000-8000-000000000009', 'm-1', 'a1a1a1a1-0000-4000-8000-000000000009', 'user', 'Hi');
insert into public.memories (id, local_id, content) values ('a3a3a3a3-0000-4000-8000-000000000009', 'mem-1', 'likes tea');
update public.memories set content = 'likes green tea' where id = 'a3a3a3a3-0000-4000-8000-000000000009';
delete from public.memories where id = 'a3a3a3a3-0000-4000-8000-000000000009';
reset role;

select results_eq(
  $$ select event, payload->>'table', payload->>'operation' from ada_topic where payload->>'table' = 'memories' order by array_position(array['INSERT','UPDATE','DELETE'], event) $$,
  $$ values ('INSERT', 'memories', 'INSERT'), ('UPDATE', 'memories', 'UPDATE'), ('DELETE', 'memories', 'DELETE') $$,
  'each change of Ada''s memory is one message on her topic, its event the operation');
select is(
  (select array_agg(distinct payload->>'table' order by payload->>'table') from ada_topic),
  array['conversations', 'memories', 'messages'],
  'all three tables broadcast');
select ok(
  (select bool_and(payload ? 'old_record' and payload ? 'record' and payload ? 'operation' and payload ? 'table'
                   and payload->>'schema' = 'public' and payload ? 'id') from ada_topic),
  'every payload has the platform''s keys: old_record, record, operation, table, schema, id');
select is(
  (select payload->'record'->>'title' from ada_topic where event = 'INSERT' and payload->>'table' = 'conversations'),
  'Lisbon', 'an INSERT carries the new row in record');
select ok(
  (select payload->'old_record' = 'null'::jsonb from ada_topic where event = 'INSERT' and payload->>'table' = 'memories'),
  'an INSERT has old_record null');
select is(
  (select array[payload->'old_record'->>'content', payload->'record'->>'content'] from ada_topic where event = 'UPDATE' and payload->>'table' = 'memories'),
  array['likes tea', 'likes green tea'], 'an UPDATE carries the old and the new row');
select ok(
  (select payload->'record' = 'null'::jsonb and payload->'old_record'->>'id' = 'a3a3a3a3-0000-4000-8000-000000000009'
     from ada_topic where event = 'DELETE'),
  'a DELETE carries the deleted row in old_record and record null');
select is(
  (select count(*)::integer from ada_topic where event = 'UPDATE' and payload->>'table' = 'conversations'),
  1, 'the message count''s bump of the conversation is broadcast too');
select ok(
  (select bool_and(private and extension = 'broadcast') from realtime.messages where topic = 'virgil-sync-' || tests.uid('ada')),
  'the messages are private broadcasts');
select is_empty(
  $$ select 1 from realtime.messages where topic = 'virgil-sync-' || tests.uid('ben') $$,
  'nothing of Ada''s reaches Ben''s topic');

-- Ben's writes go to Ben, even when the service role writes for him.
select tests.authenticate_as_service_role();
insert into public.conversations (user_id, local_id, title) values (tests.uid('ben'), 'c-1', 'Race');
reset role;
select is(
  (select count(*)::integer from realtime.messages where topic = 'virgil-sync-' || tests.uid('ben')),
  1, 'a row the service role writes for Ben goes to Ben''s topic');

-- A writer without any right on realtime.messages still broadcasts (the trigger is the definer's).
select tests.authenticate_as('ben');
update public.conversations set title = 'Marathon' where user_id = tests.uid('ben');
reset role;
select is(
  (select count(*)::integer from realtime.messages where topic = 'virgil-sync-' || tests.uid('ben') and event = 'UPDATE'),
  1, 'Ben''s own update is broadcast to him');

select * from finish();
rollback;
