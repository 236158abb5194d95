-- conversations.message_count follows every insert, delete and move of messages, in single rows
-- and in bulk, even when a device sends a message before its conversation; nobody can set it by
-- hand. (Many concurrent writers: supabase/tests/integration/database/message-count-concurrency.test.ts.)
begin;
select plan(17);

select tests.create_user('ada');
select tests.authenticate_as('ada');
insert into public.conversations (id, local_id, title) values
  ('a1a1a1a1-0000-4000-8000-000000000001', 'trip', 'Trip'),
  ('a1a1a1a1-0000-4000-8000-000000000002', 'bread', 'Bread');

create temporary view counts as
  select local_id, message_count from public.conversations order by local_id;
grant select on counts to authenticated;

insert into public.messages (conversation_id, local_id, role, content) values
  ('a1a1a1a1-0000-4000-8000-000000000001', 'm1', 'user', 'one'),
  ('a1a1a1a1-0000-4000-8000-000000000001', 'm2', 'assistant', 'two'),
  ('a1a1a1a1-0000-4000-8000-000000000001', 'm3', 'user', 'three');
select results_eq($$ select * from counts $$, $$ values ('bread', 0), ('trip', 3) $$,
  'three messages inserted in one statement count three');

insert into public.messages (conversation_id, local_id, role, content) values
  ('a1a1a1a1-0000-4000-8000-000000000002', 'm4', 'user', 'four');
select results_eq($$ select * from counts $$, $$ values ('bread', 1), ('trip', 3) $$,
  'a single insert counts one, in its own conversation only');

insert into public.messages (conversation_id, local_id, role, content) values
  (null, 'loose', 'system', 'a message outside any conversation');
select results_eq($$ select * from counts $$, $$ values ('bread', 1), ('trip', 3) $$,
  'a message without a conversation counts nowhere');

delete from public.messages where local_id in ('m1', 'm2');
select results_eq($$ select * from counts $$, $$ values ('bread', 1), ('trip', 1) $$,
  'deleting two messages takes two off');

update public.messages set conversation_id = 'a1a1a1a1-0000-4000-8000-000000000002' where local_id = 'm3';
select results_eq($$ select * from counts $$, $$ values ('bread', 2), ('trip', 0) $$,
  'moving a message takes it off one conversation and adds it to the other');

update public.messages set conversation_id = 'a1a1a1a1-0000-4000-8000-000000000001' where local_id in ('m3', 'm4', 'loose');
select results_eq($$ select * from counts $$, $$ values ('bread', 0), ('trip', 3) $$,
  'a bulk move, including a message that had no conversation, keeps both counts exact');

update public.messages set content = 'edited' where local_id = 'm3';
select results_eq($$ select * from counts $$, $$ values ('bread', 0), ('trip', 3) $$,
  'editing a message without moving it changes no count');

-- The conversation row itself moves with its count, which is how other devices hear of it.
select results_eq(
  $$ select version from public.conversations where local_id = 'trip' $$, array[5::bigint],
  'each statement that changed trip''s count bumped its version once (1 + 4 statements)');

-- A device that was offline sends the message first and the conversation after, in one transaction.
insert into public.messages (conversation_id, local_id, role, content) values
  ('a1a1a1a1-0000-4000-8000-000000000003', 'early-1', 'user', 'written offline'),
  ('a1a1a1a1-0000-4000-8000-000000000003', 'early-2', 'assistant', 'answered offline');
insert into public.conversations (id, local_id, title) values ('a1a1a1a1-0000-4000-8000-000000000003', 'offline', 'Offline');
select results_eq($$ select message_count from public.conversations where local_id = 'offline' $$, array[2],
  'a conversation created after its messages starts with their count');
select lives_ok($$ set constraints messages_conversation_fkey immediate $$,
  'and those messages'' references are valid once it exists');
set constraints messages_conversation_fkey deferred;

select lives_ok(
  $$ insert into public.conversations (local_id, title, message_count) values ('explicit-zero', 'Zero', 0) $$,
  'a client may send message_count 0 for a new conversation');
select throws_ok(
  $$ insert into public.conversations (local_id, title, message_count) values ('forged', 'Forged', 41) $$,
  '42501', 'conversations.message_count is kept by the database and cannot be set',
  'a client cannot create a conversation with a made-up count');
select throws_ok(
  $$ update public.conversations set message_count = message_count + 1 where local_id = 'trip' $$,
  '42501', 'conversations.message_count is kept by the database and cannot be set',
  'a client cannot bump a count by hand');
select lives_ok(
  $$ update public.conversations set title = 'Trip!', message_count = 3 where local_id = 'trip' $$,
  'an update that repeats the current count (a full-row upsert) is accepted');

select tests.authenticate_as_service_role();
select throws_ok(
  $$ update public.conversations set message_count = 0 where local_id = 'trip' $$,
  '42501', 'conversations.message_count is kept by the database and cannot be set',
  'not even the server sets a count by hand');

-- Deleting a conversation takes its messages with it.
select tests.authenticate_as('ada');
delete from public.conversations where local_id = 'trip';
select is((select count(*)::integer from public.messages where local_id in ('m3', 'm4', 'loose')), 0,
  'deleting a conversation deletes its messages');

-- updated_at follows too: backdate the row (as its owner, bypassing the stamp), then add a message.
reset role;
alter table public.conversations disable trigger conversations_stamp_row;
update public.conversations set updated_at = '2001-01-01' where local_id = 'bread';
alter table public.conversations enable trigger conversations_stamp_row;
select tests.authenticate_as('ada');
insert into public.messages (conversation_id, local_id, role, content) values
  ('a1a1a1a1-0000-4000-8000-000000000002', 'm9', 'user', 'fresh');
select is((select updated_at from public.conversations where local_id = 'bread'), now(),
  'adding a message moves its conversation''s updated_at to now');

select * from finish();
rollback;
