/**
 * The gateway process: the reverse proxy (proxy.ts) on the public API port, started and restarted
 * by the supervisor, which sends it the route table (every service's state and internal port) over
 * the IPC channel whenever it changes.
 *
 * Stops on SIGTERM or SIGINT, and when the supervisor goes away (the IPC channel closes).
 */
import { report } from '../lib/errors.ts';
import { loadConfig } from '../config.ts';
import { isRoutesMessage, type ReadyMessage, type ServiceStatus } from '../supervisor/protocol.ts';
import { createGateway } from './proxy.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  let services: ServiceStatus[] = [];
  let routed: () => void = () => undefined;
  const firstRoutes = new Promise<void>((resolve) => (routed = resolve));
  process.on('message', (message) => {
    if (!isRoutesMessage(message)) return;
    services = message.services;
    routed();
  });
  // Listen only once the route table is here, so a restarted gateway never answers a known prefix 404.
  if (process.send) await Promise.race([firstRoutes, new Promise((resolve) => setTimeout(resolve, 5000))]);
  const server = createGateway({ keys: config.keys, services: () => services, log: (line) => console.log(line) });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.api.port, '127.0.0.1', resolve);
  });
  console.log(`[gateway] listening on ${config.api.url}`);
  const ready: ReadyMessage = { type: 'ready', name: 'gateway', prefix: '/', port: config.api.port };
  process.send?.(ready);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.closeAllConnections();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
}

main().catch((error: unknown) => process.exit(report(error)));
