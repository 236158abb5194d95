/**
 * Sessions and refresh tokens as GoTrue keeps them (github.com/supabase/auth internal/models/
 * sessions.go, refresh_token.go, internal/api/token_refresh.go): one session per sign-in; each
 * session's refresh tokens form a chain, and using one revokes it and issues its child. A revoked
 * token used again within `refresh_token_reuse_interval`, while its child is still the session's
 * active token, answers with that child; any other reuse revokes the whole family.
 *
 * Every step runs in one transaction with the used token's row locked, so two refreshes racing with
 * the same token cannot both rotate it.
 */
import { randomBytes } from 'node:crypto';
import type { Sql, TransactionSql } from 'postgres';
import type { AuthSettings } from './settings.ts';
import { refuse } from './errors.ts';

export interface Session {
  id: string;
  userId: string;
  refreshToken: string;
  /** How the session was authenticated, for the `amr` claim. */
  amr: { method: string; timestamp: number }[];
}

const newRefreshToken = () => randomBytes(16).toString('base64url');

export async function createSession(
  sql: Sql,
  userId: string,
  method: string,
  client: { userAgent?: string; ip?: string },
): Promise<Session> {
  return sql.begin(async (tx) => {
    const id = crypto.randomUUID();
    const token = newRefreshToken();
    await tx`insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip)
             values (${id}, ${userId}, now(), now(), 'aal1', ${client.userAgent ?? null}, ${client.ip ?? null})`;
    await tx`insert into auth.mfa_amr_claims (session_id, created_at, updated_at, authentication_method, id)
             values (${id}, now(), now(), ${method}, ${crypto.randomUUID()})`;
    await tx`insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
             values ('00000000-0000-0000-0000-000000000000', ${token}, ${userId}, false, now(), now(), null, ${id})`;
    await tx`update auth.users set last_sign_in_at = now(), updated_at = now() where id = ${userId}`;
    return { id, userId, refreshToken: token, amr: [{ method, timestamp: Math.floor(Date.now() / 1000) }] };
  }) as Promise<Session>;
}

async function amrOf(tx: TransactionSql, sessionId: string): Promise<Session['amr']> {
  const rows = await tx<{ authentication_method: string; created_at: Date }[]>`
    select authentication_method, created_at from auth.mfa_amr_claims where session_id = ${sessionId} order by created_at`;
  return rows.map((row) => ({
    method: row.authentication_method,
    timestamp: Math.floor(row.created_at.getTime() / 1000),
  }));
}

/** The refresh grant: the session the token belongs to, with the refresh token to hand out now. */
export async function refresh(sql: Sql, token: string, settings: AuthSettings): Promise<Session> {
  const outcome = await sql.begin(async (tx) => {
    const [used] = await tx<
      { id: string; user_id: string; revoked: boolean; session_id: string | null; updated_at: Date }[]
    >`
      select id, user_id, revoked, session_id, updated_at from auth.refresh_tokens where token = ${token} for update`;
    if (!used || !used.session_id) return { error: refuse.refreshNotFound() };
    const sessionId = used.session_id;
    await tx`select id from auth.sessions where id = ${sessionId} for update`;
    if (used.revoked) {
      const [active] = await tx<{ token: string; parent: string | null }[]>`
        select token, parent from auth.refresh_tokens where session_id = ${sessionId} and not revoked order by id desc limit 1`;
      const withinInterval = Date.now() - used.updated_at.getTime() < settings.refreshTokenReuseInterval * 1000;
      if (settings.enableRefreshTokenRotation && withinInterval && active?.parent === token) {
        return {
          session: { id: sessionId, userId: used.user_id, refreshToken: active.token, amr: await amrOf(tx, sessionId) },
        };
      }
      // Reuse outside the interval: the token may have been stolen; the whole family is revoked.
      await tx`update auth.refresh_tokens set revoked = true, updated_at = now() where session_id = ${sessionId} and not revoked`;
      return { error: refuse.refreshAlreadyUsed() };
    }
    let next = token;
    if (settings.enableRefreshTokenRotation) {
      next = newRefreshToken();
      await tx`update auth.refresh_tokens set revoked = true, updated_at = now() where id = ${used.id}`;
      await tx`insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
               values ('00000000-0000-0000-0000-000000000000', ${next}, ${used.user_id}, false, now(), now(), ${token}, ${sessionId})`;
    }
    await tx`update auth.sessions set refreshed_at = now()::timestamp, updated_at = now() where id = ${sessionId}`;
    return { session: { id: sessionId, userId: used.user_id, refreshToken: next, amr: await amrOf(tx, sessionId) } };
  });
  // A refusal that revoked the family must commit that revocation, so it is thrown only now.
  if ('error' in outcome && outcome.error) throw outcome.error;
  return (outcome as { session: Session }).session;
}

export async function sessionExists(sql: Sql, sessionId: string): Promise<boolean> {
  const rows = await sql`select 1 from auth.sessions where id = ${sessionId}`;
  return rows.length > 0;
}

export type LogoutScope = 'global' | 'local' | 'others';

/** Ends sessions: this one (`local`), every one of the user (`global`), or all but this (`others`). */
export async function endSessions(
  sql: Sql,
  userId: string,
  sessionId: string | undefined,
  scope: LogoutScope,
): Promise<void> {
  if (scope === 'global' || sessionId === undefined) await sql`delete from auth.sessions where user_id = ${userId}`;
  else if (scope === 'local') await sql`delete from auth.sessions where id = ${sessionId}`;
  else await sql`delete from auth.sessions where user_id = ${userId} and id <> ${sessionId}`;
}

/** An audit log entry as GoTrue writes one (internal/models/audit_log_entry.go). */
export async function audit(
  sql: Sql,
  action: string,
  actor: { id: string; email?: string | null },
  ip: string | undefined,
  traits: Record<string, unknown> = {},
): Promise<void> {
  const payload = {
    actor_id: actor.id,
    actor_username: actor.email ?? '',
    actor_via_sso: false,
    action,
    log_type: action.startsWith('token') ? 'token' : action.startsWith('user') ? 'user' : 'account',
    traits,
  };
  await sql`insert into auth.audit_log_entries (instance_id, id, payload, created_at, ip_address)
            values ('00000000-0000-0000-0000-000000000000', ${crypto.randomUUID()}, ${sql.json(payload as never)}, now(), ${(ip ?? '').slice(0, 64)})`;
}
