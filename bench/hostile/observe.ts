/**
 * What `npm run bench:hostile` watches around each probe: the stack's service processes (read from
 * the stack folder's state files, whatever services it holds: every `*.json` with a `pid`, and the
 * database's postmaster.pid), their resident memory, and the rows of the synced tables.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sql } from 'postgres';

export interface Service {
  name: string;
  pid: number;
}

export function servicePids(stackDir: string): Service[] {
  const services: Service[] = [];
  const scan = (dir: string, prefix: string) => {
    let entries: string[] = [];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const entry of entries) {
      if (!entry.endsWith('.json')) continue;
      try {
        const state = JSON.parse(readFileSync(join(dir, entry), 'utf8')) as Record<string, unknown>;
        if (typeof state.pid === 'number') services.push({ name: `${prefix}${entry.replace(/\.json$/, '')}`, pid: state.pid });
        for (const [key, value] of Object.entries(state)) {
          const pid = (value as { pid?: unknown } | null)?.pid;
          if (typeof pid === 'number') services.push({ name: `${prefix}${key}`, pid });
        }
      } catch {
        // Not a state file.
      }
    }
  };
  scan(stackDir, '');
  scan(join(stackDir, 'services'), '');
  try {
    const postmaster = Number(readFileSync(join(stackDir, 'db', 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (Number.isInteger(postmaster)) services.push({ name: 'postgres', pid: postmaster });
  } catch {
    // No database state here.
  }
  return services;
}

export const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Resident set size in MB, or NaN when the process is gone. */
export function rssMb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Samples a process's RSS every 200 ms until stopped; returns the peak. */
export function rssSampler(pid: number): { stop(): number } {
  let peak = rssMb(pid);
  const timer = setInterval(() => {
    const now = rssMb(pid);
    if (now > peak || Number.isNaN(peak)) peak = now;
  }, 200);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssMb(pid));
    },
  };
}

/** Row count and newest change of each synced table: any write moves one of them. */
export async function rowState(sql: Sql): Promise<string> {
  const rows = await sql<{ t: string; n: string; last: string | null }[]>`
    select 'conversations' as t, count(*)::text as n, max(updated_at)::text as last from public.conversations
    union all select 'messages', count(*)::text, max(updated_at)::text from public.messages
    union all select 'memories', count(*)::text, max(updated_at)::text from public.memories`;
  return rows.map((row) => `${row.t}:${row.n}:${row.last}`).join(' ');
}
