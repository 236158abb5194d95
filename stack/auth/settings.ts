/**
 * The local Auth service's settings, read from `supabase/config.toml` as the CLI reads them for
 * GoTrue (`[auth]`, `[auth.email]`, `[auth.rate_limit]`), with the CLI's defaults. config.ts calls
 * this once; `VIRGIL_AUTH_JWT_EXPIRY` and `VIRGIL_AUTH_RATE_LIMIT_<NAME>` override for a test stack.
 */
import { configInvalid } from '../lib/errors.ts';

export type PasswordRequirements =
  | ''
  | 'letters_digits'
  | 'lower_upper_letters_digits'
  | 'lower_upper_letters_digits_symbols';

export interface AuthSettings {
  enabled: boolean;
  /** The issuer (`iss`) of every token: the public URL Auth serves on. */
  externalUrl: string;
  siteUrl: string;
  /** Access token lifetime, seconds. */
  jwtExpiry: number;
  enableSignup: boolean;
  enableAnonymousSignIns: boolean;
  enableRefreshTokenRotation: boolean;
  /** Seconds a used refresh token still answers with the session's current one. */
  refreshTokenReuseInterval: number;
  minimumPasswordLength: number;
  passwordRequirements: PasswordRequirements;
  email: { enableSignup: boolean; enableConfirmations: boolean };
  /** Requests per 5 minutes per client IP, as GoTrue counts them. */
  rateLimit: { signInSignUps: number; tokenRefresh: number; anonymousUsers: number };
  /** bcrypt cost of new password hashes (GoTrue uses bcrypt's default cost, 10). */
  bcryptCost: number;
}

type Toml = Record<string, unknown>;
const table = (toml: Toml, name: string): Toml =>
  typeof toml[name] === 'object' && toml[name] !== null ? (toml[name] as Toml) : {};

function read<T>(value: unknown, fallback: T, where: string, check: (raw: unknown) => raw is T): T {
  if (value === undefined) return fallback;
  if (!check(value))
    throw configInvalid(`${where} in supabase/config.toml has the wrong type: ${JSON.stringify(value)}`);
  return value;
}
const isBool = (raw: unknown): raw is boolean => typeof raw === 'boolean';
const isCount = (raw: unknown): raw is number => typeof raw === 'number' && Number.isInteger(raw) && raw >= 0;
const isText = (raw: unknown): raw is string => typeof raw === 'string';
const requirementKinds = ['', 'letters_digits', 'lower_upper_letters_digits', 'lower_upper_letters_digits_symbols'];
const isRequirement = (raw: unknown): raw is PasswordRequirements =>
  typeof raw === 'string' && requirementKinds.includes(raw);

function fromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw configInvalid(`${name} must be a whole number, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

export function authSettings(toml: Toml, env: NodeJS.ProcessEnv, apiUrl: string): AuthSettings {
  const auth = table(toml, 'auth');
  const email = table(auth, 'email');
  const limits = table(auth, 'rate_limit');
  const externalUrl = read(auth.external_url, '', '[auth] external_url', isText) || `${apiUrl}/auth/v1`;
  const jwtExpiry = fromEnv(env, 'VIRGIL_AUTH_JWT_EXPIRY', read(auth.jwt_expiry, 3600, '[auth] jwt_expiry', isCount));
  if (jwtExpiry < 1 || jwtExpiry > 604_800)
    throw configInvalid(`[auth] jwt_expiry must be from 1 to 604800 seconds, got ${jwtExpiry}`);
  return {
    enabled: read(auth.enabled, true, '[auth] enabled', isBool),
    externalUrl,
    siteUrl: read(auth.site_url, 'http://127.0.0.1:3000', '[auth] site_url', isText),
    jwtExpiry,
    enableSignup: read(auth.enable_signup, true, '[auth] enable_signup', isBool),
    enableAnonymousSignIns: read(auth.enable_anonymous_sign_ins, false, '[auth] enable_anonymous_sign_ins', isBool),
    enableRefreshTokenRotation: read(
      auth.enable_refresh_token_rotation,
      true,
      '[auth] enable_refresh_token_rotation',
      isBool,
    ),
    refreshTokenReuseInterval: fromEnv(
      env,
      'VIRGIL_AUTH_REFRESH_TOKEN_REUSE_INTERVAL',
      read(auth.refresh_token_reuse_interval, 10, '[auth] refresh_token_reuse_interval', isCount),
    ),
    minimumPasswordLength: read(auth.minimum_password_length, 6, '[auth] minimum_password_length', isCount),
    passwordRequirements: read(auth.password_requirements, '', '[auth] password_requirements', isRequirement),
    email: {
      enableSignup: read(email.enable_signup, true, '[auth.email] enable_signup', isBool),
      enableConfirmations: read(email.enable_confirmations, false, '[auth.email] enable_confirmations', isBool),
    },
    rateLimit: {
      signInSignUps: fromEnv(
        env,
        'VIRGIL_AUTH_RATE_LIMIT_SIGN_IN_SIGN_UPS',
        read(limits.sign_in_sign_ups, 30, '[auth.rate_limit] sign_in_sign_ups', isCount),
      ),
      tokenRefresh: fromEnv(
        env,
        'VIRGIL_AUTH_RATE_LIMIT_TOKEN_REFRESH',
        read(limits.token_refresh, 150, '[auth.rate_limit] token_refresh', isCount),
      ),
      anonymousUsers: fromEnv(
        env,
        'VIRGIL_AUTH_RATE_LIMIT_ANONYMOUS_USERS',
        read(limits.anonymous_users, 30, '[auth.rate_limit] anonymous_users', isCount),
      ),
    },
    bcryptCost: 10,
  };
}
