/**
 * Runs SQL as a request would: one transaction, `role` switched to the token's role and
 * `request.jwt.claims` set to the whole claims object, both transaction-local, exactly as PostgREST
 * does (PostgREST `src/PostgREST/Query/PreQuery.hs`; https://docs.postgrest.org/en/v12/references/transactions.html). RLS decides what the work may see and change.
 */
import type { Sql, TransactionSql } from 'postgres';

export interface RequestClaims {
  role: string;
  sub?: string;
  [claim: string]: unknown;
}

export async function asRequest<T>(
  sql: Sql,
  claims: RequestClaims,
  work: (tx: TransactionSql) => Promise<T>,
): Promise<T> {
  return (await sql.begin(async (tx) => {
    await tx`select set_config('role', ${claims.role}, true), set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
    return work(tx);
  })) as T;
}

/** The claims PostgREST would see for a signed-in user. */
export const userClaims = (userId: string): RequestClaims => ({
  role: 'authenticated',
  aud: 'authenticated',
  sub: userId,
});
