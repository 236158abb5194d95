import { describe, expect, it } from 'vitest';
import { identify, IdentityError } from './identify.ts';
import { mintUserToken, signWithSigningKey } from './jwt.ts';
import { buildKeySet, cliDefaults, publishedJwks, serviceJwks } from './keys.ts';

const keys = buildKeySet({ ...cliDefaults, signingKeysPath: undefined });

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => 'accepted',
    (error: unknown) =>
      error instanceof IdentityError ? `${error.status} ${error.reason}: ${error.message}` : `other: ${String(error)}`,
  );

const sessionToken = (claims: Record<string, unknown>) =>
  signWithSigningKey({ ...claims, exp: Math.floor(Date.now() / 1000) + 3600 }, keys);

describe('identify', () => {
  it("takes the stack's opaque keys for the legacy roles, in the apikey or as the bearer", async () => {
    expect((await identify(keys, { apikey: keys.publishableKey })).role).toBe('anon');
    expect((await identify(keys, { apikey: keys.secretKey })).role).toBe('service_role');
    expect(
      (await identify(keys, { apikey: keys.publishableKey, authorization: `Bearer ${keys.secretKey}` })).role,
    ).toBe('service_role');
    expect((await identify(keys, { apikey: keys.publishableKey })).token).toBe(keys.anonKey);
  });

  it("refuses an sb_ key that is not the stack's, wherever it is given", async () => {
    expect(await refusal(identify(keys, { apikey: 'sb_secret_totally-made-up' }))).toBe(
      '401 invalid_api_key: Invalid API key',
    );
    expect(await refusal(identify(keys, { apikey: keys.publishableKey, authorization: 'Bearer sb_secret_x' }))).toBe(
      '401 invalid_api_key: Invalid API key',
    );
  });

  it('lets the bearer decide the role, verified by signature with either key kind', async () => {
    const hs = await mintUserToken('a0a0a0a0-0000-4000-8000-000000000001');
    const es = await sessionToken({ sub: 'u', role: 'authenticated' });
    expect((await identify(keys, { apikey: keys.anonKey, authorization: `Bearer ${hs}` })).claims.sub).toBe(
      'a0a0a0a0-0000-4000-8000-000000000001',
    );
    expect((await identify(keys, { apikey: keys.publishableKey, authorization: `bearer ${es}` })).role).toBe(
      'authenticated',
    );
  });

  it('refuses forged, expired and missing credentials with their reasons', async () => {
    const forged = await mintUserToken('x', { secret: 'another-secret-of-at-least-32-characters!!' });
    const expired = await mintUserToken('x', { expiresIn: -5 });
    expect(await refusal(identify(keys, { apikey: keys.anonKey, authorization: `Bearer ${forged}` }))).toMatch(
      /^401 signature:/,
    );
    expect(await refusal(identify(keys, { apikey: keys.anonKey, authorization: `Bearer ${expired}` }))).toMatch(
      /^401 expired:/,
    );
    expect(await refusal(identify(keys, {}))).toBe('401 no_api_key: No API key found in request');
    expect(await refusal(identify(keys, { authorization: `Bearer ${keys.anonKey}` }, { requireApiKey: true }))).toMatch(
      /^401 no_api_key/,
    );
    // A forged apikey is refused even when the bearer is good.
    expect(await refusal(identify(keys, { apikey: forged, authorization: `Bearer ${keys.anonKey}` }))).toBe(
      '401 invalid_api_key: Invalid API key',
    );
  });

  it('publishes public keys only; services also get the secret as an oct key', () => {
    expect(publishedJwks(keys).keys.every((key) => key.d === undefined && key.k === undefined)).toBe(true);
    expect(serviceJwks(keys).keys.map((key) => key.kty)).toEqual(['EC', 'oct']);
  });
});
