import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createTokenVerifier } from './auth.ts';
import { HttpError } from './errors.ts';

const secret = 'super-secret-jwt-token-with-at-least-32-characters-long';
const verify = createTokenVerifier({
  keys: [{ kty: 'oct', k: Buffer.from(secret).toString('base64url'), alg: 'HS256' }],
});
const userId = '5b0c2d3e-8f1a-4b6c-9d2e-0f1a2b3c4d5e';

function token(claims: Record<string, unknown>, options: { secret?: string; expiresIn?: number } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresIn ?? 3600))
    .sign(new TextEncoder().encode(options.secret ?? secret));
}

async function failure(header: string | null): Promise<HttpError> {
  try {
    await verify(header);
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error('the token was accepted');
}

describe('verifying the caller', () => {
  it("accepts a signed-in user's token and returns its claims", async () => {
    const claims = await verify(`Bearer ${await token({ sub: userId, role: 'authenticated' })}`);
    expect(claims).toMatchObject({ sub: userId, role: 'authenticated' });
  });

  it.each([
    ['no header', null, 'unauthorized'],
    ['another scheme', 'Basic abc', 'unauthorized'],
    ['garbage', 'Bearer not.a.jwt', 'unauthorized'],
  ])('refuses %s', async (_name, header, code) => {
    expect((await failure(header)).code).toBe(code);
  });

  it('refuses expired and forged tokens', async () => {
    expect(
      (await failure(`Bearer ${await token({ sub: userId, role: 'authenticated' }, { expiresIn: -10 })}`)).message,
    ).toBe('JWT has expired');
    expect(
      (await failure(`Bearer ${await token({ sub: userId, role: 'authenticated' }, { secret: 'x'.repeat(40) })}`))
        .message,
    ).toBe('Invalid JWT');
  });

  it("refuses valid tokens that are not a user's: anon, service_role, no sub", async () => {
    for (const claims of [
      { role: 'anon' },
      { role: 'service_role' },
      { role: 'authenticated' },
      { role: 'authenticated', sub: 'not-a-uuid' },
    ]) {
      const error = await failure(`Bearer ${await token(claims)}`);
      expect(error).toMatchObject({ code: 'user_token_required', status: 401 });
    }
  });
});
