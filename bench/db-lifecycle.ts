/**
 * `npm run bench:db`: how long the local database's commands take, measured as a user runs them
 * (`npm run …`, so npm, tsx and the Supabase CLI start-up are included).
 *
 *   setup from nothing: the whole stack, until a function answers   5 runs
 *   db:start from nothing (cluster creation included)   5 runs
 *   db:reset with the cluster running                    50 runs, failures counted
 *   db:reset with the cluster stopped                    5 runs
 *
 * It uses a stack of its own (.stack/bench, database port 54342) and deletes it at the end.
 * Prints a table and writes .stack/reports/bench-db.json. Runs: --resets N changes the 50.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { loadConfig, projectRoot } from '../stack/config.ts';
import { destroyDatabase } from '../stack/db/database.ts';
import { stopServices } from '../stack/stack.ts';
import { summarize, table } from './stats.ts';

const env = {
  ...process.env,
  VIRGIL_STACK_DIR: join(projectRoot, '.stack', 'bench'),
  VIRGIL_DB_PORT: '54342',
  VIRGIL_API_PORT: '54341',
};
const resetRuns = Number(process.argv[process.argv.indexOf('--resets') + 1]) || 50;

function timeNpm(script: string): { ms: number; ok: boolean; output: string } {
  const t0 = performance.now();
  const result = spawnSync('npm', ['run', '-s', script], { cwd: projectRoot, env, encoding: 'utf8' });
  return { ms: performance.now() - t0, ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

async function main(): Promise<number> {
  const config = loadConfig(env);
  const samples = {
    setupFromNothing: [] as number[],
    startFromNothing: [] as number[],
    resetRunning: [] as number[],
    resetFromStopped: [] as number[],
  };
  const failures: string[] = [];
  const record = (name: keyof typeof samples, run: ReturnType<typeof timeNpm>) => {
    if (run.ok) samples[name].push(run.ms);
    else failures.push(`${name}: ${run.output.trim().split('\n').slice(-3).join(' | ')}`);
  };
  try {
    for (let i = 0; i < 5; i += 1) {
      await stopServices(config);
      await destroyDatabase(config);
      const setup = timeNpm('setup');
      // Ready means a function answers: `sync` without a token is refused by the function itself.
      const t0 = performance.now();
      const answer = setup.ok
        ? await fetch(`${config.api.url}/functions/v1/sync`, { method: 'POST', body: '{}' })
        : undefined;
      const answered = answer !== undefined && answer.status === 401;
      record('setupFromNothing', {
        ...setup,
        ms: setup.ms + (performance.now() - t0),
        ok: answered,
        output: answered ? '' : `${setup.output} (function answered ${answer?.status})`,
      });
    }
    await stopServices(config);
    for (let i = 0; i < 5; i += 1) {
      await destroyDatabase(config);
      record('startFromNothing', timeNpm('db:start'));
    }
    timeNpm('db:reset');
    for (let i = 0; i < resetRuns; i += 1) record('resetRunning', timeNpm('db:reset'));
    for (let i = 0; i < 5; i += 1) {
      timeNpm('db:stop');
      record('resetFromStopped', timeNpm('db:reset'));
    }
  } finally {
    await stopServices(config);
    await destroyDatabase(config);
  }

  const rows = Object.entries(samples).map(([name, values]) => {
    const s = summarize(values);
    return [name, s.runs, s.p50.toFixed(0), s.p95.toFixed(0), s.max.toFixed(0)];
  });
  console.log(`machine: ${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown cpu'}`);
  console.log(table(['command (ms)', 'runs', 'p50', 'p95', 'max'], rows));
  console.log(`failures: ${failures.length}`);
  for (const failure of failures) console.log(`  ${failure}`);

  const reportDir = join(projectRoot, '.stack', 'reports');
  mkdirSync(reportDir, { recursive: true });
  const report = {
    measuredAt: new Date().toISOString(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model },
    milliseconds: Object.fromEntries(
      Object.entries(samples).map(([name, values]) => [name, { ...summarize(values), samples: values }]),
    ),
    failures,
  };
  writeFileSync(join(reportDir, 'bench-db.json'), `${JSON.stringify(report, null, 2)}\n`);
  return failures.length === 0 ? 0 : 1;
}

main().then((code) => process.exit(code));
