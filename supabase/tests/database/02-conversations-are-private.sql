-- Ada and Ben each keep conversations. Neither can see, count, change, delete, forge or take over
-- the other's; a visitor with the anon key gets nothing; the server (service_role) sees both.
begin;
select plan(28);

select tests.create_user('ada');
select tests.create_user('ben');

select tests.authenticate_as('ada');
insert into public.conversations (id, local_id, title)
values ('a1a1a1a1-0000-4000-8000-000000000001', 'shared-device-id', 'Ada''s trip');
select tests.authenticate_as('ben');
insert into public.conversations (id, local_id, title)
values ('b1b1b1b1-0000-4000-8000-000000000001', 'shared-device-id', 'Ben''s race');

-- Ada ---------------------------------------------------------------------------------------------
select tests.authenticate_as('ada');
select tests.rls_applies();

select results_eq($$ select title from public.conversations $$, array['Ada''s trip'],
  'Ada sees her own conversation and nothing else');
select is((select count(*)::integer from public.conversations), 1, 'Ada counts only her own conversations');
select is_empty($$ select 1 from public.conversations where id = 'b1b1b1b1-0000-4000-8000-000000000001' $$,
  'Ada cannot read Ben''s conversation even by its id');
select is_empty($$ select 1 from public.conversations where user_id = tests.uid('ben') $$,
  'Ada cannot read Ben''s conversations by filtering on his user_id');
select is_empty($$ update public.conversations set title = 'mine now' where id = 'b1b1b1b1-0000-4000-8000-000000000001' returning 1 $$,
  'Ada cannot edit Ben''s conversation');
select is_empty($$ delete from public.conversations where id = 'b1b1b1b1-0000-4000-8000-000000000001' returning 1 $$,
  'Ada cannot delete Ben''s conversation');
select throws_ok(
  $$ insert into public.conversations (user_id, local_id, title) values (tests.uid('ben'), 'forged', 'in Ben''s name') $$,
  '42501', 'new row violates row-level security policy for table "conversations"',
  'Ada cannot create a conversation in Ben''s name');
select throws_ok(
  $$ update public.conversations set user_id = tests.uid('ben') where id = 'a1a1a1a1-0000-4000-8000-000000000001' $$,
  '42501', 'conversations.user_id cannot be changed: rows never move between users',
  'Ada cannot hand her conversation over to Ben');
select results_eq(
  $$ insert into public.conversations (local_id, title) values ('shared-device-id', 'Ada again')
     on conflict (user_id, local_id) do update set title = excluded.title
     returning user_id, title $$,
  $$ values (tests.uid('ada'), 'Ada again') $$,
  'an upsert on the local_id Ben also uses lands on Ada''s own row');
select throws_ok(
  $$ update public.conversations set message_count = 99 where id = 'a1a1a1a1-0000-4000-8000-000000000001' $$,
  '42501', 'conversations.message_count is kept by the database and cannot be set',
  'Ada cannot set her message_count by hand');

select results_eq(
  $$ update public.conversations set title = 'Ada''s trip to Lisbon' where id = 'a1a1a1a1-0000-4000-8000-000000000001' returning title $$,
  array['Ada''s trip to Lisbon'], 'Ada can edit her own conversation');
select lives_ok(
  $$ insert into public.conversations (local_id, title) values ('ada-second', 'Ada''s recipes') $$,
  'Ada can create a conversation of her own, user_id filled in from her token');
select is((select user_id from public.conversations where local_id = 'ada-second'), tests.uid('ada'),
  'the new conversation belongs to Ada without her naming herself');
select results_eq($$ delete from public.conversations where local_id = 'ada-second' returning title $$,
  array['Ada''s recipes'], 'Ada can delete her own conversation');

-- Ben ---------------------------------------------------------------------------------------------
select tests.authenticate_as('ben');
select tests.rls_applies();

select results_eq($$ select title from public.conversations $$, array['Ben''s race'],
  'Ben sees his own conversation, unchanged by everything Ada tried');
select is_empty($$ select 1 from public.conversations where user_id = tests.uid('ada') $$,
  'Ben cannot read Ada''s conversations');
select is_empty($$ update public.conversations set title = 'x' where user_id = tests.uid('ada') returning 1 $$,
  'Ben cannot edit Ada''s conversations');

-- A visitor with the anon key -----------------------------------------------------------------------
select tests.authenticate_as_anon();
select tests.rls_applies();
select * from tests.anon_is_refused('conversations');

-- The server, with the service_role key -----------------------------------------------------------
select tests.authenticate_as_service_role();

select is((select count(*)::integer from public.conversations where user_id in (tests.uid('ada'), tests.uid('ben'))), 2,
  'the server sees both users'' conversations');
select results_eq(
  $$ update public.conversations set title = 'Ben''s half marathon' where id = 'b1b1b1b1-0000-4000-8000-000000000001' returning title $$,
  array['Ben''s half marathon'], 'the server may edit any conversation');
select throws_ok(
  $$ update public.conversations set user_id = tests.uid('ada') where id = 'b1b1b1b1-0000-4000-8000-000000000001' $$,
  '42501', 'conversations.user_id cannot be changed: rows never move between users',
  'not even the server can move a conversation to another user');
select throws_ok(
  $$ insert into public.conversations (title) values ('nobody''s') $$,
  '23502', null, 'a conversation always has an owner: without a signed-in user, user_id must be given');

select * from finish();
rollback;
