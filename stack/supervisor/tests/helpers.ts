/** Polling with a deadline, and the supervisor's state, for the supervisor's tests. */
import { createServer } from 'node:net';
import type { StackConfig } from '../../config.ts';
import { supervisorState } from '../../stack.ts';
import type { ServiceStatus } from '../protocol.ts';

/** Polls `probe` every 20 ms until it returns a value other than undefined; throws at the deadline. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  deadlineMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${what}: not within ${deadlineMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

export function service(config: StackConfig, name: string): ServiceStatus {
  const found = supervisorState(config)?.services.find((entry) => entry.name === name);
  if (!found) throw new Error(`no service ${name} in the supervisor's state`);
  return found;
}

/** Waits until `name` runs again after `restartsBefore` restarts, and returns its status. */
export const restarted = (config: StackConfig, name: string, restartsBefore: number, deadlineMs = 30_000) =>
  until(
    `${name} running again`,
    () => {
      const status = service(config, name);
      return status.state === 'running' && status.restarts > restartsBefore ? status : undefined;
    },
    deadlineMs,
  );

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
