/**
 * The stages of `npm test`, in order. Each returns how many tests passed and failed; a stage marked
 * stopOnFailure ends the run when it fails, because every later stage depends on it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../stack/lib/process.ts';
import type { StackConfig } from '../../stack/config.ts';
import { adviseDatabase, lintDatabase, resetDatabase, testDatabase } from '../../stack/db/database.ts';
import { checkTypes } from '../../stack/db/types.ts';
import { stackVariables, startStack } from '../../stack/stack.ts';
import { denoCheckFunctions } from '../../stack/functions/deno-check.ts';
import { countPgProve } from './pg-prove-output.ts';
import { checkPoliciesAreTested } from './rls-mutation.ts';
import { ensureChromium } from '../../test-support/browser.ts';

export interface StageResult {
  passed: number;
  failed: number;
}

export interface Stage {
  name: string;
  stopOnFailure?: boolean;
  run(config: StackConfig): Promise<StageResult>;
}

/** A program installed by npm ci. */
const bin = (config: StackConfig, name: string): string => join(config.projectRoot, 'node_modules', '.bin', name);

/** What the formatter owns (as `npm run format` and `npm run format:check`). */
const formattedFiles = ['**/*.ts', '**/*.tsx'];

const one = (ok: boolean): StageResult => ({ passed: ok ? 1 : 0, failed: ok ? 0 : 1 });

async function succeeds(command: string, args: string[], config: StackConfig): Promise<boolean> {
  const result = await run(command, args, { cwd: config.projectRoot, inherit: true, allowFailure: true });
  return result.code === 0;
}

export const stages: Stage[] = [
  {
    name: 'typecheck (tsc --noEmit, and the demo app)',
    run: async (config) =>
      one(
        (await succeeds(bin(config, 'tsc'), ['--noEmit'], config)) &&
          (await succeeds(bin(config, 'tsc'), ['--noEmit', '-p', 'examples/web'], config)),
      ),
  },
  {
    name: 'lint (oxlint, .oxlintrc.json)',
    run: async (config) => one(await succeeds(bin(config, 'oxlint'), ['--deny-warnings'], config)),
  },
  {
    name: 'format (oxfmt --check, .oxfmtrc.json)',
    run: async (config) => one(await succeeds(bin(config, 'oxfmt'), ['--check', ...formattedFiles], config)),
  },
  {
    name: 'start a fresh local stack',
    stopOnFailure: true,
    run: async (config) => {
      await startStack(config, (line) => console.log(`[stack] ${line}`));
      return one(true);
    },
  },
  {
    name: 'supabase db reset (real CLI)',
    stopOnFailure: true,
    run: async (config) => (await resetDatabase(config), one(true)),
  },
  {
    name: 'supabase db lint (real CLI)',
    run: async (config) => (await lintDatabase(config), one(true)),
  },
  {
    name: 'supabase db advisors --type all --fail-on warn (real CLI)',
    run: async (config) => (await adviseDatabase(config), one(true)),
  },
  {
    name: 'pgTAP suite (pg_prove)',
    run: async (config) => {
      const result = await testDatabase(config, { inherit: false });
      console.log(result.output.trimEnd());
      return countPgProve(result.output, result.passed);
    },
  },
  {
    name: 'the pgTAP suite and the Data API tests fail when policies are dropped or opened up',
    run: async (config) => checkPoliciesAreTested(config),
  },
  {
    name: 'committed database types equal `supabase gen types`',
    run: async (config) => {
      const result = await checkTypes(config);
      (result.ok ? console.log : console.error)(result.message);
      return one(result.ok);
    },
  },
  {
    name: 'deno check on every edge function',
    run: async (config) => one(await denoCheckFunctions(config)),
  },
  {
    // The demo's browser tests run in Debian's Chromium, installed like the PostgreSQL extensions.
    name: "Chromium for the browser tests (Debian's package)",
    run: async () => (await ensureChromium((line) => console.log(`[browser] ${line}`)), one(true)),
  },
  {
    name: 'vitest (unit and integration)',
    run: async (config) => {
      const report = join(config.stackDir, 'vitest-report.json');
      const vitest = join(config.projectRoot, 'node_modules', '.bin', 'vitest');
      await run(vitest, ['run', '--reporter=default', '--reporter=json', `--outputFile=${report}`], {
        cwd: config.projectRoot,
        env: { ...process.env, ...stackVariables(config) },
        inherit: true,
        allowFailure: true,
      });
      if (!existsSync(report)) return one(false);
      const json = JSON.parse(readFileSync(report, 'utf8')) as {
        numPassedTests: number;
        numFailedTests: number;
        success: boolean;
      };
      return {
        passed: json.numPassedTests,
        failed: json.numFailedTests + (json.success ? 0 : json.numFailedTests === 0 ? 1 : 0),
      };
    },
  },
  {
    // A few seconds of the latency harness: idle, 100 writes/s, 1,000 changes/s, the sync
    // path and a dropped socket with catch-up. Fails on any loss or any leak; latency is printed, never asserted.
    name: 'latency harness (small run)',
    run: async (config) =>
      one(
        await succeeds(
          join(config.projectRoot, 'node_modules', '.bin', 'tsx'),
          ['bench/harness/latency.ts', '--quick'],
          config,
        ),
      ),
  },
];
