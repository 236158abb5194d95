-- The sync change log holds one entry per row that really exists or was really deleted: an upsert
-- that lands in its update branch logs that update, never the insert it did not make, whichever
-- client wrote it (here the Data API's way: plain SQL as Ada).
begin;
select plan(5);

select tests.create_user('ada');
select tests.authenticate_as('ada');

insert into public.memories (local_id, content) values ('figs', 'Ada likes figs');
insert into public.memories (local_id, content) values ('figs', 'Ada loves figs')
  on conflict (user_id, local_id) do update set content = excluded.content;
insert into public.memories (local_id, content) values ('figs', 'Ada adores figs')
  on conflict (user_id, local_id) do update set content = excluded.content;

select results_eq(
  $$ select count(*)::integer, max(version) from sync.changes where user_id = tests.uid('ada') $$,
  $$ values (1, 3::bigint) $$,
  'three upserts of one memory leave one entry, at the row''s version 3');
select is_empty(
  $$ select 1 from sync.changes c where c.user_id = tests.uid('ada') and not c.deleted
       and not exists (select from public.memories m where m.id = c.row_id) $$,
  'no entry names a row that was never written');
select results_eq(
  $$ select c.row_id from sync.changes c where c.user_id = tests.uid('ada') $$,
  $$ select id from public.memories where local_id = 'figs' $$,
  'the entry is the memory''s own');

delete from public.memories where local_id = 'figs';
select results_eq(
  $$ select deleted, version from sync.changes where user_id = tests.uid('ada') $$,
  $$ values (true, 4::bigint) $$,
  'a delete turns the entry into a tombstone one version later');

insert into public.conversations (id, local_id, title) values ('a1a1a1a1-0000-4000-8000-000000000001', 'c', 'C');
insert into public.messages (conversation_id, local_id, role, content)
values ('a1a1a1a1-0000-4000-8000-000000000001', 'm', 'user', 'hi')
on conflict (user_id, local_id) do nothing;
insert into public.messages (conversation_id, local_id, role, content)
values ('a1a1a1a1-0000-4000-8000-000000000001', 'm', 'user', 'hi again')
on conflict (user_id, local_id) do nothing;
select results_eq(
  $$ select table_name, count(*)::integer from sync.changes
     where user_id = tests.uid('ada') and not deleted group by table_name order by table_name $$,
  $$ values ('conversations', 1), ('messages', 1) $$,
  'an insert skipped by on conflict do nothing logs nothing');

select * from finish();
rollback;
