/**
 * Which claims a token stands for, decided by the stack's one identity rule (identity/identify.ts):
 * a JWT verified by signature with the stack's key set (`role` and `exp` required), or one of the
 * stack's own `sb_…` keys, which stands for the legacy JWT the gateway puts in its place. Any other
 * `sb_…` value is refused.
 */
import { type Claims, verifyJwt, verifyKeysOf } from '../../identity/jwt.ts';
import { tokenForKey } from '../../identity/identify.ts';
import type { KeySet } from '../../identity/keys.ts';
import { tokenError } from '../errors.ts';

export async function claimsFor(token: string | undefined | null, keys: KeySet): Promise<Claims> {
  try {
    const jwt = token ? tokenForKey(keys, token).token : token;
    return await verifyJwt(jwt, verifyKeysOf(keys));
  } catch (error) {
    throw tokenError(error);
  }
}

/** Milliseconds until the claims expire; undefined when they never do. */
export const msUntilExpiry = (claims: Claims): number | undefined =>
  typeof claims.exp === 'number' ? claims.exp * 1000 - Date.now() : undefined;
