/**
 * @module Acting in the database as the calling user, as PostgREST does (PostgREST `src/PostgREST/Query/PreQuery.hs`).
 *
 * Each call is one transaction that first switches, transaction-locally, to the token's role and
 * sets `request.jwt.claims` to the verified claims, so auth.uid() is the caller and RLS decides
 * every read and write. Nothing here ever uses the service role.
 */
import postgres from 'postgres';
import type { UserClaims } from './auth.ts';

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;

export function connect(dbUrl: string): Sql {
  // A small pool per function process, opened lazily and kept across requests.
  return postgres(dbUrl, { max: 4, idle_timeout: 30, connect_timeout: 10, prepare: true, onnotice: () => {} });
}

export interface AsUserOptions {
  /** Reads only, all in one snapshot (pulls: the cursor is that snapshot). */
  readOnly?: boolean;
}

export function asUser<T>(
  sql: Sql,
  claims: UserClaims,
  work: (tx: Tx) => Promise<T>,
  options: AsUserOptions = {},
): Promise<T> {
  const mode = options.readOnly ? 'isolation level repeatable read read only' : 'read write';
  return sql.begin(mode, async (tx) => {
    await tx`select set_config('role', 'authenticated', true),
                    set_config('request.jwt.claims', ${JSON.stringify(claims)}, true),
                    set_config('statement_timeout', '8s', true)`;
    return work(tx);
  }) as Promise<T>;
}
