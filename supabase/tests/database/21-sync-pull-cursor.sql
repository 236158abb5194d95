-- sync_pull answers, as the caller, the rows written by transactions its cursor's snapshot could
-- not see, in pages that neither repeat nor skip; tombstones only once a device has a cursor.
-- The seed's rows were committed before this file runs, so they are what there is to pull; the
-- out-of-order commit case needs two sessions and is proven in the functions' integration tests.
begin;
select plan(12);

-- Ada of the seed (and whatever was added to her since the last reset) ---------------------------
create temporary table ada_rows on commit drop as
select (select count(*) from public.conversations where user_id = 'a0a0a0a0-0000-4000-8000-000000000001')
     + (select count(*) from public.messages where user_id = 'a0a0a0a0-0000-4000-8000-000000000001')
     + (select count(*) from public.memories where user_id = 'a0a0a0a0-0000-4000-8000-000000000001') as n;
grant select on ada_rows to authenticated;
select set_config('role', 'authenticated', true);
select set_config('request.jwt.claims', '{"role": "authenticated", "sub": "a0a0a0a0-0000-4000-8000-000000000001"}', true);
select tests.rls_applies();

select is(jsonb_array_length(public.sync_pull(null, 1000) -> 'changes'), (select n::integer from ada_rows),
  'a first pull holds every row of the caller''s, and only theirs');
select is(public.sync_pull(null, 1000) ->> 'has_more', 'false', 'in one page when it fits');
select is(
  (select count(*)::integer from jsonb_array_elements(public.sync_pull(null, 1000) -> 'changes') c
    where c -> 'row' ->> 'user_id' <> 'a0a0a0a0-0000-4000-8000-000000000001'),
  0, 'no row of another user is in it');

create temporary table pages on commit drop as
with recursive walk(n, page) as (
  select 1, public.sync_pull(null, 3)
  union all
  select n + 1, public.sync_pull(page -> 'cursor', 3) from walk where (page ->> 'has_more')::boolean
)
select n, page from walk;
select is((select count(*)::integer from pages), (select ceil(n / 3.0)::integer from ada_rows), 'three rows a page');
select is(
  (select count(distinct c ->> 'id')::integer from pages, jsonb_array_elements(page -> 'changes') c), (select n::integer from ada_rows),
  'the pages hold every row exactly once between them');
select is(
  (select count(*)::integer from pages, jsonb_array_elements(page -> 'changes') c), (select n::integer from ada_rows),
  'and nothing twice');
select is(
  jsonb_array_length(public.sync_pull((select page -> 'cursor' from pages order by n desc limit 1), 1000) -> 'changes'), 0,
  'the last page''s cursor has nothing new behind it');
select ok((select page -> 'cursor' ? 'since' and not page -> 'cursor' ? 'after' from pages order by n desc limit 1),
  'the last cursor is a plain snapshot, the others carry their place in the pull');

select throws_ok($$ select public.sync_pull('{"since": "not a snapshot"}', 10) $$, '22P02', null,
  'a cursor that is not a snapshot is refused');
select throws_ok($$ select public.sync_pull(null, 0) $$, '22023', 'max_changes must be from 1 to 10000',
  'the page size is bounded');

select tests.authenticate_as_anon();
select throws_ok($$ select public.sync_pull(null, 10) $$, '42501', 'permission denied for function sync_pull',
  'a visitor cannot pull');

select * from finish();
rollback;
