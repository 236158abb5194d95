/**
 * The platform janitor's upkeep of `realtime.messages` (supabase/realtime
 * lib/realtime/tenants/janitor/maintenance_task.ex): partitions for yesterday through three days
 * ahead are created, owned by supabase_realtime_admin, and partitions of days older than 72 hours
 * are dropped. Run when the server starts and every hour, so a message always finds its partition
 * (realtime.send would otherwise turn the write into a WARNING and lose the message).
 */
import type { Sql } from 'postgres';

export const RETENTION_HOURS = 72;
const DAY_MS = 24 * 3600 * 1000;

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
export const partitionName = (day: string) => `messages_${day.replaceAll('-', '_')}`;

/** The days that must have a partition, and the first day whose partition is kept. */
export function plan(now: number): { create: string[]; keepFrom: string } {
  const create = [-1, 0, 1, 2, 3].map((offset) => isoDay(now + offset * DAY_MS));
  return { create, keepFrom: isoDay(now - RETENTION_HOURS * 3600 * 1000) };
}

export async function maintainPartitions(
  sql: Sql,
  now = Date.now(),
): Promise<{ created: string[]; dropped: string[] }> {
  const { create, keepFrom } = plan(now);
  const existing = new Set(
    (
      await sql<{ name: string }[]>`
        select child.relname as name from pg_catalog.pg_inherits i
          join pg_catalog.pg_class child on child.oid = i.inhrelid
         where i.inhparent = 'realtime.messages'::regclass`
    ).map((row) => row.name),
  );
  const created: string[] = [];
  for (const day of create) {
    const name = partitionName(day);
    if (existing.has(name)) continue;
    const next = isoDay(Date.parse(day) + DAY_MS);
    await sql.unsafe(
      `create table if not exists realtime.${name} partition of realtime.messages for values from ('${day}') to ('${next}')`,
    );
    await sql.unsafe(`alter table realtime.${name} owner to supabase_realtime_admin`);
    created.push(name);
  }
  const dropped: string[] = [];
  for (const name of existing) {
    const day = /^messages_(\d{4})_(\d{2})_(\d{2})$/.exec(name);
    if (day && `${day[1]}-${day[2]}-${day[3]}` < keepFrom) {
      await sql.unsafe(`drop table if exists realtime.${name}`);
      dropped.push(name);
    }
  }
  return { created, dropped };
}
