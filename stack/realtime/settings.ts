/**
 * Project settings of the local realtime server that the platform keeps in the dashboard.
 *
 * "Allow public access" (Realtime settings; `private_only` in the Management API): when switched
 * off, a channel must be private. The Supabase CLI has no config.toml key for it (its `[realtime]`
 * section knows `enabled`, `ip_version` and `max_header_length` only; CLI 3.1 warns on every command
 * about a key it does not know, CLI 2.117 ignored it silently), so the switch is read from
 * `[realtime] private_only = true` where a project writes it anyway, and from the environment variable
 * VIRGIL_REALTIME_PRIVATE_ONLY (1/true or 0/false), which wins. Off by default, as on the platform.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';

export interface RealtimeSettings {
  privateOnly: boolean;
}

export function readSettings(projectRoot: string, env: NodeJS.ProcessEnv = process.env): RealtimeSettings {
  const fromEnv = env.VIRGIL_REALTIME_PRIVATE_ONLY;
  if (fromEnv !== undefined && fromEnv !== '') return { privateOnly: fromEnv === '1' || fromEnv === 'true' };
  let toml: Record<string, unknown> = {};
  try {
    toml = parse(readFileSync(join(projectRoot, 'supabase', 'config.toml'), 'utf8')) as Record<string, unknown>;
  } catch {
    return { privateOnly: false };
  }
  const realtime = toml.realtime as Record<string, unknown> | undefined;
  return { privateOnly: realtime?.private_only === true };
}
