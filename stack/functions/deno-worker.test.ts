/**
 * Functions start on a fresh clone without the network: a worker with an empty Deno cache and every
 * outgoing connection sent to a proxy that does not exist still starts and answers, because its npm:
 * packages come from node_modules. A function that cannot start says why, in its own words.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { serviceJwks } from '../identity/keys.ts';
import { loadConfig, projectRoot } from '../config.ts';
import { DenoWorker, FunctionBootError } from './deno-worker.ts';
import { readFunctionSpecs } from './function-config.ts';

const noNetwork = { HTTPS_PROXY: 'http://127.0.0.1:9', HTTP_PROXY: 'http://127.0.0.1:9', NO_PROXY: '' };
const platformEnv = {
  SUPABASE_URL: 'http://127.0.0.1:9',
  SUPABASE_ANON_KEY: 'anon',
  SUPABASE_SERVICE_ROLE_KEY: 'service',
  SUPABASE_DB_URL: 'postgresql://nobody@127.0.0.1:9/none',
  SUPABASE_JWKS: JSON.stringify(serviceJwks(loadConfig().keys)),
};

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function freshWorker(name: string, env: Record<string, string> = platformEnv) {
  const spec = readFunctionSpecs(projectRoot).find((candidate) => candidate.name === name)!;
  const denoDir = mkdtempSync(join(tmpdir(), 'virgil-deno-dir-'));
  const lines: string[] = [];
  const worker = new DenoWorker(spec, {
    projectRoot,
    env,
    log: (line) => lines.push(line),
    denoDir,
    trustEnv: noNetwork,
  });
  cleanup.push(() => rmSync(denoDir, { recursive: true, force: true }));
  cleanup.push(() => worker.stop());
  return { worker, lines };
}

describe('a function on a fresh clone', () => {
  it('starts with an empty Deno cache and no way out to the network, and answers', async () => {
    const { worker } = freshWorker('sync');
    const base = await worker.url();
    const answer = await fetch(`${base}/sync`, { method: 'OPTIONS' });
    expect(answer.status).toBe(204);
  }, 60_000);

  it('that cannot start fails with its own error', async () => {
    const { worker } = freshWorker('sync', { ...platformEnv, SUPABASE_JWKS: 'not json' });
    const failure = await worker.url().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(FunctionBootError);
    expect((failure as FunctionBootError).message).toMatch(/function sync failed to start/);
    expect((failure as FunctionBootError).output).toMatch(/SUPABASE_JWKS|JSON/);
  }, 60_000);
});
