/**
 * @module Who is calling: the bearer token, verified as the platform verifies it.
 *
 * The gateway has already checked the token when `verify_jwt` is on; the function checks it again
 * because it must act on the claims (they become `request.jwt.claims` in the database) and because
 * `verify_jwt` may be switched off. Keys come from SUPABASE_JWKS: HS256 tokens are checked with the
 * project's secret (an `oct` key), ES256/RS256 tokens with the public key named by their `kid`.
 * Only a signed-in user's token is accepted: the functions act as that user, never as anon or as
 * the service role on someone's behalf.
 */
import { errors as joseErrors, importJWK, jwtVerify, decodeProtectedHeader, type JWTPayload, type JWK } from 'jose';
import { unauthorized, userTokenRequired } from './errors.ts';

export interface UserClaims extends JWTPayload {
  sub: string;
  role: 'authenticated';
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function bearerToken(header: string | null): string {
  if (!header) throw unauthorized('Missing authorization header');
  const [scheme, token, ...rest] = header.trim().split(/\s+/);
  if (scheme?.toLowerCase() !== 'bearer' || !token || rest.length > 0) {
    throw unauthorized("Authorization header is not 'Bearer <token>'");
  }
  return token;
}

type Key = Awaited<ReturnType<typeof importJWK>>;

/** Builds a verifier over a JWKS once; it is then called per request. */
export function createTokenVerifier(jwks: { keys: Record<string, unknown>[] }) {
  const cache = new Map<string, Promise<Key>>();
  const keyFor = (alg: string, kid: string | undefined): Promise<Key> => {
    const cacheKey = `${alg}:${kid ?? ''}`;
    let key = cache.get(cacheKey);
    if (!key) {
      const symmetric = alg.startsWith('HS');
      const jwk = jwks.keys.find((k) =>
        symmetric ? k.kty === 'oct' : k.kty !== 'oct' && (kid === undefined || k.kid === kid),
      );
      if (!jwk) return Promise.reject(unauthorized('Invalid JWT'));
      key = importJWK({ ...(jwk as JWK), alg }, alg);
      cache.set(cacheKey, key);
    }
    return key;
  };

  return async function verifyUser(authorization: string | null): Promise<UserClaims> {
    const token = bearerToken(authorization);
    let payload: JWTPayload;
    try {
      const header = decodeProtectedHeader(token);
      const alg = header.alg ?? '';
      if (!['HS256', 'ES256', 'RS256'].includes(alg)) throw unauthorized('Invalid JWT');
      ({ payload } = await jwtVerify(token, await keyFor(alg, header.kid), { algorithms: [alg] }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw unauthorized('JWT has expired');
      throw unauthorized('Invalid JWT');
    }
    if (typeof payload.exp !== 'number') throw unauthorized('Invalid JWT: exp is required');
    const role = typeof payload.role === 'string' ? payload.role : 'none';
    if (role !== 'authenticated' || typeof payload.sub !== 'string' || !uuidPattern.test(payload.sub)) {
      throw userTokenRequired(role);
    }
    return payload as UserClaims;
  };
}
