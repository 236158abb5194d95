/**
 * Which claims a token stands for. JWTs are verified with stack/identity/jwt.ts (HS* with the
 * project secret, ES256 with the CLI's signing key; `role` and `exp` required); the opaque `sb_…`
 * API keys, which are not JWTs, stand for the role the gateway would put in their place
 * (platform-facts.md §7.2).
 */
import { type Claims, jwtKeys, verifyJwt } from '../../identity/jwt.ts';
import { tokenError } from '../errors.ts';

export async function claimsFor(token: string | undefined | null, secret: string): Promise<Claims> {
  if (token?.startsWith('sb_publishable_')) return { role: 'anon' };
  if (token?.startsWith('sb_secret_')) return { role: 'service_role' };
  try {
    return await verifyJwt(token, jwtKeys(secret));
  } catch (error) {
    throw tokenError(error);
  }
}

/** Milliseconds until the claims expire; undefined when they never do (an `sb_` key). */
export const msUntilExpiry = (claims: Claims): number | undefined =>
  typeof claims.exp === 'number' ? claims.exp * 1000 - Date.now() : undefined;
