/**
 * Builds the demo app against the built device-client package and serves it (Vite's build and
 * preview server): what `npm run demo` and the browser tests run.
 *
 * The app imports `@virgil/sync-client` and `@virgil/sync-client/react` as an app that installed
 * the package does; they resolve through the package's own `exports` map (client/package.json) to
 * its built files in client/dist, the files `npm pack` puts in the tarball.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, preview, type Alias } from 'vite';
import { run } from '../../stack/lib/process.ts';

const appDir = dirname(fileURLToPath(import.meta.url));
const clientDir = join(appDir, '..', '..', 'client');

export interface DemoOptions {
  /** The stack's API URL and publishable key (`stack:status`). */
  apiUrl: string;
  publishableKey: string;
  /** Where the built app is written. */
  outDir: string;
  /** 0: any free port. */
  port: number;
}

export interface DemoServer {
  url: string;
  close(): Promise<void>;
}

/** `@virgil/sync-client[/sub]` → the built file its exports map names. */
function packageAliases(): Alias[] {
  const manifest = JSON.parse(readFileSync(join(clientDir, 'package.json'), 'utf8')) as {
    name: string;
    exports: Record<string, { default: string }>;
  };
  return Object.entries(manifest.exports).map(([subpath, target]) => ({
    find: new RegExp(`^${(manifest.name + subpath.slice(1)).replace(/[/.]/g, '\\$&')}$`),
    replacement: join(clientDir, target.default),
  }));
}

/** Builds the package (its own `build` script, as `npm pack` does), then the app. */
export async function buildDemo(options: Omit<DemoOptions, 'port'>): Promise<void> {
  await run('npm', ['run', '--silent', 'build'], { cwd: clientDir });
  await build({
    root: appDir,
    configFile: false,
    logLevel: 'warn',
    resolve: { alias: packageAliases() },
    esbuild: { jsx: 'automatic' },
    define: {
      'import.meta.env.VITE_SUPABASE_URL': JSON.stringify(options.apiUrl),
      'import.meta.env.VITE_SUPABASE_PUBLISHABLE_KEY': JSON.stringify(options.publishableKey),
    },
    build: {
      outDir: options.outDir,
      emptyOutDir: true,
      sourcemap: true,
      // supabase-js, React and zod make one chunk of about 600 kB (170 kB gzipped); a demo needs no splitting.
      chunkSizeWarningLimit: 1000,
      rollupOptions: {
        // zod's sources carry `@__PURE__` comments in places Rollup ignores; it says so for each one.
        onwarn: (warning, warn) => warning.code === 'INVALID_ANNOTATION' || warn(warning),
      },
    },
  });
}

export async function startDemo(options: DemoOptions): Promise<DemoServer> {
  await buildDemo(options);
  const server = await preview({
    root: appDir,
    configFile: false,
    logLevel: 'warn',
    build: { outDir: options.outDir },
    preview: { host: '127.0.0.1', port: options.port, strictPort: true, open: false },
  });
  const { port } = server.httpServer.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => server.close(),
  };
}
