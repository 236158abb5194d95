/**
 * The refresh grant (github.com/supabase/auth internal/api/token_refresh.go) in one statement, so
 * one database round trip: `auth.refresh_token_grant` (stack/db/platform/06_auth_refresh_grant.sql)
 * walks the session's token chain with the used token and then its session locked, and the same
 * statement reads the user and identities the answer carries and writes the `token_refreshed`
 * audit entry, as GoTrue does inside its transaction.
 *
 * Rotation, the reuse interval and family revocation are the function's: a token used again
 * within `refresh_token_reuse_interval`, while its child is still the session's active token,
 * answers with that child; any other reuse revokes the whole family, and that revocation commits
 * with the statement before the refusal is thrown here.
 */
import type { Sql } from 'postgres';
import { refuse } from './errors.ts';
import { auditIp, auditPayload, newRefreshToken, type Session } from './sessions.ts';
import type { AuthSettings } from './settings.ts';
import { type IdentityRow, identitiesFromJson, identityColumns, userColumns, type UserRow } from './users.ts';

export interface Refreshed {
  session: Session;
  user: UserRow;
  identities: IdentityRow[];
}

type Outcome = 'rotated' | 'kept' | 'reused' | 'not_found' | 'already_used';
type Row = Partial<UserRow> & {
  outcome: Outcome;
  session_id: string | null;
  refresh_token: string | null;
  amr: Session['amr'] | null;
  identities: Record<string, unknown>[] | null;
};

export async function refresh(
  sql: Sql,
  token: string,
  settings: AuthSettings,
  client: { ip: string | undefined },
): Promise<Refreshed> {
  const payload = auditPayload('token_refreshed');
  const [row] = await sql<Row[]>`
    with granted as materialized (
      select * from auth.refresh_token_grant(
        ${token}, ${settings.enableRefreshTokenRotation}, ${settings.refreshTokenReuseInterval}, ${newRefreshToken()})
    ),
    issued as materialized (
      select g.session_id, g.refresh_token, g.amr, ${userColumns(sql)}
        from granted g
        join auth.users u on u.id = g.user_id and u.deleted_at is null
       where g.outcome in ('rotated', 'kept', 'reused')
    ),
    logged as (
      insert into auth.audit_log_entries (instance_id, id, payload, created_at, ip_address)
      select '00000000-0000-0000-0000-000000000000', gen_random_uuid(),
             (jsonb_build_object('actor_id', i.id, 'actor_username', coalesce(i.email, ''))
               || ${sql.json(payload as never)}::jsonb)::json,
             now(), ${auditIp(client.ip)}
        from issued i
    )
    select g.outcome, i.*,
           (select json_agg(x order by x.created_at)
              from (select ${identityColumns(sql)} from auth.identities where user_id = i.id) x) as identities
      from granted g
      left join issued i on true`;
  if (row?.outcome === 'already_used') throw refuse.refreshAlreadyUsed();
  // Unknown, or its user gone or soft-deleted since the token was issued.
  if (!row || row.outcome === 'not_found' || !row.id || !row.session_id || !row.refresh_token)
    throw refuse.refreshNotFound();
  const { outcome: _outcome, session_id, refresh_token, amr, identities, ...user } = row;
  return {
    session: { id: session_id, userId: row.id, refreshToken: refresh_token, amr: amr ?? [] },
    user: user as UserRow,
    identities: identitiesFromJson(identities ?? []),
  };
}
