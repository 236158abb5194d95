-- Platform bootstrap, chapter 6: the local Auth service's refresh grant as one database call, so a
-- refresh costs one round trip instead of one per step. The steps are GoTrue's
-- (github.com/supabase/auth internal/api/token_refresh.go, internal/models/refresh_token.go):
-- lock the used token, then its session (GoTrue's lock order); a live token is revoked and its
-- child issued; a revoked one used again within the reuse interval, while its child is still the
-- session's active token, answers with that child; any other reuse revokes the whole family.
--
-- Runs as supabase_admin; the function belongs to supabase_auth_admin, like the tables it works on.
-- Idempotent, so the Auth service applies it to a cluster bootstrapped before this chapter existed
-- (stack/auth/service.ts), as GoTrue migrates its own schema when it starts.

set role supabase_auth_admin;

-- outcome: 'rotated' (next_token issued), 'kept' (rotation off: the same token), 'reused' (the
-- session's active token, handed out again), 'not_found', or 'already_used' (the family was revoked;
-- that revocation commits with the call, so it must be refused by the caller, not raised here).
create or replace function auth.refresh_token_grant(
  used_token text,
  rotation boolean,
  reuse_interval_seconds integer,
  next_token text
) returns table (outcome text, session_id uuid, user_id uuid, refresh_token text, amr jsonb)
language plpgsql
volatile
set search_path = ''
as $$
declare
  used record;
  active record;
begin
  -- Under READ COMMITTED every statement below takes a new snapshot, so once the lock is ours we see
  -- what the refresh that held it committed (its revocation and the child it issued).
  select t.id, t.user_id, t.revoked, t.session_id, t.updated_at
    into used
    from auth.refresh_tokens t
   where t.token = used_token
     for update of t;
  if not found or used.session_id is null then
    outcome := 'not_found';
    return next;
    return;
  end if;
  perform 1 from auth.sessions s where s.id = used.session_id for update of s;
  session_id := used.session_id;
  user_id := used.user_id::uuid;

  if used.revoked then
    select t.token, t.parent
      into active
      from auth.refresh_tokens t
     where t.session_id = used.session_id and not t.revoked
     order by t.id desc
     limit 1;
    if rotation
       and clock_timestamp() - used.updated_at < make_interval(secs => reuse_interval_seconds)
       and active.parent is not distinct from used_token
       and active.token is not null then
      outcome := 'reused';
      refresh_token := active.token;
    else
      -- Reuse outside the interval: the token may have been stolen.
      update auth.refresh_tokens t
         set revoked = true, updated_at = now()
       where t.session_id = used.session_id and not t.revoked;
      outcome := 'already_used';
      return next;
      return;
    end if;
  elsif rotation then
    update auth.refresh_tokens t set revoked = true, updated_at = now() where t.id = used.id;
    insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
    values ('00000000-0000-0000-0000-000000000000', next_token, used.user_id, false, now(), now(), used_token, used.session_id);
    update auth.sessions s set refreshed_at = now()::timestamp, updated_at = now() where s.id = used.session_id;
    outcome := 'rotated';
    refresh_token := next_token;
  else
    update auth.sessions s set refreshed_at = now()::timestamp, updated_at = now() where s.id = used.session_id;
    outcome := 'kept';
    refresh_token := used_token;
  end if;

  -- How the session was authenticated, for the access token's `amr` claim.
  select coalesce(
           jsonb_agg(
             jsonb_build_object('method', c.authentication_method,
                                'timestamp', floor(extract(epoch from c.created_at))::bigint)
             order by c.created_at),
           '[]'::jsonb)
    into amr
    from auth.mfa_amr_claims c
   where c.session_id = used.session_id;
  return next;
end
$$;

-- Only Auth calls it (and postgres and dashboard_user, through chapter 2's default privileges).
revoke all on function auth.refresh_token_grant(text, boolean, integer, text) from public;

reset role;
