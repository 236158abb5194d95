/**
 * Local users without GoTrue: rows in auth.users shaped as GoTrue writes them, plus a signed access
 * token. For tests, benchmarks and the latency harness on the local stack.
 */
import type { Sql } from 'postgres';
import { mintUserToken } from '../stack/identity/jwt.ts';

export interface LocalUser {
  id: string;
  email: string;
  token: string;
}

/** Creates a user (connection must be postgres or another role that may write auth.users). */
export async function createLocalUser(
  sql: Sql,
  email: string,
  tokenOptions: { expiresIn?: number } = {},
): Promise<LocalUser> {
  const id = crypto.randomUUID();
  await sql`
    insert into auth.users (instance_id, id, aud, role, email, raw_app_meta_data, raw_user_meta_data,
                            created_at, updated_at, email_confirmed_at,
                            confirmation_token, recovery_token, email_change_token_new, email_change)
    values ('00000000-0000-0000-0000-000000000000', ${id}, 'authenticated', 'authenticated', ${email},
            '{"provider": "email", "providers": ["email"]}', '{}', now(), now(), now(), '', '', '', '')`;
  return { id, email, token: await mintUserToken(id, { email, ...tokenOptions }) };
}

/** Deletes users; their conversations, messages and memories go with them (on delete cascade). */
export async function deleteLocalUsers(sql: Sql, ids: string[]): Promise<void> {
  if (ids.length > 0) await sql`delete from auth.users where id = any(${ids}::uuid[])`;
}
