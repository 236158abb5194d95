/**
 * The scenario in real Chromium (Debian's package through playwright-core, test-support/browser.ts):
 * bench/client/page.ts bundled with esbuild, served from 127.0.0.1 (IndexedDB needs an origin) with
 * cross-origin isolation, so `performance.now()` has its fine resolution (5 µs rather than 100 µs).
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import { projectRoot } from '../../stack/config.ts';
import { launchChromium } from '../../test-support/browser.ts';
import type { ScenarioOptions, ScenarioResult } from './scenario.ts';

export interface ChromiumRun extends ScenarioResult {
  browser: string;
  crossOriginIsolated: boolean;
}

/** `cpuProfile`: a file to write the page's CPU profile to (open it in Chrome's DevTools). */
export async function runInChromium(
  options: Omit<ScenarioOptions, 'indexedDB' | 'log'>,
  cpuProfile?: string,
): Promise<ChromiumRun> {
  const bundle = await build({
    entryPoints: [join(projectRoot, 'bench', 'client', 'page.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2023',
    write: false,
    absWorkingDir: projectRoot,
    logLevel: 'silent',
  });
  const script = bundle.outputFiles[0]!.contents;
  const isolated = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };
  const server = createServer((request, response) => {
    if (request.url === '/bench.js') {
      response.writeHead(200, { 'content-type': 'text/javascript', ...isolated });
      response.end(script);
    } else {
      response.writeHead(200, { 'content-type': 'text/html', ...isolated });
      response.end('<!doctype html><title>bench:client</title><script type="module" src="/bench.js"></script>');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    page.on('console', (message) => console.log(`  chromium: ${message.text()}`));
    page.on('pageerror', (error) => console.log(`  chromium page error: ${error.message}`));
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => 'runClientBench' in globalThis);
    const cdp = cpuProfile ? await page.context().newCDPSession(page) : undefined;
    if (cdp) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.start');
    }
    const result = await page.evaluate(
      (opts) =>
        (globalThis as unknown as { runClientBench: (o: typeof opts) => Promise<ScenarioResult> }).runClientBench(opts),
      options,
    );
    if (cdp) writeFileSync(cpuProfile!, JSON.stringify((await cdp.send('Profiler.stop')).profile));
    const crossOriginIsolated = await page.evaluate(
      () => (globalThis as unknown as { crossOriginIsolated?: boolean }).crossOriginIsolated === true,
    );
    return { ...result, browser: `Chromium ${browser.version()}`, crossOriginIsolated };
  } finally {
    await browser.close();
    server.close();
  }
}
