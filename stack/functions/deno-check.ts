/**
 * `deno check` over every edge function's entry point, with the functions' import map: the type
 * check the platform's bundler would do, run by `npm test`.
 */
import { run } from '../lib/process.ts';
import type { StackConfig } from '../config.ts';
import { denoBinary, denoCacheDir, denoConfig } from './deno-worker.ts';
import { readFunctionSpecs } from './function-config.ts';

export async function denoCheckFunctions(config: StackConfig): Promise<boolean> {
  const entrypoints = readFunctionSpecs(config.projectRoot).map((spec) => spec.entrypoint);
  if (entrypoints.length === 0) return false;
  const result = await run(
    denoBinary(config.projectRoot),
    ['check', '--quiet', `--config=${denoConfig(config.projectRoot)}`, ...entrypoints],
    {
      cwd: config.projectRoot,
      env: { ...process.env, DENO_DIR: denoCacheDir(config.projectRoot), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
      inherit: true,
      allowFailure: true,
    },
  );
  if (result.code === 0) console.log(`deno check passed: ${entrypoints.length} functions`);
  return result.code === 0;
}
