-- Platform bootstrap, chapter 3: the other service schemas, the CLI's database settings, and the
-- demotion of postgres. Runs as supabase_admin.

-- Service schemas exist on every project, though our migrations use none of them.
create schema if not exists storage authorization supabase_admin;
grant usage on schema storage to postgres, anon, authenticated, service_role;
create schema if not exists realtime authorization supabase_admin;
grant usage on schema realtime to postgres, anon, authenticated, service_role;
create schema if not exists graphql_public authorization supabase_admin;
grant usage on schema graphql_public to postgres, anon, authenticated, service_role;

-- What the CLI's post-init script sets on database postgres (supabase/cli `internal/db/start/start.go`).
alter database postgres set "app.settings.jwt_secret" to 'super-secret-jwt-token-with-at-least-32-characters-long';
alter database postgres set "app.settings.jwt_exp" to '3600';

-- The image's last step: postgres keeps everything but SUPERUSER. From here on, user migrations run
-- as a non-superuser that bypasses RLS, exactly as on a hosted project.
alter role postgres nosuperuser createdb createrole replication bypassrls login;
