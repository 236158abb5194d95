import { SignJWT, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { buildKeySet, cliDefaults as localSecrets, type KeySet } from './keys.ts';
import { JwtError, jwtKeys, mintUserToken, signWithSigningKey, verifyJwt, verifyKeysOf } from './jwt.ts';

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

describe('signWithSigningKey', () => {
  for (const alg of ['ES256', 'RS256'] as const) {
    it(`signs with an ${alg} key what verifyJwt accepts with its public half, its kid in the header`, async () => {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const kid = `test-${alg}`;
      const keys: KeySet = {
        ...buildKeySet({ ...localSecrets, signingKeysPath: undefined }),
        signingKey: { ...(await exportJWK(privateKey)), kid, alg },
        publicKeys: [{ ...(await exportJWK(publicKey)), kid, alg }],
      };
      const token = await signWithSigningKey(
        { role: 'authenticated', sub: 'u1', exp: Math.floor(Date.now() / 1000) + 60 },
        keys,
      );
      expect(decodeProtectedHeader(token)).toEqual({ alg, kid, typ: 'JWT' });
      expect((await verifyJwt(token, verifyKeysOf(keys))).sub).toBe('u1');
      // Another key's public half does not verify it.
      const other = await generateKeyPair(alg, { extractable: true });
      const wrong = { ...keys, publicKeys: [{ ...(await exportJWK(other.publicKey)), kid, alg }] };
      expect(await reasonOf(verifyJwt(token, verifyKeysOf(wrong)))).toBe('signature');
    });
  }
});
