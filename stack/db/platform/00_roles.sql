-- Platform bootstrap, chapter 0: roles.
-- Runs as supabase_admin, the cluster's bootstrap superuser, as in the supabase/postgres image.
-- Attributes, memberships and per-role settings follow the supabase/postgres image (https://github.com/supabase/postgres,
-- `migrations/db/init-scripts/` and `migrations/db/migrations/`).
-- Every login role gets the CLI's local password, 'postgres'.

-- postgres starts as a superuser so the next chapter can create what the image's init scripts
-- create as postgres (objects owned by postgres); chapter 3 demotes it.
create role postgres with superuser createdb createrole replication bypassrls login password 'postgres';
alter role postgres set search_path = "$user", public, extensions;

alter role supabase_admin with password 'postgres';
alter role supabase_admin set search_path = "$user", public, auth, extensions;

-- The API roles. PostgREST switches to one of these per request; none of them can log in.
create role anon nologin inherit;
create role authenticated nologin inherit;
create role service_role nologin inherit bypassrls;
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';

-- authenticator is what PostgREST logs in as. NOINHERIT: it holds nothing by membership and can only
-- switch role.
create role authenticator login noinherit password 'postgres';
grant anon, authenticated, service_role to authenticator;
alter role authenticator set statement_timeout = '8s';
alter role authenticator set lock_timeout = '8s';
-- As on the platform: every Data API session loads safeupdate, which refuses UPDATE and DELETE
-- without a WHERE clause (stack/db/extensions/safeupdate, built by stack/db/prerequisites.ts).
alter role authenticator set session_preload_libraries = 'safeupdate';

-- postgres may switch to any API role: that is how tests and the dashboard impersonate a request.
grant anon, authenticated, service_role to postgres;
grant pg_monitor, pg_read_all_data, pg_signal_backend to postgres;

-- Service administrators.
create role supabase_auth_admin login noinherit createrole noreplication password 'postgres';
alter role supabase_auth_admin set search_path = auth;
alter role supabase_auth_admin set idle_in_transaction_session_timeout = 60000;
create role supabase_storage_admin login noinherit createrole noreplication password 'postgres';
alter role supabase_storage_admin set search_path = storage;
grant authenticator to supabase_storage_admin;
create role supabase_realtime_admin nologin noinherit noreplication;
create role dashboard_user nosuperuser createdb createrole replication;
create role pgbouncer login inherit password 'postgres';
create role supabase_replication_admin login replication password 'postgres';
create role supabase_read_only_user login bypassrls password 'postgres';
grant pg_read_all_data to supabase_read_only_user;

-- The image hands database postgres to role postgres (migrate.sh).
alter database postgres owner to postgres;
