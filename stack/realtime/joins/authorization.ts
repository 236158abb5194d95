/**
 * Private channel authorization, as the platform decides it at join
 * (supabase/realtime lib/realtime/tenants/authorization.ex): the project's RLS policies on
 * `realtime.messages` are asked, never a rule of ours.
 *
 * In one transaction that is always rolled back:
 *   1. one probe row per extension (broadcast, presence) is inserted for the topic by the server's
 *      own connection (which bypasses RLS);
 *   2. `role`, `realtime.topic`, `request.jwt.claims`, `request.jwt.claim.sub`,
 *      `request.jwt.claim.role` and `request.headers` are set locally, as the subscriber;
 *   3. read: the probes are selected back under RLS: a probe seen means the extension may be read;
 *   4. write: a row per extension is inserted under RLS in a savepoint; `42501` means it may not.
 * Nothing is stored. The platform runs read and write in two transactions (write lazily, at the
 * first broadcast or track); here both run at join, in one round trip's worth of statements, and
 * again whenever the client sends a new access token.
 */
import type { Sql } from 'postgres';
import type { Claims } from '../../identity/jwt.ts';
import { SQLSTATE, sqlState } from '../../lib/pg-errors.ts';

export type Extension = 'broadcast' | 'presence';
export interface Permission {
  read: boolean;
  write: boolean;
}
export type Policies = Record<Extension, Permission>;

export const EXTENSIONS: readonly Extension[] = ['broadcast', 'presence'];

/** What a public channel may do: everything (no policies are asked). */
export const PUBLIC_POLICIES: Policies = {
  broadcast: { read: true, write: true },
  presence: { read: true, write: true },
};

class Rollback extends Error {
  constructor(readonly policies: Policies) {
    super('rollback');
  }
}

export async function authorizeTopic(sql: Sql, topic: string, claims: Claims): Promise<Policies> {
  const probes = Object.fromEntries(EXTENSIONS.map((extension) => [extension, crypto.randomUUID()])) as Record<
    Extension,
    string
  >;
  try {
    await sql.begin(async (tx) => {
      for (const extension of EXTENSIONS) {
        await tx`insert into realtime.messages (id, topic, extension) values (${probes[extension]}, ${topic}, ${extension})`;
      }
      await tx`
        select set_config('role', ${claims.role}, true),
               set_config('realtime.topic', ${topic}, true),
               set_config('request.jwt.claims', ${JSON.stringify(claims)}, true),
               set_config('request.jwt.claim.sub', ${claims.sub ?? ''}, true),
               set_config('request.jwt.claim.role', ${claims.role}, true),
               set_config('request.headers', '{}', true)`;
      const seen = new Set(
        (await tx<{ id: string }[]>`select id from realtime.messages where id in ${tx(Object.values(probes))}`).map(
          (row) => row.id,
        ),
      );
      const policies = {} as Policies;
      for (const extension of EXTENSIONS) {
        let write = true;
        try {
          await tx.savepoint(
            (sp) => sp`insert into realtime.messages (topic, extension) values (${topic}, ${extension})`,
          );
        } catch (error) {
          // Only a refused privilege means "may not send"; any other error fails the whole decision (as on the platform).
          if (sqlState(error) !== SQLSTATE.insufficientPrivilege) throw error;
          write = false;
        }
        policies[extension] = { read: seen.has(probes[extension]), write };
      }
      throw new Rollback(policies);
    });
  } catch (error) {
    if (error instanceof Rollback) return error.policies;
    throw error;
  }
  throw new Error('unreachable: the authorization transaction always rolls back');
}

export const mayJoin = (policies: Policies) => policies.broadcast.read || policies.presence.read;
