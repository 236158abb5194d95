-- What Virgil remembers about Ada is Ada's alone: Ben cannot read, count, change, forge or delete
-- it, nor learn from an upsert that it exists; a visitor gets nothing; the server sees all.
begin;
select plan(21);

select tests.create_user('ada');
select tests.create_user('ben');

select tests.authenticate_as('ada');
insert into public.memories (local_id, content, tag, importance_score)
values ('mem-1', 'Ada is vegetarian', 'preference', 0.9);

select tests.authenticate_as('ben');
insert into public.memories (local_id, content, tag) values ('mem-2', 'Ben runs four days a week', 'habit');

-- Ben ---------------------------------------------------------------------------------------------
select tests.authenticate_as('ben');
select tests.rls_applies();

select results_eq($$ select content from public.memories $$, array['Ben runs four days a week'],
  'Ben sees his own memory and nothing of Ada''s');
select is((select count(*)::integer from public.memories where tag = 'preference'), 0,
  'Ben cannot count Ada''s memories by tag');
select is_empty($$ update public.memories set importance_score = 0 where user_id = tests.uid('ada') returning 1 $$,
  'Ben cannot down-rank Ada''s memories');
select is_empty($$ delete from public.memories where user_id = tests.uid('ada') returning 1 $$,
  'Ben cannot delete Ada''s memories');
select throws_ok(
  $$ insert into public.memories (user_id, content) values (tests.uid('ada'), 'Ada hates Lisbon') $$,
  '42501', 'new row violates row-level security policy for table "memories"',
  'Ben cannot plant a memory in Ada''s name');
select results_eq(
  $$ insert into public.memories (local_id, content) values ('mem-1', 'Ben''s own first memory')
     on conflict (user_id, local_id) do update set content = excluded.content
     returning user_id, content, version $$,
  $$ values (tests.uid('ben'), 'Ben''s own first memory', 1::bigint) $$,
  'an upsert on Ada''s local_id creates Ben''s own memory: it neither collides with nor reveals hers');
select throws_ok(
  $$ update public.memories set user_id = tests.uid('ada') where local_id = 'mem-2' $$,
  '42501', 'memories.user_id cannot be changed: rows never move between users',
  'Ben cannot push his memory onto Ada');

-- Ada ---------------------------------------------------------------------------------------------
select tests.authenticate_as('ada');
select tests.rls_applies();

select results_eq($$ select content, importance_score from public.memories $$,
  $$ values ('Ada is vegetarian', 0.9::double precision) $$,
  'Ada''s memory is exactly as she left it');
select results_eq($$ update public.memories set tag = 'diet' where local_id = 'mem-1' returning tag $$,
  array['diet'], 'Ada can edit her own memory');
select results_eq($$ delete from public.memories where local_id = 'mem-1' returning content $$,
  array['Ada is vegetarian'], 'Ada can delete her own memory');
select results_eq($$ insert into public.memories (content) values ('Ada bakes sourdough') returning user_id $$,
  $$ values (tests.uid('ada')) $$, 'Ada can mark a new memory, owned by her without naming herself');

-- A visitor with the anon key -----------------------------------------------------------------------
select tests.authenticate_as_anon();
select tests.rls_applies();
select * from tests.anon_is_refused('memories');

-- The server, with the service_role key -----------------------------------------------------------
select tests.authenticate_as_service_role();

select is((select count(*)::integer from public.memories where user_id in (tests.uid('ada'), tests.uid('ben'))), 3,
  'the server sees the memories of both users');
select results_eq(
  $$ update public.memories set importance_score = 0.4 where user_id = tests.uid('ben') and local_id = 'mem-2' returning importance_score $$,
  array[0.4::double precision], 'the server may re-score any memory');
select throws_ok(
  $$ update public.memories set user_id = tests.uid('ben') where user_id = tests.uid('ada') $$,
  '42501', 'memories.user_id cannot be changed: rows never move between users',
  'not even the server can move a memory to another user');

select * from finish();
rollback;
