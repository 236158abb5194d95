-- Every synced row keeps version and updated_at whatever a client sends, and bad input is refused
-- with the constraint that says why, changing nothing.
begin;
select plan(20);

select tests.create_user('ada');
select tests.authenticate_as('ada');

-- version and updated_at ---------------------------------------------------------------------------
insert into public.memories (local_id, content, version, updated_at)
values ('v', 'Ada likes figs', 41, '1999-01-01');
select results_eq($$ select version, updated_at = now() from public.memories where local_id = 'v' $$,
  $$ values (1::bigint, true) $$, 'a new row starts at version 1, updated now, whatever the client sent');

update public.memories set content = 'Ada loves figs' where local_id = 'v';
update public.memories set tag = 'food', version = 1, updated_at = '1999-01-01' where local_id = 'v';
select results_eq($$ select version, updated_at = now() from public.memories where local_id = 'v' $$,
  $$ values (3::bigint, true) $$, 'each update adds one to version and stamps updated_at, whatever the client sent');

insert into public.conversations (id, local_id, title) values ('a1a1a1a1-0000-4000-8000-000000000001', 'c', 'C');
insert into public.messages (conversation_id, local_id, role, content) values ('a1a1a1a1-0000-4000-8000-000000000001', 'm', 'user', 'hi');
update public.messages set content = 'hi!' where local_id = 'm';
select results_eq($$ select version from public.messages where local_id = 'm' $$, array[2::bigint],
  'messages keep a version too');

-- Bad input --------------------------------------------------------------------------------------
select throws_ok($$ insert into public.messages (role, content) values ('robot', 'beep') $$,
  '23514', 'new row for relation "messages" violates check constraint "messages_role_check"',
  'a message''s role is user, assistant or system');
select throws_ok($$ insert into public.messages (role, content) values ('user', null) $$,
  '23502', null, 'a message has content');
select throws_ok($$ insert into public.messages (role, content) values ('user', repeat('x', 100001)) $$,
  '23514', 'new row for relation "messages" violates check constraint "messages_content_length"',
  'a message holds at most 100,000 characters');
select lives_ok($$ insert into public.messages (role, content) values ('user', repeat('x', 100000)) $$,
  'a message of exactly 100,000 characters is fine');
select throws_ok($$ insert into public.messages (role, content, metadata) values ('user', 'x', '[1, 2]') $$,
  '23514', 'new row for relation "messages" violates check constraint "messages_metadata_is_object"',
  'metadata is a JSON object, not an array');
select throws_ok($$ insert into public.messages (role, content, metadata) values ('user', 'x', '"text"') $$,
  '23514', 'new row for relation "messages" violates check constraint "messages_metadata_is_object"',
  'metadata is a JSON object, not a string');
select throws_ok(
  $$ insert into public.messages (role, content, metadata) values ('user', 'x', jsonb_build_object('blob', repeat('x', 70000))) $$,
  '23514', 'new row for relation "messages" violates check constraint "messages_metadata_size"',
  'metadata is at most 64 KiB');
select throws_ok($$ insert into public.messages (role, content, local_id) values ('user', 'x', '') $$,
  '23514', 'new row for relation "messages" violates check constraint "messages_local_id_length"',
  'a local_id is never empty');
select throws_ok($$ insert into public.memories (content, importance_score) values ('x', 1.01) $$,
  '23514', 'new row for relation "memories" violates check constraint "memories_importance_score_range"',
  'importance_score is at most 1');
select throws_ok($$ insert into public.memories (content, importance_score) values ('x', -0.01) $$,
  '23514', 'new row for relation "memories" violates check constraint "memories_importance_score_range"',
  'importance_score is at least 0');
select throws_ok($$ insert into public.memories (content) values ('') $$,
  '23514', 'new row for relation "memories" violates check constraint "memories_content_length"',
  'a memory says something');
select throws_ok($$ insert into public.memories (content, tag) values ('x', repeat('t', 65)) $$,
  '23514', 'new row for relation "memories" violates check constraint "memories_tag_length"',
  'a tag is at most 64 characters');
select throws_ok($$ insert into public.conversations (title) values (repeat('t', 501)) $$,
  '23514', 'new row for relation "conversations" violates check constraint "conversations_title_length"',
  'a title is at most 500 characters');
select throws_ok($$ insert into public.conversations (local_id, title) values ('c', 'again') $$,
  '23505', 'duplicate key value violates unique constraint "conversations_user_id_local_id_key"',
  'a device''s local_id names one conversation per user');

select is((select count(*)::integer from public.messages), 2,
  'of all those inserts, only the valid ones left a row');

select tests.authenticate_as_service_role();
select throws_ok($$ insert into public.memories (content) values ('whose?') $$,
  '23502', null, 'the server must name the user: no token, no default owner');
select lives_ok($$ insert into public.memories (user_id, content) values (tests.uid('ada'), 'Ada said hello') $$,
  'the server may write on a user''s behalf when it names the user');

select * from finish();
rollback;
