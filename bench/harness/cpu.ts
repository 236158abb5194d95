/**
 * CPU time of a set of processes, from /proc/<pid>/stat (Linux): user + system time of every
 * thread, in microseconds (10 ms resolution: CLK_TCK is 100 on Linux). Used by the floor (floor.ts)
 * to compare what one delivered row costs our server and the bare relay, PostgreSQL's backends
 * included.
 */
import { readFileSync } from 'node:fs';

const MICROS_PER_TICK = 10_000;

/** utime + stime of `pid` in µs, or undefined when the process is gone (or not Linux). */
export function cpuMicros(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * MICROS_PER_TICK;
  } catch {
    return undefined;
  }
}

/**
 * Measures the CPU a changing set of processes spends between `start` and `stop`. `pids` is asked
 * at both ends: a process that appears in between counts from its birth, one that disappears is
 * reported in `lost` (its share is missing from the figure).
 */
export class CpuMeter {
  private before = new Map<number, number>();

  constructor(private readonly pids: () => Promise<number[]>) {}

  async start(): Promise<void> {
    this.before = new Map();
    for (const pid of await this.pids()) {
      const micros = cpuMicros(pid);
      if (micros !== undefined) this.before.set(pid, micros);
    }
  }

  async stop(): Promise<{ micros: number; processes: number; lost: number }> {
    let micros = 0;
    let processes = 0;
    const seen = new Set<number>();
    for (const pid of await this.pids()) {
      const now = cpuMicros(pid);
      if (now === undefined) continue;
      seen.add(pid);
      processes++;
      micros += now - (this.before.get(pid) ?? 0);
    }
    const lost = [...this.before.keys()].filter((pid) => !seen.has(pid)).length;
    return { micros, processes, lost };
  }
}
