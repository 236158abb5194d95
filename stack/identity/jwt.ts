/**
 * JWTs as the platform checks them locally: HS256/384/512 with the project's JWT secret (the legacy
 * anon and service_role keys, and the tokens we mint for local users), and ES256/RS256 with the
 * public key of the JWKS whose `kid` the token names (what a local GoTrue signs user sessions with,
 * supabase/cli `pkg/config/apikeys.go`). Used by the gateway's `verify_jwt`, the realtime server and the tools
 * that need a signed-in user without a running GoTrue.
 */
import { createPrivateKey, type JsonWebKey, type KeyObject, sign } from 'node:crypto';
import {
  SignJWT,
  decodeProtectedHeader,
  errors as joseErrors,
  importJWK,
  jwtVerify,
  type JWK,
  type JWTPayload,
} from 'jose';
import { cliDefaults, type KeySet, publicHalf } from './keys.ts';

export interface Claims extends JWTPayload {
  role: string;
  sub?: string;
  email?: string;
  aud?: string | string[];
}

export type JwtFailure = 'missing' | 'malformed' | 'expired' | 'signature' | 'claims';

export class JwtError extends Error {
  readonly reason: JwtFailure;
  constructor(reason: JwtFailure, message: string) {
    super(message);
    this.name = 'JwtError';
    this.reason = reason;
  }
}

const secretKey = (secret: string) => new TextEncoder().encode(secret);

export interface VerifyKeys {
  /** The project's JWT secret, for HS* tokens. */
  secret: string;
  /** Public keys for ES256/RS256 tokens, matched by `kid`. */
  publicKeys: readonly JWK[];
}

/** What a key set verifies with: its JWT secret and the public halves of its signing keys. */
export const verifyKeysOf = (keys: KeySet): VerifyKeys => ({ secret: keys.jwtSecret, publicKeys: keys.publicKeys });

/** The CLI's default keys: its JWT secret and the public half of its built-in ES256 key. */
export const jwtKeys = (secret: string = cliDefaults.jwtSecret): VerifyKeys => ({
  secret,
  publicKeys: [publicHalf(cliDefaults.signingKey)],
});

/** The key a token's header asks for: the secret for HS*, else the public key with its kid. */
async function keyFor(token: string, keys: VerifyKeys) {
  let header;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new JwtError('malformed', 'the token provided is not a valid JWT');
  }
  if (header.alg?.startsWith('HS')) return { key: secretKey(keys.secret), algorithms: ['HS256', 'HS384', 'HS512'] };
  const jwk = keys.publicKeys.find((candidate) => candidate.kid === header.kid && candidate.alg === header.alg);
  if (!jwk || (header.alg !== 'ES256' && header.alg !== 'RS256')) {
    throw new JwtError('signature', 'failed to validate JWT signature');
  }
  return { key: await importJWK(jwk, header.alg), algorithms: [header.alg] };
}

/** Verifies a token and requires the `role` and `exp` claims the platform requires. */
export async function verifyJwt(token: string | undefined | null, keys: VerifyKeys = jwtKeys()): Promise<Claims> {
  if (!token) throw new JwtError('missing', 'no token was given');
  if (token.split('.').length !== 3) throw new JwtError('malformed', 'the token provided is not a valid JWT');
  const { key, algorithms } = await keyFor(token, keys);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key, { algorithms }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) {
      const exp = Number((error.payload as JWTPayload).exp ?? 0);
      const ago = Math.max(0, Math.floor(Date.now() / 1000) - exp);
      throw new JwtError('expired', `token has expired ${ago} seconds ago`);
    }
    if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
      throw new JwtError('signature', 'failed to validate JWT signature');
    }
    throw new JwtError('malformed', 'the token provided is not a valid JWT');
  }
  if (typeof payload.role !== 'string' || typeof payload.exp !== 'number') {
    throw new JwtError('claims', 'fields `role` and `exp` are required in JWT');
  }
  return payload as Claims;
}

export interface UserTokenOptions {
  email?: string;
  /** Lifetime in seconds; the CLI's default `[auth] jwt_expiry` is 3600. */
  expiresIn?: number;
  sessionId?: string;
  secret?: string;
}

/**
 * Mints an access token shaped like GoTrue's (supabase/auth `internal/tokens/service.go` `AccessTokenClaims`) for a local user, signed with
 * the local JWT secret. On a hosted project, sign in through Auth instead.
 */
export function mintUserToken(userId: string, options: UserTokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    sub: userId,
    aud: 'authenticated',
    role: 'authenticated',
    email: options.email ?? '',
    phone: '',
    app_metadata: { provider: 'email', providers: ['email'] },
    user_metadata: {},
    aal: 'aal1',
    amr: [{ method: 'password', timestamp: now }],
    session_id: options.sessionId ?? crypto.randomUUID(),
    is_anonymous: false,
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer('http://127.0.0.1:54321/auth/v1')
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresIn ?? 3600))
    .sign(secretKey(options.secret ?? cliDefaults.jwtSecret));
}

const importedSigningKeys = new WeakMap<KeySet, KeyObject>();
const base64url = (bytes: string | Buffer) => Buffer.from(bytes).toString('base64url');

/**
 * Signs a payload with the key set's signing key (ES256 or RS256), its `kid` in the header, as
 * Auth signs session tokens. The payload's claims are the caller's to set. node:crypto signs in
 * the calling thread: WebCrypto (jose's `SignJWT`) queues each signature on the thread pool, a hop
 * that a refresh under load pays for in latency.
 */
export async function signWithSigningKey(payload: JWTPayload, keys: KeySet): Promise<string> {
  const { key_ops: _ops, ext: _ext, ...jwk } = keys.signingKey;
  const alg = jwk.alg as 'ES256' | 'RS256';
  let key = importedSigningKeys.get(keys);
  if (!key) importedSigningKeys.set(keys, (key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' })));
  const input = `${base64url(JSON.stringify({ alg, kid: jwk.kid!, typ: 'JWT' }))}.${base64url(JSON.stringify(payload))}`;
  // JWS wants ECDSA signatures as r || s (IEEE P1363), not DER; RSA ignores the option.
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${base64url(signature)}`;
}
