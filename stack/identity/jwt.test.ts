import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { cliDefaults as localSecrets } from './keys.ts';
import { JwtError, jwtKeys, mintUserToken, verifyJwt } from './jwt.ts';

const reasonOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'verified',
    (error: unknown) => (error instanceof JwtError ? error.reason : 'other'),
  );

describe('verifyJwt', () => {
  it("accepts the CLI's anon and service_role keys", async () => {
    expect((await verifyJwt(localSecrets.anonKey)).role).toBe('anon');
    expect((await verifyJwt(localSecrets.serviceRoleKey)).role).toBe('service_role');
  });

  it('accepts a minted user token and returns its claims', async () => {
    const claims = await verifyJwt(await mintUserToken('a0a0a0a0-0000-4000-8000-000000000001'));
    expect(claims).toMatchObject({ role: 'authenticated', sub: 'a0a0a0a0-0000-4000-8000-000000000001' });
  });

  it('refuses missing, malformed, forged, expired and role-less tokens, each for its reason', async () => {
    const forged = await mintUserToken('x', { secret: 'another-secret-of-at-least-32-characters!!' });
    const expired = await mintUserToken('x', { expiresIn: -10 });
    const roleless = await new SignJWT({ exp: Math.floor(Date.now() / 1000) + 60 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(localSecrets.jwtSecret));
    expect(await reasonOf(verifyJwt(undefined))).toBe('missing');
    expect(await reasonOf(verifyJwt('not-a-jwt'))).toBe('malformed');
    expect(await reasonOf(verifyJwt(forged))).toBe('signature');
    expect(await reasonOf(verifyJwt(expired))).toBe('expired');
    expect(await reasonOf(verifyJwt(roleless))).toBe('claims');
  });

  it('verifies ES256 tokens with the public key their kid names, and only that key', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'ES256' };
    const sign = (kid: string) =>
      new SignJWT({ role: 'authenticated', sub: 'u1' })
        .setProtectedHeader({ alg: 'ES256', kid })
        .setExpirationTime('1h')
        .sign(privateKey);
    const keys = { ...jwtKeys(), publicKeys: [jwk] };
    expect((await verifyJwt(await sign('test-key'), keys)).sub).toBe('u1');
    expect(await reasonOf(verifyJwt(await sign('unknown-kid'), keys))).toBe('signature');
    expect(await reasonOf(verifyJwt(await sign('test-key')))).toBe('signature');
  });
});
