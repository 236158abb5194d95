/**
 * Access tokens as GoTrue signs them (github.com/supabase/auth internal/tokens/service.go,
 * internal/api/token.go): the same claims, signed with the stack's signing key (the CLI's ES256
 * key, or `[auth] signing_keys_path`), so every service verifies them with the one key set.
 */
import type { KeySet } from '../identity/keys.ts';
import { signWithSigningKey } from '../identity/jwt.ts';
import type { Session } from './sessions.ts';
import type { AuthSettings } from './settings.ts';
import type { UserRow } from './users.ts';

export interface TokenAnswer {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  expires_at: number;
  refresh_token: string;
  user: Record<string, unknown>;
}

export async function accessToken(
  user: UserRow,
  session: Session,
  settings: AuthSettings,
  keys: KeySet,
): Promise<{ token: string; expiresAt: number }> {
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + settings.jwtExpiry;
  const token = await signWithSigningKey(
    {
      iss: settings.externalUrl,
      sub: user.id,
      aud: user.aud ?? 'authenticated',
      exp,
      iat,
      email: user.email ?? '',
      phone: user.phone ?? '',
      app_metadata: user.raw_app_meta_data ?? {},
      user_metadata: user.raw_user_meta_data ?? {},
      role: user.role ?? 'authenticated',
      aal: 'aal1',
      amr: session.amr,
      session_id: session.id,
      is_anonymous: user.is_anonymous,
    },
    keys,
  );
  return { token, expiresAt: exp };
}

export async function tokenAnswer(
  user: UserRow,
  userJson: Record<string, unknown>,
  session: Session,
  settings: AuthSettings,
  keys: KeySet,
): Promise<TokenAnswer> {
  const { token, expiresAt } = await accessToken(user, session, settings, keys);
  return {
    access_token: token,
    token_type: 'bearer',
    expires_in: settings.jwtExpiry,
    expires_at: expiresAt,
    refresh_token: session.refreshToken,
    user: userJson,
  };
}
