/**
 * Who a request is: the one decision every service of the stack makes the same way, as the
 * platform's API gateway and services make it.
 *
 *   1. `apikey` (header, or the query parameter realtime-js sends): the stack's own publishable or
 *      secret key stands for the legacy anon or service_role JWT (the CLI's Kong puts that JWT in
 *      `Authorization` for it); any other `sb_…` value is refused; anything else is taken as a JWT.
 *   2. `Authorization: Bearer <token>`: a JWT, verified by signature (HS256 with the JWT secret,
 *      ES256/RS256 with the signing key its `kid` names) and required to carry `role` and `exp`.
 *      A bearer that is an `sb_…` key follows rule 1, as the gateway does.
 *   3. The bearer, when given, decides the role; otherwise the apikey does.
 *
 * A refusal is an IdentityError with the status and body the platform's gateway answers.
 */
import { type Claims, JwtError, verifyJwt, verifyKeysOf } from './jwt.ts';
import type { KeySet } from './keys.ts';

export type Credential = 'publishable' | 'secret' | 'jwt';

export interface Identity {
  /** The JWT that stands for the caller: what services forward as `Authorization: Bearer …`. */
  token: string;
  claims: Claims;
  role: string;
  /** How the deciding credential was given. */
  credential: Credential;
}

export type IdentityFailure = 'no_api_key' | 'invalid_api_key' | JwtError['reason'];

export class IdentityError extends Error {
  readonly status = 401;
  readonly reason: IdentityFailure;
  readonly hint: string | undefined;
  constructor(reason: IdentityFailure, message: string, hint?: string) {
    super(message);
    this.name = 'IdentityError';
    this.reason = reason;
    this.hint = hint;
  }
  /** The platform gateway's body for this refusal. */
  body(): { message: string; hint?: string } {
    return this.hint === undefined ? { message: this.message } : { message: this.message, hint: this.hint };
  }
}

export const invalidApiKey = () =>
  new IdentityError(
    'invalid_api_key',
    'Invalid API key',
    'Double check your Supabase `anon` or `service_role` API key.',
  );

export const noApiKey = () =>
  new IdentityError('no_api_key', 'No API key found in request', 'No `apikey` request header or url param was found.');

/** The legacy JWT an opaque key stands for; an unknown `sb_` key is refused; a JWT is returned as it is. */
export function tokenForKey(keys: KeySet, key: string): { token: string; credential: Credential } {
  if (key.startsWith('sb_')) {
    if (key === keys.publishableKey) return { token: keys.anonKey, credential: 'publishable' };
    if (key === keys.secretKey) return { token: keys.serviceRoleKey, credential: 'secret' };
    throw invalidApiKey();
  }
  return { token: key, credential: 'jwt' };
}

/** The token of `Authorization: Bearer <token>`, or undefined when there is none. */
export function bearerOf(authorization: string | null | undefined): string | undefined {
  if (!authorization) return undefined;
  const match = /^bearer\s+(\S+)\s*$/i.exec(authorization);
  return match?.[1];
}

export interface Credentials {
  apikey?: string | null | undefined;
  authorization?: string | null | undefined;
}

/**
 * Decides who the credentials stand for. `requireApiKey` is the gateway's rule for the Data API and
 * Auth (a request without `apikey` is refused even with a bearer); realtime and functions take
 * whichever is given.
 */
export async function identify(
  keys: KeySet,
  credentials: Credentials,
  options: { requireApiKey?: boolean } = {},
): Promise<Identity> {
  const apikey = credentials.apikey || undefined;
  const bearer = bearerOf(credentials.authorization);
  if (apikey === undefined && (options.requireApiKey || bearer === undefined)) throw noApiKey();
  const fromKey = apikey === undefined ? undefined : tokenForKey(keys, apikey);
  // An apikey that is a JWT must be one of this project's, even when a bearer decides the role.
  if (fromKey?.credential === 'jwt' && bearer !== undefined) await verified(keys, fromKey.token, () => invalidApiKey());
  const chosen = bearer === undefined ? fromKey! : tokenForKey(keys, bearer);
  const claims = await verified(keys, chosen.token, (error) => new IdentityError(error.reason, error.message));
  return { token: chosen.token, claims, role: claims.role, credential: chosen.credential };
}

async function verified(keys: KeySet, token: string, refusal: (error: JwtError) => IdentityError): Promise<Claims> {
  try {
    return await verifyJwt(token, verifyKeysOf(keys));
  } catch (error) {
    if (error instanceof JwtError) throw refusal(error);
    throw error;
  }
}
