/**
 * The environment PostgREST is started with: what the Supabase CLI gives its PostgREST container
 * (supabase/cli internal/start/start.go: PGRST_DB_URI as `authenticator`, PGRST_DB_SCHEMAS,
 * PGRST_DB_EXTRA_SEARCH_PATH, PGRST_DB_MAX_ROWS from `[api]`, PGRST_DB_ANON_ROLE=anon, the JWKS as
 * PGRST_JWT_SECRET, PGRST_APP_SETTINGS_JWT_SECRET / _JWT_EXP), listening on a Unix socket in the
 * stack folder instead of a port, so nothing but this service reaches it.
 */
import { join } from 'node:path';
import type { StackConfig } from '../config.ts';
import { serviceJwks } from '../identity/keys.ts';

export const socketPathOf = (config: StackConfig) => join(config.stackDir, 'rest.sock');

export function postgrestEnv(config: StackConfig): Record<string, string> {
  return {
    PGRST_DB_URI: `postgresql://authenticator:postgres@127.0.0.1:${config.db.port}/postgres`,
    PGRST_DB_SCHEMAS: config.rest.schemas.join(','),
    PGRST_DB_EXTRA_SEARCH_PATH: config.rest.extraSearchPath.join(','),
    PGRST_DB_MAX_ROWS: String(config.rest.maxRows),
    PGRST_DB_ANON_ROLE: 'anon',
    // Both key kinds verify: the signing keys' public halves and the legacy secret as an `oct` key.
    PGRST_JWT_SECRET: JSON.stringify(serviceJwks(config.keys)),
    PGRST_APP_SETTINGS_JWT_SECRET: config.keys.jwtSecret,
    PGRST_APP_SETTINGS_JWT_EXP: '3600',
    // Schema cache reloads on `NOTIFY pgrst` (the default channel), as on the platform.
    PGRST_DB_CHANNEL_ENABLED: 'true',
    PGRST_SERVER_UNIX_SOCKET: socketPathOf(config),
    PGRST_SERVER_UNIX_SOCKET_MODE: '600',
    PGRST_LOG_LEVEL: 'error',
  };
}
