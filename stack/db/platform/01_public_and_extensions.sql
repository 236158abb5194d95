-- Platform bootstrap, chapter 1: the extensions schema, public's default privileges and the
-- realtime publication. Runs as postgres while it is still a superuser, as the image's init scripts
-- do, so that all of this is owned by postgres (supabase/postgres `migrations/db/init-scripts/00000000000000-initial-schema.sql`).

create schema if not exists extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
grant all on schema extensions to postgres with grant option;

create extension if not exists "uuid-ossp" with schema extensions;
create extension if not exists pgcrypto with schema extensions;
create extension if not exists pg_stat_statements with schema extensions;

grant usage on schema public to postgres, anon, authenticated, service_role;

-- What makes a new table in public reachable by the API roles the moment it is created: RLS is then
-- the only guard. Migrations must therefore enable RLS and write their own grants.
alter default privileges in schema public grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public grant all on sequences to postgres, anon, authenticated, service_role;

alter default privileges in schema extensions grant all on tables to postgres with grant option;
alter default privileges in schema extensions grant all on functions to postgres with grant option;
alter default privileges in schema extensions grant all on sequences to postgres with grant option;

-- An empty publication, owned by postgres, that migrations add their tables to.
create publication supabase_realtime;

-- Realtime's tenant metadata schema, made by the CLI's post-init script.
create schema if not exists _realtime;
