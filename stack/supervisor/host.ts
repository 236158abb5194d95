/**
 * One service in a process of its own: `host.ts <services module> <name>` loads that entry of the
 * module's `services` (../gateway/services.ts unless a test names another list) and nothing else,
 * serves it on a loopback port the kernel picks (so two stacks on one machine never collide) and
 * tells the supervisor that port over the IPC channel once it answers.
 *
 * Stops on SIGTERM or SIGINT, and when the supervisor goes away (the IPC channel closes), closing the
 * service first (the functions host stops its Deno workers); in the latter case it also kills what is
 * left of its process group, since no supervisor will. A factory that fails makes the process exit 1
 * with the factory's error in the service's log.
 */
import type { Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import { report } from '../lib/errors.ts';
import { loadConfig } from '../config.ts';
import { createServiceServer, type GatewayService, type ServiceList } from '../gateway/server.ts';
import type { ReadyMessage } from './protocol.ts';

async function main(): Promise<void> {
  const [modulePath, name] = process.argv.slice(2);
  const { services } = (await import(pathToFileURL(modulePath!).href)) as { services: ServiceList };
  const load = Object.hasOwn(services, name!) ? services[name!] : undefined;
  if (!load) throw new Error(`no service ${name} in ${modulePath}`);
  const config = loadConfig();
  let service: GatewayService | undefined;
  let server: Server | undefined;
  let stopping = false;
  // Orphaned (the supervisor is gone, so nobody will clean up after us): end the whole process
  // group at the end, whatever the service started and did not stop.
  const stop = async (orphaned = false) => {
    if (stopping) return;
    stopping = true;
    const end = () => (orphaned ? process.kill(-process.pid, 'SIGKILL') : process.exit(0));
    setTimeout(end, 8000).unref();
    server?.closeAllConnections();
    await service?.close().catch((error: unknown) => console.error(error));
    end();
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.on('disconnect', () => void stop(true));

  service = await (await load())(config);
  const listening = createServiceServer([service]);
  // Longer than the gateway keeps an idle connection (proxy.ts), so the gateway never sends a
  // request on a connection this side is closing.
  listening.keepAliveTimeout = 65_000;
  server = listening;
  await new Promise<void>((resolve, reject) => {
    listening.once('error', reject);
    listening.listen(0, '127.0.0.1', resolve);
  });
  const address = listening.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  console.log(`[${service.name}] answering on 127.0.0.1:${port} (prefix ${service.prefix})`);
  const ready: ReadyMessage = {
    type: 'ready',
    name: service.name,
    prefix: service.prefix,
    port,
    describe: service.describe?.(),
  };
  process.send?.(ready);
  if (stopping) await stop();
}

main().catch((error: unknown) => process.exit(report(error)));
