/**
 * What `npm run bench:hostile` watches around each probe: the stack's processes (the supervisor's
 * state: the gateway and every service, and the database's postmaster.pid), their resident memory
 * and restarts, and the rows of the synced tables.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sql } from 'postgres';
import type { StackConfig } from '../../stack/config.ts';
import { supervisorState } from '../../stack/stack.ts';

export interface Service {
  name: string;
  pid: number;
  /** Times the supervisor restarted it so far (a restart is an exit). */
  restarts: number;
}

/** The supervisor, the gateway and every service it runs, and the database's postmaster. */
export function stackProcesses(config: StackConfig): Service[] {
  const state = supervisorState(config);
  const services: Service[] = [];
  if (state) {
    services.push({ name: 'supervisor', pid: state.pid, restarts: 0 });
    for (const service of state.services) {
      if (service.pid !== undefined)
        services.push({ name: service.name, pid: service.pid, restarts: service.restarts });
    }
  }
  try {
    const postmaster = Number(
      readFileSync(join(config.stackDir, 'db', 'data', 'postmaster.pid'), 'utf8').split('\n')[0],
    );
    if (Number.isInteger(postmaster)) services.push({ name: 'postgres', pid: postmaster, restarts: 0 });
  } catch {
    // No database state here.
  }
  return services;
}

/** Names of the services that exited since `before` was read: restarted, or gone. */
export function exitedSince(config: StackConfig, before: Service[]): string[] {
  const now = new Map(stackProcesses(config).map((service) => [service.name, service]));
  return before
    .filter((service) => {
      const current = now.get(service.name);
      return (
        current === undefined ||
        current.pid !== service.pid ||
        current.restarts !== service.restarts ||
        !isAlive(service.pid)
      );
    })
    .map((service) => service.name);
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
