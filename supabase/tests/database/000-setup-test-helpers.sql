-- Test helpers for every pgTAP file after this one (pg_prove runs files in name order).
--
-- They live in schema `tests`, which only test databases have: `supabase db reset` drops it with
-- everything else the migrations did not make. Each helper acts as PostgREST does for a request
-- (PostgREST `src/PostgREST/Query/PreQuery.hs`, https://docs.postgrest.org/en/v12/references/transactions.html): the role and the full JWT claims, `role` included, set transaction-locally,
-- so a test's `rollback` forgets who it was acting as.
--
--   tests.create_user('ada')            a user in auth.users, tagged 'ada'; returns the id
--   tests.uid('ada')                    that user's id
--   tests.authenticate_as('ada')        act as Ada, signed in (role authenticated)
--   tests.authenticate_as_anon()        act as a visitor with the anon key (role anon)
--   tests.authenticate_as_service_role()  act as the server with the service_role key
--   tests.rls_enabled('public')         assertion: RLS is on for every table of the schema
--   tests.rls_applies()                 assertion: the acting role does not bypass RLS
--   tests.anon_is_refused('messages')   four assertions: anon can neither read nor write the table

begin;
set local client_min_messages = warning;
select plan(1);

create schema if not exists tests;
grant usage on schema tests to anon, authenticated, service_role;

create or replace function tests.create_user(identifier text)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  new_id uuid := gen_random_uuid();
begin
  insert into auth.users (instance_id, id, aud, role, email, raw_app_meta_data, raw_user_meta_data,
                          created_at, updated_at, email_confirmed_at,
                          confirmation_token, recovery_token, email_change_token_new, email_change)
  values ('00000000-0000-0000-0000-000000000000', new_id, 'authenticated', 'authenticated',
          identifier || '@tests.virgil.test', '{"provider": "email", "providers": ["email"]}',
          jsonb_build_object('test_identifier', identifier), now(), now(), now(), '', '', '', '');
  return new_id;
end;
$$;

create or replace function tests.uid(identifier text)
returns uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  found uuid;
begin
  select id into found from auth.users where raw_user_meta_data ->> 'test_identifier' = identifier;
  if found is null then
    raise exception 'no test user called %; create it with tests.create_user(%)', identifier, quote_literal(identifier);
  end if;
  return found;
end;
$$;

-- Not security definer: a definer function may not change the role.
create or replace function tests.authenticate_as(identifier text)
returns void
language plpgsql
set search_path = ''
as $$
declare
  user_id uuid := tests.uid(identifier);
  now_s bigint := extract(epoch from now())::bigint;
begin
  perform set_config('role', 'authenticated', true);
  perform set_config('request.jwt.claims', jsonb_build_object(
    'iss', 'http://127.0.0.1:54321/auth/v1',
    'sub', user_id,
    'aud', 'authenticated',
    'exp', now_s + 3600,
    'iat', now_s,
    'email', identifier || '@tests.virgil.test',
    'phone', '',
    'app_metadata', jsonb_build_object('provider', 'email', 'providers', jsonb_build_array('email')),
    'user_metadata', '{}'::jsonb,
    'role', 'authenticated',
    'aal', 'aal1',
    'session_id', gen_random_uuid(),
    'is_anonymous', false
  )::text, true);
end;
$$;

create or replace function tests.authenticate_as_anon()
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform set_config('role', 'anon', true);
  perform set_config('request.jwt.claims', '{"iss": "supabase-demo", "role": "anon", "exp": 1983812996}', true);
end;
$$;

create or replace function tests.authenticate_as_service_role()
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform set_config('role', 'service_role', true);
  perform set_config('request.jwt.claims', '{"iss": "supabase-demo", "role": "service_role", "exp": 1983812996}', true);
end;
$$;

create or replace function tests.rls_enabled(testing_schema text)
returns text
language sql
-- pgTAP's assertions call each other unqualified, so they need their schema on the path.
set search_path = pg_catalog, extensions
as $$
  select extensions.is(
    (select count(*)::integer from pg_catalog.pg_class c
       join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = testing_schema and c.relkind in ('r', 'p') and not c.relrowsecurity),
    0,
    format('every table in schema %s has row level security enabled', testing_schema)
  );
$$;

-- The guard every isolation file runs right after switching persona: an assertion made as a role
-- that bypasses RLS proves nothing about the policies.
create or replace function tests.rls_applies()
returns text
language sql
-- pgTAP's assertions call each other unqualified, so they need their schema on the path.
set search_path = pg_catalog, extensions
as $$
  select extensions.ok(
    not exists (select from pg_catalog.pg_roles where rolname = current_user and (rolsuper or rolbypassrls)),
    format('acting as %s, which does not bypass row level security', current_user)
  );
$$;

-- A visitor with the anon key has no privilege on a synced table: every verb is refused before any
-- policy runs. Four assertions.
create or replace function tests.anon_is_refused(table_name text)
returns setof text
language plpgsql
set search_path = pg_catalog, extensions
as $$
declare
  denied text := format('permission denied for table %s', table_name);
begin
  return next throws_ok(format('select * from public.%I', table_name), '42501', denied,
    format('a visitor cannot read %s', table_name));
  return next throws_ok(format('insert into public.%I default values', table_name), '42501', denied,
    format('a visitor cannot create %s', table_name));
  return next throws_ok(format('update public.%I set id = id', table_name), '42501', denied,
    format('a visitor cannot edit %s', table_name));
  return next throws_ok(format('delete from public.%I', table_name), '42501', denied,
    format('a visitor cannot delete %s', table_name));
end;
$$;

grant execute on all functions in schema tests to anon, authenticated, service_role;

select has_function('tests', 'authenticate_as', array['text'], 'the test helpers are installed');

select * from finish();
commit;
