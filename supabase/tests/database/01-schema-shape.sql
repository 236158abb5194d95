-- The shape of the schema: tables, columns, keys, constraints, indexes, row level security,
-- privileges and triggers, as the migrations promise them.
begin;
select plan(63);

-- Tables and columns ------------------------------------------------------------------------------
select has_table('public', t, format('table %s exists', t))
  from unnest(array['conversations', 'messages', 'memories']) as t;

select columns_are('public', 'conversations',
  array['id', 'user_id', 'local_id', 'title', 'message_count', 'created_at', 'updated_at', 'version'],
  'conversations has the seed''s columns plus updated_at and version');
select columns_are('public', 'messages',
  array['id', 'user_id', 'conversation_id', 'local_id', 'role', 'content', 'timestamp', 'metadata', 'updated_at', 'version'],
  'messages has the seed''s columns plus updated_at and version');
select columns_are('public', 'memories',
  array['id', 'user_id', 'local_id', 'content', 'context', 'importance_score', 'tag', 'created_at', 'updated_at', 'version'],
  'memories has the seed''s columns plus updated_at and version');

select col_not_null('public', t, 'user_id', format('%s.user_id is not null', t))
  from unnest(array['conversations', 'messages', 'memories']) as t;
select col_default_is('public', t, 'user_id', 'auth.uid()', format('%s.user_id defaults to auth.uid()', t))
  from unnest(array['conversations', 'messages', 'memories']) as t;
select col_type_is('public', t, 'version', 'bigint', format('%s.version is a bigint', t))
  from unnest(array['conversations', 'messages', 'memories']) as t;
select col_not_null('public', t, 'updated_at', format('%s.updated_at is not null', t))
  from unnest(array['conversations', 'messages', 'memories']) as t;
select col_type_is('public', 'memories', 'importance_score', 'double precision', 'importance_score is a float');
select col_type_is('public', 'messages', 'metadata', 'jsonb', 'metadata is jsonb');
select col_not_null('public', 'conversations', 'message_count', 'message_count is not null');

-- Keys and references -----------------------------------------------------------------------------
select col_is_pk('public', t, 'id', format('%s is keyed by id', t))
  from unnest(array['conversations', 'messages', 'memories']) as t;
select col_is_unique('public', t, array['user_id', 'local_id'], format('%s.local_id is unique per user', t))
  from unnest(array['conversations', 'messages', 'memories']) as t;
select fk_ok('public', t, 'user_id', 'auth', 'users', 'id', format('%s.user_id references auth.users', t))
  from unnest(array['conversations', 'messages', 'memories']) as t;
select fk_ok('public', 'messages', array['conversation_id', 'user_id'], 'public', 'conversations', array['id', 'user_id'],
  'a message references the pair (conversation, user), so never another user''s conversation');
select is(
  (select array[condeferrable, condeferred]::text from pg_constraint where conname = 'messages_conversation_fkey'),
  '{t,t}',
  'the message → conversation reference is checked at commit, so a message may precede its conversation');

-- Constraints -------------------------------------------------------------------------------------
select has_check('public', t, format('%s has check constraints', t))
  from unnest(array['conversations', 'messages', 'memories']) as t;
select is(
  (select array_agg(conname order by conname)::text[] from pg_constraint
    where conrelid = 'public.messages'::regclass and contype = 'c'),
  array['messages_content_length', 'messages_local_id_length', 'messages_metadata_is_object',
        'messages_metadata_size', 'messages_role_check'],
  'messages bounds role, content, local_id and metadata');
select is(
  (select array_agg(conname order by conname)::text[] from pg_constraint
    where conrelid = 'public.memories'::regclass and contype = 'c'),
  array['memories_content_length', 'memories_context_length', 'memories_importance_score_range',
        'memories_local_id_length', 'memories_tag_length'],
  'memories bounds content, context, tag, local_id and importance_score');
select is(
  (select array_agg(conname order by conname)::text[] from pg_constraint
    where conrelid = 'public.conversations'::regclass and contype = 'c'),
  array['conversations_local_id_length', 'conversations_message_count_not_negative', 'conversations_title_length'],
  'conversations bounds title, local_id and message_count');

-- Indexes for the real queries --------------------------------------------------------------------
select has_index('public', 'messages', 'messages_conversation_timeline_idx',
  array['conversation_id', 'user_id', '"timestamp"', 'id'], 'a conversation''s messages in time order are indexed');
select has_index('public', t, format('%s_user_id_updated_at_idx', t), array['user_id', 'updated_at', 'id'],
  format('%s changed since a point, per user, is indexed (delta sync, and the policies'' column)', t))
  from unnest(array['conversations', 'messages', 'memories']) as t;

-- Row level security ------------------------------------------------------------------------------
select tests.rls_enabled('public');

select policies_are('public', 'conversations', array[
  'Users can read their own conversations', 'Users can create conversations of their own',
  'Users can edit their own conversations', 'Users can delete their own conversations'],
  'conversations has one policy per operation');
select policies_are('public', 'messages', array[
  'Users can read their own messages', 'Users can create messages of their own',
  'Users can edit their own messages', 'Users can delete their own messages'],
  'messages has one policy per operation');
select policies_are('public', 'memories', array[
  'Users can read their own memories', 'Users can create memories of their own',
  'Users can edit their own memories', 'Users can delete their own memories'],
  'memories has one policy per operation');
select is(
  (select count(*)::integer from pg_policies where schemaname = 'public' and roles <> '{authenticated}'),
  0,
  'every policy applies to authenticated only');
select is(
  (select count(*)::integer from pg_policies where schemaname = 'public'
     and coalesce(qual, with_check) not like '%( SELECT auth.uid() AS uid)%'),
  0,
  'every policy compares user_id with (select auth.uid()), evaluated once per statement');

-- Privileges --------------------------------------------------------------------------------------
select table_privs_are('public', t, 'anon', array[]::text[], format('anon has no privilege at all on %s', t))
  from unnest(array['conversations', 'messages', 'memories']) as t;
select table_privs_are('public', t, 'authenticated', array['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  format('authenticated may only select, insert, update and delete %s', t))
  from unnest(array['conversations', 'messages', 'memories']) as t;
select schema_privs_are('private', r, array[]::text[], format('%s cannot use schema private', r))
  from unnest(array['anon', 'authenticated']) as r;
select is(
  (select count(*)::integer from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'private' and (has_function_privilege('anon', p.oid, 'execute')
                                     or has_function_privilege('authenticated', p.oid, 'execute'))),
  0,
  'no function in private is executable by anon or authenticated');
select is(
  (select count(*)::integer from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'private' and p.prosecdef
      and not coalesce(p.proconfig, '{}') @> array['search_path=""']),
  0,
  'every security definer function pins an empty search_path');

-- Triggers ----------------------------------------------------------------------------------------
select has_trigger('public', t, format('%s_stamp_row', t), format('%s keeps version and updated_at by trigger', t))
  from unnest(array['conversations', 'messages', 'memories']) as t;
select triggers_are('public', 'messages',
  array['messages_stamp_row', 'messages_count_inserts', 'messages_count_deletes', 'messages_count_moves',
        'messages_log_change', 'messages_record_deletes', 'messages_broadcast_changes'],
  'messages keeps its bookkeeping, counts every insert, delete and move, and logs every change for sync and for its owner''s private topic');
select has_trigger('public', 'conversations', 'conversations_guard_message_count',
  'conversations refuses a hand-set message_count');

select * from finish();
rollback;
