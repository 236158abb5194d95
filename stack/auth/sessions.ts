/**
 * Sessions and refresh tokens as GoTrue keeps them (github.com/supabase/auth internal/models/
 * sessions.go, refresh_token.go): one session per sign-in, its refresh tokens a chain that starts
 * here; refresh.ts walks the chain. Also the end of sessions and the audit log.
 */
import { randomBytes } from 'node:crypto';
import type { Sql } from 'postgres';

export interface Session {
  id: string;
  userId: string;
  refreshToken: string;
  /** How the session was authenticated, for the `amr` claim. */
  amr: { method: string; timestamp: number }[];
}

export const newRefreshToken = () => randomBytes(16).toString('base64url');

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

/**
 * An audit log entry's payload as GoTrue writes one (internal/models/audit_log_entry.go), but for
 * its actor (`actor_id`, `actor_username`), which a statement may fill in from the user's row.
 */
export function auditPayload(action: string, traits: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    actor_via_sso: false,
    action,
    log_type: action.startsWith('token') ? 'token' : action.startsWith('user') ? 'user' : 'account',
    traits,
  };
}

/** The audit log's `ip_address` column: at most 64 characters, '' when unknown. */
export const auditIp = (ip: string | undefined) => (ip ?? '').slice(0, 64);

/** Writes an audit log entry as GoTrue does. */
export async function audit(
  sql: Sql,
  action: string,
  actor: { id: string; email?: string | null },
  ip: string | undefined,
  traits: Record<string, unknown> = {},
): Promise<void> {
  const payload = { actor_id: actor.id, actor_username: actor.email ?? '', ...auditPayload(action, traits) };
  await sql`insert into auth.audit_log_entries (instance_id, id, payload, created_at, ip_address)
            values ('00000000-0000-0000-0000-000000000000', ${crypto.randomUUID()}, ${sql.json(payload as never)}, now(), ${auditIp(ip)})`;
}
