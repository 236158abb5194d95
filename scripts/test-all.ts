/**
 * `npm test`: everything, from nothing, on a stack of its own.
 *
 * The run uses a separate stack (folder .stack/test, database 54332, gateway 54331 unless
 * VIRGIL_TEST_STACK_DIR / VIRGIL_TEST_DB_PORT / VIRGIL_TEST_API_PORT say otherwise), so it never
 * touches the database you develop against. It creates that stack, resets it with the real
 * Supabase CLI, runs every suite, and deletes the stack again, pass or fail.
 *
 * Exit code: 0 when every stage passed, 1 otherwise. The last line counts tests over all stages.
 */
import { join } from 'node:path';
import { report } from '../stack/lib/errors.ts';
import { loadConfig, projectRoot } from '../stack/config.ts';
import { destroyDatabase } from '../stack/db/database.ts';
import { stopServices } from '../stack/stack.ts';
import { stages, type StageResult } from './test/stages.ts';

const testEnv = {
  VIRGIL_STACK_DIR: process.env.VIRGIL_TEST_STACK_DIR ?? join(projectRoot, '.stack', 'test'),
  VIRGIL_DB_PORT: process.env.VIRGIL_TEST_DB_PORT ?? '54332',
  VIRGIL_API_PORT: process.env.VIRGIL_TEST_API_PORT ?? '54331',
  // Every test signs in from 127.0.0.1: Auth's per-IP limits (30 sign-ins per 5 minutes) would
  // refuse the suite itself. stack/auth/tests/rate-limit.test.ts checks the limits on a service of its own.
  VIRGIL_AUTH_RATE_LIMIT_SIGN_IN_SIGN_UPS: '100000',
  VIRGIL_AUTH_RATE_LIMIT_TOKEN_REFRESH: '100000',
};
Object.assign(process.env, testEnv);

async function main(): Promise<number> {
  const config = loadConfig();
  const totals = { passed: 0, failed: 0 };
  const started = Date.now();
  try {
    // A previous run that was killed may have left its stack behind.
    await stopServices(config);
    await destroyDatabase(config);
    for (const stage of stages) {
      const t0 = Date.now();
      console.log(`\n=== ${stage.name} ===`);
      let result: StageResult;
      try {
        result = await stage.run(config);
      } catch (error) {
        report(error);
        result = { passed: 0, failed: 1 };
      }
      totals.passed += result.passed;
      totals.failed += result.failed;
      const seconds = ((Date.now() - t0) / 1000).toFixed(1);
      console.log(`--- ${stage.name}: ${result.passed} passed, ${result.failed} failed (${seconds}s)`);
      if (result.failed > 0 && stage.stopOnFailure) break;
    }
  } finally {
    await stopServices(config);
    await destroyDatabase(config);
  }
  console.log(`\nnpm test took ${((Date.now() - started) / 1000).toFixed(1)}s`);
  console.log(`tests: ${totals.passed} passed, ${totals.failed} failed`);
  return totals.failed === 0 && totals.passed > 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(report(error)),
);
