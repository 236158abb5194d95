/**
 * Proves the pgTAP suite guards the policies: with every policy dropped, and again with every
 * policy replaced by one that lets any signed-in user touch any row, the suite must fail. A suite
 * that ran its assertions as a role bypassing RLS would pass both, and so would be caught here.
 *
 * The Data API tests (supabase/tests/integration/data-api, requests through the real PostgREST)
 * must fail too under each mutation of the app's tables: they are the same promise made over HTTP.
 *
 * Each mutation is applied to the test database, the suites are run, and the database is reset with
 * the real CLI afterwards, so later stages see the real policies again.
 */
import { join } from 'node:path';
import type { StackConfig } from '../../stack/config.ts';
import { resetDatabase, testDatabase } from '../../stack/db/database.ts';
import { connectAs } from '../../stack/db/platform.ts';
import { run } from '../../stack/lib/process.ts';
import { stackVariables } from '../../stack/stack.ts';

/** Whether the Data API tests pass against the database as it is now. */
async function dataApiTestsPass(config: StackConfig): Promise<boolean> {
  const vitest = join(config.projectRoot, 'node_modules', '.bin', 'vitest');
  const result = await run(vitest, ['run', 'supabase/tests/integration/data-api'], {
    cwd: config.projectRoot,
    env: { ...process.env, ...stackVariables(config) },
    allowFailure: true,
  });
  return result.code === 0;
}

/** Drops every policy of the tables of `schema`. */
const dropEveryPolicy = (schema: string) => `
  do $$
  declare p record;
  begin
    for p in select policyname, tablename from pg_policies where schemaname = '${schema}' loop
      execute format('drop policy %I on ${schema}.%I', p.policyname, p.tablename);
    end loop;
  end $$;`;

/** Replaces them with one policy that lets any signed-in user do anything with any row. */
const openEveryTable = (schema: string) => `
  ${dropEveryPolicy(schema)}
  do $$
  declare t record;
  begin
    for t in select tablename from pg_tables where schemaname = '${schema}' and rowsecurity loop
      execute format('create policy "anyone signed in, any row" on ${schema}.%I for all to authenticated using (true) with check (true)', t.tablename);
    end loop;
  end $$;`;

// The app's tables (public), and separately the private topics' policies on realtime.messages, so
// that each set is proven guarded on its own (those by the story that asks them, to keep it quick).
const realtimeStories = ['000-setup-test-helpers.sql', '08-private-sync-topic-is-personal.sql'];
const mutations: { name: string; sql: string; files?: string[]; dataApi?: boolean }[] = [
  { name: 'every policy dropped', sql: dropEveryPolicy('public'), dataApi: true },
  { name: 'every policy opened to every signed-in user', sql: openEveryTable('public'), dataApi: true },
  { name: 'the realtime.messages policies dropped', sql: dropEveryPolicy('realtime'), files: realtimeStories },
  { name: 'realtime.messages opened to every signed-in user', sql: openEveryTable('realtime'), files: realtimeStories },
];

export async function checkPoliciesAreTested(config: StackConfig): Promise<{ passed: number; failed: number }> {
  let passed = 0;
  let failed = 0;
  try {
    for (const mutation of mutations) {
      const sql = connectAs(config, 'postgres');
      try {
        await sql.unsafe(mutation.sql).simple();
      } finally {
        await sql.end({ timeout: 5 });
      }
      const files = mutation.files?.map((file) => join(config.projectRoot, 'supabase', 'tests', 'database', file));
      const result = await testDatabase(config, { inherit: false, ...(files ? { files } : {}) });
      const failing = [...result.output.matchAll(/^(\S+\.sql) .*\b(?:Failed|Dubious)/gm)].map((m) => m[1]);
      if (result.passed) {
        failed += 1;
        console.log(`not caught: the suite still passes with ${mutation.name}`);
      } else {
        passed += 1;
        console.log(`caught: with ${mutation.name} the suite fails (${failing.length} files red)`);
      }
      if (mutation.dataApi) {
        if (await dataApiTestsPass(config)) {
          failed += 1;
          console.log(`not caught: the Data API tests still pass with ${mutation.name}`);
        } else {
          passed += 1;
          console.log(`caught: with ${mutation.name} the Data API tests fail`);
        }
      }
      await resetDatabase(config, { quiet: true });
    }
  } catch (error) {
    await resetDatabase(config, { quiet: true });
    throw error;
  }
  return { passed, failed };
}
