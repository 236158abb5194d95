-- Chapter 14: search_memories, a user's memories ranked for a query, as Generative Agents retrieve.
--
-- Park et al. (2023) rank memories by recency + importance + relevance, each min-max normalised
-- over the candidates, with equal weights. Without an embedding model, relevance here is lexical:
-- the share of the query's words (English stems, stop words dropped) that the memory's content,
-- context or tag contain. Recency decays exponentially with the hours since the memory was last
-- written or reinforced (updated_at), by 0.995 per hour as in the paper (a half-life of ~138 h).
-- Importance is the stored importance_score (the `score-memory` function's model,
-- docs/memory-scoring.md). Runs as the caller: RLS limits the candidates to their own memories.

create or replace function public.search_memories(query text, match_count integer default 10)
returns table (
  id uuid,
  local_id text,
  content text,
  context text,
  tag text,
  importance_score double precision,
  relevance double precision,
  recency double precision,
  score double precision
)
language sql
stable
set search_path = ''
as $$
  with query_words as (
    select coalesce(array(select distinct unnest(tsvector_to_array(to_tsvector('english', coalesce(query, ''))))), '{}') as words
  ),
  candidates as (
    select m.id, m.local_id, m.content, m.context, m.tag, m.importance_score,
      case when cardinality(q.words) = 0 then 0::double precision
        else (select count(*) from unnest(tsvector_to_array(to_tsvector('english',
                m.content || ' ' || coalesce(m.context, '') || ' ' || coalesce(m.tag, '')))) as word
              where word = any (q.words))::double precision / cardinality(q.words)
      end as relevance,
      power(0.995::double precision, extract(epoch from (now() - m.updated_at)) / 3600.0) as recency
    from public.memories m
    cross join query_words q
    where m.user_id = (select auth.uid())
  ),
  -- Min-max normalisation per component over the candidates, as in the paper; a component that is
  -- the same for every candidate cannot tell them apart and counts 0.
  normalised as (
    select c.*,
      coalesce((c.relevance - min(c.relevance) over ()) / nullif(max(c.relevance) over () - min(c.relevance) over (), 0), 0) as n_relevance,
      coalesce((c.importance_score - min(c.importance_score) over ()) / nullif(max(c.importance_score) over () - min(c.importance_score) over (), 0), 0) as n_importance,
      coalesce((c.recency - min(c.recency) over ()) / nullif(max(c.recency) over () - min(c.recency) over (), 0), 0) as n_recency
    from candidates c
  )
  select n.id, n.local_id, n.content, n.context, n.tag, n.importance_score, n.relevance, n.recency,
         (n.n_relevance + n.n_importance + n.n_recency) / 3 as score
  from normalised n
  order by score desc, n.importance_score desc, n.id
  limit greatest(1, least(coalesce(match_count, 10), 100));
$$;
comment on function public.search_memories(text, integer) is
  'The caller''s memories ranked for a query by relevance, importance and recency (Generative Agents'' retrieval score).';
grant execute on function public.search_memories(text, integer) to authenticated;
