/**
 * @module The functions' configuration, read once at start-up.
 *
 * The platform (and the local functions host) give every function these variables. A missing one
 * stops the function at start-up with its name, rather than failing later on the first request.
 */

export interface FunctionEnv {
  supabaseUrl: string;
  anonKey: string;
  serviceRoleKey: string;
  dbUrl: string;
  /** JSON Web Key Set the platform verifies tokens with: the HS256 secret and the public signing keys. */
  jwks: { keys: Record<string, unknown>[] };
}

const required = [
  'SUPABASE_URL',
  'SUPABASE_ANON_KEY',
  'SUPABASE_SERVICE_ROLE_KEY',
  'SUPABASE_DB_URL',
  'SUPABASE_JWKS',
] as const;

export function readFunctionEnv(get: (name: string) => string | undefined): FunctionEnv {
  const missing = required.filter((name) => !get(name));
  if (missing.length > 0) throw new Error(`missing environment variable(s): ${missing.join(', ')}`);
  let jwks: FunctionEnv['jwks'];
  try {
    jwks = JSON.parse(get('SUPABASE_JWKS')!) as FunctionEnv['jwks'];
  } catch {
    throw new Error('SUPABASE_JWKS is not valid JSON');
  }
  if (!Array.isArray(jwks?.keys) || jwks.keys.length === 0) throw new Error('SUPABASE_JWKS has no keys');
  return {
    supabaseUrl: get('SUPABASE_URL')!,
    anonKey: get('SUPABASE_ANON_KEY')!,
    serviceRoleKey: get('SUPABASE_SERVICE_ROLE_KEY')!,
    dbUrl: get('SUPABASE_DB_URL')!,
    jwks,
  };
}
