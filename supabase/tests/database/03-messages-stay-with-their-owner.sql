-- Ada and Ben chat in their own conversations. Ada tries every way into Ben's: reading, counting,
-- editing and deleting his messages, writing into his conversation, moving her message there,
-- reusing his local ids, and watching his message_count move. None of it works or leaves a trace.
begin;
select plan(30);

select tests.create_user('ada');
select tests.create_user('ben');

select tests.authenticate_as('ada');
insert into public.conversations (id, local_id, title) values ('a1a1a1a1-0000-4000-8000-000000000001', 'c1', 'Ada''s trip');
insert into public.messages (id, conversation_id, local_id, role, content) values
  ('a2a2a2a2-0000-4000-8000-000000000001', 'a1a1a1a1-0000-4000-8000-000000000001', 'm1', 'user', 'Lisbon in May?');

select tests.authenticate_as('ben');
insert into public.conversations (id, local_id, title) values ('b1b1b1b1-0000-4000-8000-000000000001', 'c1', 'Ben''s race');
insert into public.messages (id, conversation_id, local_id, role, content) values
  ('b2b2b2b2-0000-4000-8000-000000000001', 'b1b1b1b1-0000-4000-8000-000000000001', 'm1', 'user', 'Race is October 5th'),
  ('b2b2b2b2-0000-4000-8000-000000000002', 'b1b1b1b1-0000-4000-8000-000000000001', 'm2', 'assistant', 'Twelve weeks to go');

-- Ada ---------------------------------------------------------------------------------------------
select tests.authenticate_as('ada');
select tests.rls_applies();

select results_eq($$ select content from public.messages $$, array['Lisbon in May?'],
  'Ada reads her own messages and nothing else');
select is((select count(*)::integer from public.messages where conversation_id = 'b1b1b1b1-0000-4000-8000-000000000001'), 0,
  'Ada counts no messages in Ben''s conversation');
select is_empty($$ select 1 from public.messages where id = 'b2b2b2b2-0000-4000-8000-000000000001' $$,
  'Ada cannot read Ben''s message by its id');
select is_empty($$ update public.messages set content = 'edited by Ada' where user_id = tests.uid('ben') returning 1 $$,
  'Ada cannot edit Ben''s messages');
select is_empty($$ delete from public.messages where user_id = tests.uid('ben') returning 1 $$,
  'Ada cannot delete Ben''s messages');
select throws_ok(
  $$ insert into public.messages (user_id, conversation_id, role, content)
     values (tests.uid('ben'), 'b1b1b1b1-0000-4000-8000-000000000001', 'user', 'in Ben''s name') $$,
  '42501', 'new row violates row-level security policy for table "messages"',
  'Ada cannot write a message in Ben''s name');
select throws_ok(
  $$ update public.messages set user_id = tests.uid('ben') where id = 'a2a2a2a2-0000-4000-8000-000000000001' $$,
  '42501', 'messages.user_id cannot be changed: rows never move between users',
  'Ada cannot hand her message over to Ben');

-- Writing into Ben's conversation: the insert is accepted for now (the reference is checked at
-- commit), must not touch Ben's conversation in the meantime, and fails when the check runs.
select lives_ok(
  $$ insert into public.messages (id, conversation_id, role, content)
     values ('a2a2a2a2-0000-4000-8000-000000000009', 'b1b1b1b1-0000-4000-8000-000000000001', 'user', 'hello Ben') $$,
  'Ada''s insert into Ben''s conversation is held until commit');
select tests.authenticate_as_service_role();
select results_eq(
  $$ select message_count, version from public.conversations where id = 'b1b1b1b1-0000-4000-8000-000000000001' $$,
  $$ values (2, 2::bigint) $$,
  'meanwhile Ben''s message_count, and his conversation row, are untouched');
select tests.authenticate_as('ada');
select throws_ok($$ set constraints messages_conversation_fkey immediate $$, '23503',
  'insert or update on table "messages" violates foreign key constraint "messages_conversation_fkey"',
  'at commit, a message in Ben''s conversation is refused as if the conversation did not exist');

select lives_ok(
  $$ update public.messages set conversation_id = 'b1b1b1b1-0000-4000-8000-000000000001' where id = 'a2a2a2a2-0000-4000-8000-000000000001' $$,
  'Ada''s move of her message into Ben''s conversation is held until commit');
select throws_ok($$ set constraints messages_conversation_fkey immediate $$, '23503',
  'insert or update on table "messages" violates foreign key constraint "messages_conversation_fkey"',
  'at commit, moving a message into Ben''s conversation is refused');
-- Ada takes both back; the check that failed above no longer has anything to refuse.
delete from public.messages where id = 'a2a2a2a2-0000-4000-8000-000000000009';
update public.messages set conversation_id = 'a1a1a1a1-0000-4000-8000-000000000001' where id = 'a2a2a2a2-0000-4000-8000-000000000001';
select lives_ok($$ set constraints messages_conversation_fkey immediate $$,
  'with both undone, every reference is valid again');
set constraints messages_conversation_fkey deferred;

select results_eq(
  $$ insert into public.messages (local_id, conversation_id, role, content)
     values ('m1', 'a1a1a1a1-0000-4000-8000-000000000001', 'user', 'Lisbon in May, or June?')
     on conflict (user_id, local_id) do update set content = excluded.content
     returning user_id, content $$,
  $$ values (tests.uid('ada'), 'Lisbon in May, or June?') $$,
  'an upsert on local_id m1, which Ben also uses, updates Ada''s own message');
select results_eq(
  $$ insert into public.messages (conversation_id, local_id, role, content)
     values ('a1a1a1a1-0000-4000-8000-000000000001', 'm2', 'assistant', 'May is lovely') returning content $$,
  array['May is lovely'], 'Ada can add a message to her own conversation');
select results_eq($$ update public.messages set content = 'May is lovely.' where local_id = 'm2' returning content $$,
  array['May is lovely.'], 'Ada can edit her own message');
select results_eq($$ delete from public.messages where local_id = 'm2' returning content $$,
  array['May is lovely.'], 'Ada can delete her own message');

-- Ben ---------------------------------------------------------------------------------------------
select tests.authenticate_as('ben');
select tests.rls_applies();

select results_eq($$ select content from public.messages order by "timestamp", local_id $$,
  array['Race is October 5th', 'Twelve weeks to go'],
  'Ben''s messages are all there, unchanged, and he sees none of Ada''s');
select results_eq($$ select message_count from public.conversations $$, array[2],
  'Ben''s message_count never moved');
select is_empty($$ select 1 from public.messages where user_id = tests.uid('ada') $$,
  'Ben cannot read Ada''s messages');
select is_empty($$ delete from public.messages where user_id = tests.uid('ada') returning 1 $$,
  'Ben cannot delete Ada''s messages');

-- A visitor with the anon key -----------------------------------------------------------------------
select tests.authenticate_as_anon();
select tests.rls_applies();
select * from tests.anon_is_refused('messages');

-- The server, with the service_role key -----------------------------------------------------------
select tests.authenticate_as_service_role();

select is((select count(*)::integer from public.messages where user_id in (tests.uid('ada'), tests.uid('ben'))), 3,
  'the server sees every message of both users');
select throws_ok(
  $$ update public.messages set user_id = tests.uid('ada') where user_id = tests.uid('ben') $$,
  '42501', 'messages.user_id cannot be changed: rows never move between users',
  'not even the server can move a message to another user');

select * from finish();
rollback;
