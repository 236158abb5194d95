/**
 * `npm run demo`: serves the demo app against the running local stack and prints its URL.
 * Start the stack first (`npm run setup`); VIRGIL_DEMO_PORT picks the port (default 5173).
 */
import { join } from 'node:path';
import { loadConfig } from '../../stack/config.ts';
import { report, StackError } from '../../stack/lib/errors.ts';
import { startDemo } from './server.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  const health = await fetch(`${config.api.url}/health`).catch(() => undefined);
  if (!health?.ok) {
    throw new StackError('STACK_NOT_RUNNING', `the local stack does not answer at ${config.api.url}/health`, {
      hint: 'start it with `npm run setup` (or `npm run stack:start`)',
    });
  }
  const demo = await startDemo({
    apiUrl: config.api.url,
    publishableKey: config.keys.publishableKey,
    outDir: join(config.stackDir, 'demo'),
    port: Number(process.env.VIRGIL_DEMO_PORT || 5173),
  });
  console.log(
    `Virgil demo: ${demo.url}  (sign in as ada@virgil.test or ben@virgil.test, password virgil-demo-password)`,
  );
  console.log('Ctrl-C stops it.');
  const stop = () => demo.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => process.exit(report(error)));
