/**
 * Reproduces what the Supabase platform's Postgres holds before any user migration runs: roles,
 * default privileges, the extensions and auth schemas, an empty `supabase_realtime`
 * publication, and the realtime schema's Broadcast objects (realtime.messages and its functions). The SQL lives in `platform/`, one chapter per file, each run as the role the
 * supabase/postgres image runs it as (supabase/postgres `migrations/db/migrate.sh`, https://github.com/supabase/postgres).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { whileDoing } from '../lib/errors.ts';
import type { StackConfig } from '../config.ts';

const chapters: { file: string; as: 'supabase_admin' | 'postgres' }[] = [
  { file: '00_roles.sql', as: 'supabase_admin' },
  { file: '01_public_and_extensions.sql', as: 'postgres' },
  { file: '02_auth.sql', as: 'supabase_admin' },
  { file: '03_services_and_demotion.sql', as: 'supabase_admin' },
  { file: '04_realtime.sql', as: 'supabase_admin' },
  { file: '05_auth_service.sql', as: 'supabase_admin' },
  { file: '06_auth_refresh_grant.sql', as: 'supabase_admin' },
];

const platformDir = join(dirname(fileURLToPath(import.meta.url)), 'platform');

/** The SQL of one chapter, e.g. for a service that brings an older cluster up to date. */
export const platformChapter = (file: string) => readFileSync(join(platformDir, file), 'utf8');

/** Connects to the local cluster as `user` with the local password. One connection, no notices. */
export function connectAs(config: StackConfig, user: string, database = 'postgres') {
  return postgres({
    host: '127.0.0.1',
    port: config.db.port,
    user,
    password: 'postgres',
    database,
    max: 1,
    onnotice: () => {},
    connection: { application_name: 'virgil-stack' },
  });
}

export async function bootstrapPlatform(config: StackConfig): Promise<void> {
  for (const chapter of chapters) {
    const sql = connectAs(config, chapter.as);
    try {
      await whileDoing(`platform bootstrap ${chapter.file} as ${chapter.as}`, 'PLATFORM_BOOTSTRAP_FAILED', () =>
        sql.unsafe(platformChapter(chapter.file)).simple(),
      );
    } finally {
      await sql.end({ timeout: 5 });
    }
  }
}
