/**
 * `npm run bench:sync:batch`: how large a push batch can be when many devices push at once, so that
 * a normal push stays well under the database's statement timeout (8 s for `authenticated`, set
 * again by the function per transaction; supabase/functions/_shared/db.ts).
 *
 * For each batch shape (items × bytes of content per item), every device (one user each) pushes a
 * new conversation and its messages (or, with `--table memories`, new memories the function scores)
 * at the same moment, `--rounds` times. Printed per shape: the
 * answers by status, end-to-end latency (p50/p95/max), the function's wait for one of its pooled
 * connections (server-timing `connection`) and its database step (`database`: the sync_push
 * statement, what the statement timeout counts), and whether the slowest database step stayed
 * within the budget (a quarter of the statement timeout). A 503 is the function saying the database was too busy (statement timeout); anything
 * else but a 200 is a failure.
 *
 * Uses the running stack the environment names (VIRGIL_* as for `npm run stack:*`). Creates one user
 * per device and deletes them at the end.
 * Options: --devices N (32), --rounds N (2), --shapes 250x1024,500x3072 (items x bytes, default below),
 * --table messages|memories (messages).
 * Writes <stack folder>/reports/bench-sync-batch.json. Exit codes: 0 done, 1 an answer other than 200 or 503.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { report } from '../stack/lib/errors.ts';
import { createLocalUser, deleteLocalUsers, type LocalUser } from '../test-support/users.ts';
import { loadConfig } from '../stack/config.ts';
import type { SyncItem } from '../supabase/functions/_shared/sync-protocol.ts';
import { summarize, table } from './stats.ts';

const option = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
};
const devices = Number(option('devices', '32'));
const rounds = Number(option('rounds', '2'));
const shapes = option('shapes', '100x3072,250x3072,500x1024,500x3072,1000x1024,1000x3072')
  .split(',')
  .map((shape) => shape.split('x').map(Number) as [number, number]);
/** messages (a conversation and its messages) or memories (scored by the function, as a device sends them). */
const kind = option('table', 'messages');
const statementTimeoutMs = 8000;
const budgetMs = statementTimeoutMs / 4;

let sequence = 0;
function batch(items: number, bytes: number): SyncItem[] {
  const tag = `${Date.now().toString(36)}-${(sequence += 1)}`;
  const now = new Date().toISOString();
  const base = (local: string) => ({
    local_id: local,
    change_id: crypto.randomUUID(),
    client_updated_at: now,
    op: 'upsert' as const,
  });
  const content = 'I am going to Lisbon in May and I love custard tarts. '
    .repeat(Math.ceil(bytes / 54))
    .slice(0, bytes);
  if (kind === 'memories') {
    return Array.from({ length: items }, (_, i): SyncItem => ({
      table: 'memories',
      ...base(`mem-${tag}-${i}`),
      fields: { content },
    }));
  }
  return [
    { table: 'conversations', ...base(`c-${tag}`), fields: { title: `Batch ${tag}` } },
    ...Array.from({ length: items - 1 }, (_, i): SyncItem => ({
      table: 'messages',
      ...base(`m-${tag}-${i}`),
      fields: { conversation_local_id: `c-${tag}`, role: i % 2 ? 'assistant' : 'user', content },
    })),
  ];
}

async function push(functionsUrl: string, user: LocalUser, items: SyncItem[]) {
  const t0 = performance.now();
  const response = await fetch(`${functionsUrl}/sync`, {
    method: 'POST',
    headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ push: items }),
  });
  await response.arrayBuffer();
  const ms = performance.now() - t0;
  const timing = response.headers.get('server-timing') ?? '';
  const step = (name: string) => Number(new RegExp(`${name};dur=([\\d.]+)`).exec(timing)?.[1] ?? Number.NaN);
  return { status: response.status, ms, connectionMs: step('connection'), databaseMs: step('database') };
}

async function main(): Promise<number> {
  const config = loadConfig();
  const sql = postgres(config.db.url, { max: 2, onnotice: () => {} });
  const users: LocalUser[] = [];
  const functionsUrl = `${config.api.url}/functions/v1`;
  const rows: (string | number)[][] = [];
  const results: unknown[] = [];
  let failed = false;
  try {
    for (let i = 0; i < devices; i += 1)
      users.push(
        await createLocalUser(sql, `bench-batch-${crypto.randomUUID()}@tests.virgil.test`, { expiresIn: 3600 }),
      );
    await push(functionsUrl, users[0]!, batch(10, 100)); // warm the function and its pool
    const load = loadavg()[0]!.toFixed(2);
    for (const [items, bytes] of shapes) {
      const answers: Awaited<ReturnType<typeof push>>[] = [];
      for (let round = 0; round < rounds; round += 1) {
        const bodies = users.map(() => batch(items, bytes));
        answers.push(...(await Promise.all(users.map((user, i) => push(functionsUrl, user, bodies[i]!)))));
      }
      const statuses: Record<string, number> = {};
      for (const answer of answers) statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
      if (answers.some((answer) => answer.status !== 200 && answer.status !== 503)) failed = true;
      const latency = summarize(answers.map((answer) => answer.ms));
      const answered = answers.filter((answer) => answer.status === 200);
      const database = summarize(answered.map((answer) => answer.databaseMs));
      const connection = summarize(answered.map((answer) => answer.connectionMs));
      const within = (statuses['200'] ?? 0) === answers.length && database.max <= budgetMs;
      const shape = `${items} x ${bytes} B`;
      rows.push([
        shape,
        ((items * bytes) / 1024 / 1024).toFixed(2),
        answers.length,
        JSON.stringify(statuses),
        latency.p50.toFixed(0),
        latency.p95.toFixed(0),
        latency.max.toFixed(0),
        connection.max.toFixed(0),
        database.p50.toFixed(0),
        database.p95.toFixed(0),
        database.max.toFixed(0),
        within ? 'yes' : 'no',
      ]);
      results.push({
        items,
        bytes,
        requests: answers.length,
        statuses,
        latency,
        connection,
        database,
        withinBudget: within,
      });
      console.error(`[bench] ${shape}: ${JSON.stringify(statuses)}, max ${latency.max.toFixed(0)} ms`);
    }
    console.log(
      `\n${devices} devices (one user each) push ${kind} at once, ${rounds} rounds; ${cpus().length} cores, load ${load} at start;` +
        ` budget: database step <= ${budgetMs} ms (statement timeout ${statementTimeoutMs} ms / 4)\n`,
    );
    console.log(
      table(
        [
          'batch (items x content)',
          'MB',
          'pushes',
          'answers',
          'p50 ms',
          'p95 ms',
          'max ms',
          'pool wait max',
          'db p50',
          'db p95',
          'db max',
          'within budget',
        ],
        rows,
      ),
    );
    mkdirSync(join(config.stackDir, 'reports'), { recursive: true });
    writeFileSync(
      join(config.stackDir, 'reports', `bench-sync-batch-${kind}.json`),
      `${JSON.stringify({ kind, devices, rounds, budgetMs, results }, null, 2)}\n`,
    );
    return failed ? 1 : 0;
  } finally {
    await deleteLocalUsers(
      sql,
      users.map((user) => user.id),
    );
    await sql.end({ timeout: 5 });
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    report(error);
    process.exit(1);
  },
);
