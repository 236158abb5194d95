-- search_memories ranks the caller's own memories by relevance, importance and recency, each
-- min-max normalised as in Generative Agents; nobody else's memory is ever a candidate.
begin;
select plan(8);

select tests.create_user('ada');
select tests.create_user('ben');

select tests.authenticate_as('ben');
insert into public.memories (local_id, content, importance_score) values ('b', 'Ben is vegetarian too', 1.0);

select tests.authenticate_as('ada');
insert into public.memories (local_id, content, tag, importance_score) values
  ('veg', 'Ada is vegetarian', 'preference', 0.5),
  ('trip', 'Ada travels to Lisbon in May', 'plan', 0.9),
  ('bread', 'Ada bakes sourdough bread', 'hobby', 0.2);
-- Old news: last touched a month ago (stamp_row sets updated_at, so this is done as the owner,
-- past the trigger).
reset role;
alter table public.memories disable trigger memories_stamp_row;
update public.memories set updated_at = now() - interval '30 days' where local_id = 'bread';
alter table public.memories enable trigger memories_stamp_row;
select tests.authenticate_as('ada');

select tests.rls_applies();
select results_eq($$ select local_id from public.search_memories('is she vegetarian', 10) limit 1 $$, array['veg'],
  'the relevant memory comes first, ahead of a more important one');
select results_eq($$ select local_id from public.search_memories('Lisbon trip', 10) limit 1 $$, array['trip'],
  'another query, another first');
select results_eq($$ select local_id from public.search_memories('', 10) $$, array['trip', 'veg', 'bread'],
  'without a query: importance and recency decide');
select is((select count(*)::integer from public.search_memories('vegetarian', 10) where local_id = 'b'), 0,
  'Ben''s memory is never a candidate for Ada');
select ok((select bool_and(score between 0 and 1 and relevance between 0 and 1 and recency > 0 and recency <= 1)
           from public.search_memories('vegetarian bread', 10)),
  'every score and component lies in [0, 1]');
select ok((select recency < 0.1 from public.search_memories('', 10) where local_id = 'bread'),
  'a month-old memory has decayed (0.995 per hour)');

select tests.authenticate_as_anon();
select throws_ok($$ select * from public.search_memories('x', 1) $$, '42501', 'permission denied for function search_memories',
  'a visitor cannot search');

select * from finish();
rollback;
