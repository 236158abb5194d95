/**
 * Faults injected mid-run (local stack only, except drop-socket):
 *
 *   drop-socket        terminate device B's current socket, as a network drop would (no close frame)
 *   restart-realtime   stop and start the API services (stack:stop + stack:start without the database)
 *   restart-postgres   `pg_ctl stop -m fast` and start of the cluster (stack/db)
 */
import { startDatabase, stopDatabase } from '../../stack/db/database.ts';
import { startStack, stopServices } from '../../stack/stack.ts';
import type { Device } from './devices.ts';
import type { FaultKind, HarnessOptions } from './options.ts';
import { sleep } from '../../stack/lib/sleep.ts';

export async function injectFault(
  kind: FaultKind,
  options: HarnessOptions,
  victim: Device,
  log: (line: string) => void,
): Promise<void> {
  switch (kind) {
    case 'drop-socket': {
      const socket = victim.sockets.at(-1);
      if (!socket) throw new Error(`${victim.name} has no socket to drop`);
      socket.terminate();
      return;
    }
    case 'restart-realtime':
      await stopServices(options.config);
      await startStack(options.config, log);
      return;
    case 'restart-postgres': {
      await stopDatabase(options.config);
      // The port can take a moment to be free again; try a few times before giving up.
      for (let attempt = 1; ; attempt++) {
        try {
          await startDatabase(options.config, log);
          return;
        } catch (error) {
          if (attempt >= 5) throw error;
          log(`starting PostgreSQL again failed (${(error as Error).message.split('\n')[0]}); retrying`);
          await sleep(1000);
        }
      }
    }
  }
}
