/**
 * The stack's one key set: what every service signs and verifies with, as the Supabase CLI sets it up
 * for a local project (supabase/cli `pkg/config/apikeys.go`, `pkg/config/config.go` `ResolveJWKS`):
 *
 *   - the JWT secret, for HS256: the legacy `anon` and `service_role` keys are HS256 JWTs with it;
 *   - the signing keys, for the sessions Auth issues: the keys in `[auth] signing_keys_path` when set
 *     (ES256 or RS256 JWKs with a `kid`, as `supabase gen signing-key` writes them), otherwise the
 *     CLI's built-in ES256 key; Auth signs with the first key whose `key_ops` include `sign`;
 *   - the opaque API keys `sb_publishable_…` and `sb_secret_…`, which are not JWTs: the gateway puts
 *     the legacy anon or service_role JWT in their place, as the CLI's Kong does.
 *
 * Every value may be overridden in `[auth]` (`jwt_secret`, `anon_key`, `service_role_key`,
 * `publishable_key`, `secret_key`, `signing_keys_path`); the defaults are the CLI's public demo values.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { JWK } from 'jose';
import { configInvalid } from '../lib/errors.ts';

/** The CLI's local defaults. They are public demo values, printed by `supabase status`. */
export const cliDefaults = {
  jwtSecret: 'super-secret-jwt-token-with-at-least-32-characters-long',
  anonKey:
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0',
  serviceRoleKey:
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU',
  publishableKey: 'sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH',
  secretKey: 'sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz',
  /** The CLI's built-in ES256 signing key (supabase/cli, the default signing key of its config). */
  signingKey: {
    kty: 'EC',
    kid: 'b81269f1-21d8-4f2e-b719-c2240a840d90',
    use: 'sig',
    key_ops: ['sign', 'verify'],
    alg: 'ES256',
    ext: true,
    crv: 'P-256',
    x: 'M5Sjqn5zwC9Kl1zVfUUGvv9boQjCGd45G8sdopBExB4',
    y: 'P6IXMvA2WYXSHSOMTBH2jsw_9rrzGy89FjPf6oOsIxQ',
    d: 'dIhR8wywJlqlua4y_yMq2SLhlFXDZJBCvFrY1DCHyVU',
  } satisfies JWK,
} as const;

/** The `[auth]` settings the key set is built from, as config.ts resolves them. */
export interface KeySettings {
  jwtSecret: string;
  anonKey: string;
  serviceRoleKey: string;
  publishableKey: string;
  secretKey: string;
  /** Absolute path of `[auth] signing_keys_path`, or undefined. */
  signingKeysPath: string | undefined;
}

export interface KeySet {
  jwtSecret: string;
  /** Legacy API keys: HS256 JWTs with the secret. */
  anonKey: string;
  serviceRoleKey: string;
  /** Opaque API keys, never JWTs. */
  publishableKey: string;
  secretKey: string;
  /** Private JWKs; `signingKey` is the one sessions are signed with. */
  signingKeys: readonly JWK[];
  signingKey: JWK;
  /** The public halves of every signing key, as published at /auth/v1/.well-known/jwks.json. */
  publicKeys: readonly JWK[];
}

const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const;

export function publicHalf(jwk: JWK): JWK {
  const copy: JWK = { ...jwk };
  for (const member of privateMembers) delete copy[member];
  if (Array.isArray(copy.key_ops)) copy.key_ops = ['verify'];
  return copy;
}

function readSigningKeys(path: string): JWK[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw configInvalid(
      `[auth] signing_keys_path: cannot read ${path}: ${(error as Error).message}`,
      'generate one with `supabase gen signing-key`',
    );
  }
  const keys = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw configInvalid(
      `[auth] signing_keys_path: ${path} holds no JWK array`,
      'generate one with `supabase gen signing-key`',
    );
  }
  for (const key of keys as JWK[]) {
    if (
      typeof key !== 'object' ||
      key === null ||
      typeof key.kid !== 'string' ||
      (key.alg !== 'ES256' && key.alg !== 'RS256')
    ) {
      throw configInvalid(`[auth] signing_keys_path: every key in ${path} needs a kid and alg ES256 or RS256`);
    }
    if (key.kty === 'EC' ? typeof key.d !== 'string' : typeof key.d !== 'string' || typeof key.n !== 'string') {
      throw configInvalid(`[auth] signing_keys_path: key ${key.kid} in ${path} is not a private key`);
    }
  }
  return keys as JWK[];
}

export function resolveSigningKeysPath(projectDir: string, raw: unknown): string | undefined {
  if (typeof raw !== 'string' || raw === '') return undefined;
  return isAbsolute(raw) ? raw : join(projectDir, 'supabase', raw);
}

export function buildKeySet(settings: KeySettings): KeySet {
  if (settings.jwtSecret.length < 16) throw configInvalid('[auth] jwt_secret must be at least 16 characters');
  for (const [name, value, prefix] of [
    ['publishable_key', settings.publishableKey, 'sb_publishable_'],
    ['secret_key', settings.secretKey, 'sb_secret_'],
  ] as const) {
    if (!value.startsWith(prefix)) throw configInvalid(`[auth] ${name} must start with ${prefix}`);
  }
  const signingKeys = settings.signingKeysPath ? readSigningKeys(settings.signingKeysPath) : [cliDefaults.signingKey];
  const signingKey =
    signingKeys.find((key) => !Array.isArray(key.key_ops) || key.key_ops.includes('sign')) ?? signingKeys[0]!;
  return {
    jwtSecret: settings.jwtSecret,
    anonKey: settings.anonKey,
    serviceRoleKey: settings.serviceRoleKey,
    publishableKey: settings.publishableKey,
    secretKey: settings.secretKey,
    signingKeys,
    signingKey,
    publicKeys: signingKeys.map(publicHalf),
  };
}

/** What Auth publishes at /auth/v1/.well-known/jwks.json: the public signing keys, never the secret. */
export const publishedJwks = (keys: KeySet): { keys: JWK[] } => ({ keys: [...keys.publicKeys] });

/**
 * What PostgREST, Realtime and functions (SUPABASE_JWKS) are given: the public signing keys plus
 * the JWT secret as an `oct` key, so that both the legacy keys and session tokens verify.
 */
export const serviceJwks = (keys: KeySet): { keys: JWK[] } => ({
  keys: [...keys.publicKeys, { kty: 'oct', k: Buffer.from(keys.jwtSecret).toString('base64url'), alg: 'HS256' }],
});
