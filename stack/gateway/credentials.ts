/**
 * What the gateway does with keys before it forwards a request, as the CLI's Kong does
 * (supabase/cli internal/start/templates/kong.yml, its `Authorization` request-transformer):
 *
 *   - an `Authorization` that is not `Bearer sb_…` is passed on as it is;
 *   - otherwise, an `apikey` header that is the stack's publishable or secret key becomes
 *     `Authorization: Bearer <legacy anon / service_role JWT>`, and a `Bearer sb_…` that is the
 *     stack's own key becomes `Bearer <its JWT>`;
 *   - an `sb_…` value (header, bearer or the `apikey` query parameter realtime-js sends) that is not
 *     the stack's own is refused: IdentityError, answered 401 `{"message":"Invalid API key",…}`.
 * JWTs are not verified here: each service decides who a request is (../identity/identify.ts).
 */
import { bearerOf, tokenForKey } from '../identity/identify.ts';
import type { KeySet } from '../identity/keys.ts';

export interface GivenCredentials {
  apikey: string | undefined;
  authorization: string | undefined;
  /** The `apikey` query parameter. */
  queryApikey: string | null;
}

/** The `Authorization` to forward (undefined: none), or throws IdentityError for a foreign sb_ key. */
export function forwardedAuthorization(keys: KeySet, given: GivenCredentials): string | undefined {
  const { apikey, authorization, queryApikey } = given;
  if (queryApikey?.startsWith('sb_')) tokenForKey(keys, queryApikey);
  const fromApikey = apikey?.startsWith('sb_') ? tokenForKey(keys, apikey).token : undefined;
  const bearer = bearerOf(authorization);
  if (authorization !== undefined && !bearer?.startsWith('sb_')) return authorization;
  const fromBearer = bearer === undefined ? undefined : tokenForKey(keys, bearer).token;
  const token = fromApikey ?? fromBearer;
  return token === undefined ? authorization : `Bearer ${token}`;
}
