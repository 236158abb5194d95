-- Chapter 1: where internal code lives, and who may run functions.
--
-- Trigger functions and other internals go in schema `private`, which no API role can use, so
-- nothing in it is ever reachable through the Data API. Functions created later in `public` are
-- callable by nobody until their migration grants it, next to the function: the platform's default
-- (EXECUTE for every API role) is turned off here on purpose.

create schema if not exists private;
comment on schema private is 'Internal functions of the Virgil sync backend; never exposed through the API.';
revoke all on schema private from public, anon, authenticated;

-- Postgres grants EXECUTE to PUBLIC on every new function; the platform adds anon and
-- authenticated in public. Both defaults are withdrawn for functions postgres creates from now on,
-- except in `extensions`, whose functions (pgTAP, pg_trgm, …) are meant to be called by everyone.
alter default privileges revoke execute on functions from public;
alter default privileges in schema public revoke execute on functions from anon, authenticated;
alter default privileges in schema extensions grant execute on functions to public;

-- Every synced row keeps its own bookkeeping: `updated_at` is when the database last changed it,
-- `version` counts its changes (1 on insert, +1 on every update; later chapters use it for
-- conflict checks), and `user_id` never changes, so a row can never move to another user.
create or replace function private.stamp_row()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    new.version := 1;
    new.updated_at := now();
  else
    if new.user_id is distinct from old.user_id then
      raise exception '%.user_id cannot be changed: rows never move between users', tg_table_name
        using errcode = '42501';
    end if;
    new.version := old.version + 1;
    new.updated_at := now();
  end if;
  return new;
end;
$$;
comment on function private.stamp_row() is
  'Before insert or update: sets version and updated_at, and refuses any change of user_id.';
