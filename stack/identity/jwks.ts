/**
 * The JWKS the platform hands functions as SUPABASE_JWKS (platform-facts §7.2): the project's HS256
 * secret as an `oct` key, plus the public half of the CLI's built-in ES256 signing key.
 */
import { localSecrets } from '../config.ts';

export const localSigningKey = {
  kty: 'EC',
  crv: 'P-256',
  kid: 'b81269f1-21d8-4f2e-b719-c2240a840d90',
  x: 'M5Sjqn5zwC9Kl1zVfUUGvv9boQjCGd45G8sdopBExB4',
  y: 'P6IXMvA2WYXSHSOMTBH2jsw_9rrzGy89FjPf6oOsIxQ',
  alg: 'ES256',
  use: 'sig',
} as const;

export function localJwks(secret: string = localSecrets.jwtSecret): { keys: Record<string, string>[] } {
  return {
    keys: [{ kty: 'oct', k: Buffer.from(secret).toString('base64url'), alg: 'HS256' }, { ...localSigningKey }],
  };
}
