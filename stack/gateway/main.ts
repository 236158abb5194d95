/**
 * The gateway process that `npm run stack:start` runs in the background.
 *
 * Reads: the same configuration as every stack command (../config.ts).
 * Writes: `<stack folder>/gateway.json` ({ pid, url }) once it listens; removes it on exit.
 * Stops on SIGTERM or SIGINT, closing every service first.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { report } from '../lib/errors.ts';
import { loadConfig } from '../config.ts';
import { createGateway, type GatewayService } from './server.ts';
import { serviceFactories } from './services.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  const services: GatewayService[] = [];
  for (const factory of serviceFactories) services.push(await factory(config));
  const server = createGateway(services);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.api.port, '127.0.0.1', resolve);
  });
  const stateFile = join(config.stackDir, 'gateway.json');
  writeFileSync(stateFile, JSON.stringify({ pid: process.pid, url: config.api.url }));
  console.log(`[gateway] listening on ${config.api.url} with ${services.map((s) => s.name).join(', ') || 'no services'}`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    server.closeAllConnections();
    await Promise.allSettled(services.map((service) => service.close()));
    server.close();
    rmSync(stateFile, { force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((error: unknown) => process.exit(report(error)));
