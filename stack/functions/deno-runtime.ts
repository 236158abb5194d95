/**
 * How the local functions host runs Deno without the network.
 *
 * The functions import bare names (`zod`, `postgres`, `jose`) that supabase/functions/deno.json maps
 * to pinned `npm:` specifiers. Left alone, Deno downloads those packages the first time a function
 * starts, from inside the worker, whose environment is the platform's (no certificate settings), so
 * a machine whose TLS goes through its own CA answered the first request with 503 BOOT_ERROR.
 *
 * Locally the same packages are already in node_modules: `npm ci` installed them from
 * package-lock.json at the same versions (package.json pins them; deno.json pins the same). So the
 * worker runs with a copy of deno.json's import map placed in `node_modules/.deno-functions/`, next
 * to a `node_modules` link to the project's node_modules, and `--node-modules-dir=manual`: Deno
 * resolves every `npm:` specifier from what npm installed and never opens a connection. A version in
 * deno.json that npm did not install fails the function's start with Deno's own message.
 * supabase/functions/deno.json itself is untouched, so the deployed functions build as before.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The Deno executable the npm package `deno` installs (its postinstall places it next to bin.cjs).
 * Run directly, not through node_modules/.bin/deno: that is a Node script that runs Deno as its
 * child, so a function would be two processes, and a kill of the first would leave Deno running
 * orphaned, still listening and holding its database connections. The script is the fallback when
 * the install scripts did not run (it installs the executable on first use).
 */
export function denoBinary(projectRoot: string): string {
  const native = join(projectRoot, 'node_modules', 'deno', process.platform === 'win32' ? 'deno.exe' : 'deno');
  return existsSync(native) ? native : join(projectRoot, 'node_modules', '.bin', 'deno');
}
/** The functions' own config, as deployed (and as `deno check` reads it). */
export const denoConfig = (projectRoot: string) => join(projectRoot, 'supabase', 'functions', 'deno.json');
/** Where the local runtime config and Deno's cache live: inside node_modules, so a fresh clone starts empty. */
export const localRuntimeDir = (projectRoot: string) => join(projectRoot, 'node_modules', '.deno-functions');
/** Deno's cache for the workers (transpiled modules only: packages come from node_modules). */
export const workerDenoDir = (projectRoot: string) => join(localRuntimeDir(projectRoot), 'cache');

/**
 * The variables that tell a process which certificate authorities and proxies to use. A Deno
 * process that downloads (`deno check`) needs them; the workers keep them too, so a function that
 * makes an outgoing request trusts what the machine trusts.
 */
export const networkTrustVariables = [
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'NODE_EXTRA_CA_CERTS',
  'DENO_CERT',
  'DENO_TLS_CA_STORE',
  'HTTPS_PROXY',
  'HTTP_PROXY',
  'NO_PROXY',
  'https_proxy',
  'http_proxy',
  'no_proxy',
] as const;

export function networkTrustEnv(source: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of networkTrustVariables) {
    const value = source[name];
    if (value) env[name] = value;
  }
  return env;
}

/** Writes the local runtime config (idempotent) and returns its path. */
export function prepareLocalRuntime(projectRoot: string): string {
  const dir = localRuntimeDir(projectRoot);
  mkdirSync(dir, { recursive: true });
  const deployed = JSON.parse(readFileSync(denoConfig(projectRoot), 'utf8')) as Record<string, unknown>;
  const local = {
    imports: deployed.imports ?? {},
    compilerOptions: deployed.compilerOptions ?? {},
    nodeModulesDir: 'manual',
    // npm ci already checked every package against package-lock.json.
    lock: false,
  };
  const config = join(dir, 'deno.json');
  const text = `${JSON.stringify(local, null, 2)}\n`;
  // Several stacks of one project (dev and `npm test`) share it: written only when it changes, and
  // through a rename, so a Deno starting meanwhile never reads half a file.
  if (!existsSync(config) || readFileSync(config, 'utf8') !== text) {
    const partial = `${config}.${process.pid}.tmp`;
    writeFileSync(partial, text);
    renameSync(partial, config);
  }
  const link = join(dir, 'node_modules');
  if (!existsSync(link) && !isDanglingLink(link)) {
    try {
      symlinkSync('..', link, 'dir');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return config;
}

function isDanglingLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
