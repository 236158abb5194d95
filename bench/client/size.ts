/**
 * The package's size as an app pays for it, without its peer dependencies (@supabase/supabase-js,
 * react): the JS that `npm pack ./client` ships (built with client/tsconfig.build.json), gzipped
 * file by file, and the same entry bundled into one minified file (peers external) with and
 * without its one dependency, zod.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

export interface PackageSize {
  /** Every .js file of the build, each gzipped on its own (level 9), summed. */
  distFiles: number;
  distBytes: number;
  distGzip: number;
  /** `index.js` and the React hook bundled and minified (shared code split out once), peers external. */
  bundleGzip: number;
  /** The same with zod external too: the client's own code. */
  bundleOwnGzip: number;
}

function jsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return jsFiles(path);
    return name.endsWith('.js') ? [path] : [];
  });
}

const gzip = (bytes: Uint8Array) => gzipSync(bytes, { level: 9 }).length;

export async function packageSize(projectRoot: string): Promise<PackageSize> {
  const outDir = mkdtempSync(join(tmpdir(), 'virgil-client-build-'));
  try {
    execFileSync(
      process.execPath,
      [
        join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        join(projectRoot, 'client', 'tsconfig.build.json'),
        '--outDir',
        outDir,
      ],
      { stdio: 'inherit' },
    );
    const files = jsFiles(outDir);
    const contents = files.map((file) => readFileSync(file));
    const bundle = async (external: string[]) => {
      const result = await build({
        entryPoints: [join(outDir, 'client', 'index.js'), join(outDir, 'client', 'useRealtimeSync.js')],
        bundle: true,
        splitting: true,
        minify: true,
        format: 'esm',
        platform: 'browser',
        write: false,
        outdir: join(outDir, 'bundle'),
        external: ['@supabase/supabase-js', 'react', ...external],
        absWorkingDir: projectRoot,
        // The build sits in a temporary folder: its imports resolve from the project's packages.
        nodePaths: [join(projectRoot, 'node_modules')],
        logLevel: 'silent',
      });
      return result.outputFiles
        .filter((file) => file.path.endsWith('.js'))
        .reduce((sum, f) => sum + gzip(f.contents), 0);
    };
    return {
      distFiles: files.length,
      distBytes: contents.reduce((sum, c) => sum + c.length, 0),
      distGzip: contents.reduce((sum, c) => sum + gzip(c), 0),
      bundleGzip: await bundle([]),
      bundleOwnGzip: await bundle(['zod']),
    };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}
