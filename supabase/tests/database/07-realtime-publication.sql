-- Realtime hears about the three synced tables, with whole old rows on update and delete.
begin;
select plan(5);

select is((select pg_get_userbyid(pubowner)::text from pg_publication where pubname = 'supabase_realtime'), 'postgres',
  'the supabase_realtime publication exists, owned by postgres as on the platform');
select bag_has(
  $$ select tablename::text from pg_publication_tables where pubname = 'supabase_realtime' and schemaname = 'public' $$,
  $$ values ('conversations'), ('messages'), ('memories') $$,
  'conversations, messages and memories are published to realtime');
select results_eq(
  $$ select pubinsert, pubupdate, pubdelete from pg_publication where pubname = 'supabase_realtime' $$,
  $$ values (true, true, true) $$,
  'inserts, updates and deletes are all published');
select is(
  (select array_agg(c.relname::text order by c.relname) from pg_class c
    where c.oid in ('public.conversations'::regclass, 'public.messages'::regclass, 'public.memories'::regclass)
      and c.relreplident = 'f'),
  array['conversations', 'memories', 'messages'],
  'the three tables log whole old rows (replica identity full), so filtered subscriptions receive deletes');
select is(
  (select count(*)::integer from pg_publication_tables p
     join pg_class c on c.relname = p.tablename
     join pg_namespace n on n.oid = c.relnamespace and n.nspname = p.schemaname
    where p.pubname = 'supabase_realtime' and not c.relrowsecurity),
  0,
  'every published table has row level security enabled');

select * from finish();
rollback;
