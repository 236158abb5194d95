-- Chapter 7: publish the three tables to Supabase Realtime.
--
-- The platform creates `supabase_realtime` empty; a database that lacks it (a plain Postgres) gets
-- the same empty publication first.
--
-- Replica identity FULL: a DELETE then carries the old row's user_id, so a subscription filtered on
-- `user_id=eq.<me>` does receive its own deletes (with the default identity a DELETE carries only
-- the primary key, and such a filter can never match). The platform's Realtime applies no RLS to
-- DELETE events; with FULL identity on an RLS table it still sends only the primary key of a
-- deleted row, so an unfiltered subscriber learns at most a random uuid, never content. (The local
-- realtime server goes further: with the whole old row at hand it sends a DELETE only to those who
-- could have read the row.) The cost is that updates and deletes log the whole old row, which for
-- chat rows is small.

do $$
begin
  if not exists (select from pg_catalog.pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end;
$$;

alter table public.conversations replica identity full;
alter table public.messages replica identity full;
alter table public.memories replica identity full;

alter publication supabase_realtime add table public.conversations, public.messages, public.memories;
