/**
 * `npm run bench:sync`: how fast the `sync` function pushes and pulls, end to end (supabase-js →
 * gateway → Deno → Postgres and back), on the local stack.
 *
 *   push, batches of 1, 50 and 500 items   items per second, p50/p95/max latency per batch, one
 *                                          device at a time; the function's own time per batch
 *                                          (its server-timing header) alongside
 *   push, 500 items from 4 devices at once  throughput when several devices sync together
 *   push, 500 edits of existing rows        the item-by-item path (conflict checks, receipts)
 *   pull of 10,000 changes                 one page of 10,000, and the same in pages of 1,000
 *
 * Batches are a realistic mix: 10% conversations, 70% messages in them, 20% memories (half sent
 * with a score, half scored by the function). Every batch is new rows.
 *
 * Uses the stack the environment names (VIRGIL_* as for `npm run stack:*`); if its gateway is not
 * running it starts the stack (and applies the migrations if they are missing) and stops it again
 * at the end. Creates five users, deletes them at the end.
 * Prints a table; writes <stack folder>/reports/bench-sync.json.
 * Options: --runs-scale N multiplies the number of runs (default 1).
 * Exit codes: 0 done, 1 failed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import postgres from 'postgres';
import WebSocket from 'ws';
import { report } from '../stack/lib/errors.ts';
import { createLocalUser, deleteLocalUsers } from '../test-support/users.ts';
import { loadConfig, type StackConfig } from '../stack/config.ts';
import { resetDatabase } from '../stack/db/database.ts';
import { startStack, stopStack, supervisorState } from '../stack/stack.ts';
import type { SyncItem, SyncResponse } from '../supabase/functions/_shared/sync-protocol.ts';
import { summarize, table, type Summary } from './stats.ts';

const scale = Number(process.argv[process.argv.indexOf('--runs-scale') + 1]) || 1;
const pushPlans = [
  { size: 1, runs: 200 * scale, warmup: 20 },
  { size: 50, runs: 60 * scale, warmup: 5 },
  { size: 500, runs: 30 * scale, warmup: 3 },
];
const pullRuns = 10 * scale;
const pullTotal = 10_000;

let sequence = 0;
function batch(size: number): SyncItem[] {
  const tag = `${Date.now().toString(36)}-${(sequence += 1)}`;
  const now = new Date().toISOString();
  const base = (local: string) => ({
    local_id: local,
    change_id: crypto.randomUUID(),
    client_updated_at: now,
    op: 'upsert' as const,
  });
  const conversations = Math.max(1, Math.round(size * 0.1));
  const memories = size === 1 ? 0 : Math.round(size * 0.2);
  const messages = size - conversations - memories;
  const items: SyncItem[] = [];
  for (let i = 0; i < conversations; i += 1)
    items.push({ table: 'conversations', ...base(`c-${tag}-${i}`), fields: { title: `Bench ${i}` } });
  for (let i = 0; i < messages; i += 1) {
    items.push({
      table: 'messages',
      ...base(`m-${tag}-${i}`),
      fields: {
        conversation_local_id: `c-${tag}-${i % conversations}`,
        role: i % 2 ? 'assistant' : 'user',
        content: `Message ${i}: I'm going to Lisbon in May and I love custard tarts.`,
      },
    });
  }
  for (let i = 0; i < memories; i += 1) {
    items.push({
      table: 'memories',
      ...base(`mem-${tag}-${i}`),
      fields: {
        content: `Remember: fact number ${i} about me is that I prefer window seats.`,
        ...(i % 2 ? { importance_score: 0.5 } : {}),
      },
    });
  }
  return items;
}

async function call(
  client: SupabaseClient,
  body: unknown,
): Promise<{ ms: number; serverMs: number; data: SyncResponse }> {
  const t0 = performance.now();
  const { data, error, response } = await client.functions.invoke('sync', { body: body as Record<string, unknown> });
  const ms = performance.now() - t0;
  if (error)
    throw new Error(`sync failed: ${error.message} ${await (error as { context?: Response }).context?.text?.()}`);
  // server-timing: "validate;dur=3.1, push;dur=41.0": the function's own time, gateway excluded.
  const timing = response?.headers.get('server-timing') ?? '';
  const serverMs = [...timing.matchAll(/dur=([\d.]+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  return { ms, serverMs, data: data as SyncResponse };
}

const parallelDevices = 4;
const parallelRounds = 10 * scale;

async function ensureStack(config: StackConfig): Promise<boolean> {
  if (supervisorState(config) !== undefined) return false;
  console.error('[bench] the stack is not running; starting it for this run');
  await startStack(config, (line) => console.error(`[stack] ${line}`));
  return true;
}

async function ensureSchema(config: StackConfig, sql: postgres.Sql): Promise<void> {
  const [row] = await sql<{ ok: boolean }[]>`select to_regprocedure('public.sync_push(jsonb)') is not null as ok`;
  if (!row?.ok) {
    console.error('[bench] the database has no sync schema yet; applying the migrations');
    await resetDatabase(config, { quiet: true });
  }
}

const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');

async function main(): Promise<number> {
  const config = loadConfig();
  const started = await ensureStack(config);
  const sql = postgres(config.db.url, { max: 2, onnotice: () => {} });
  const userIds: string[] = [];
  try {
    await ensureSchema(config, sql);
    const deviceOf = async () => {
      const user = await createLocalUser(sql, `bench-${crypto.randomUUID()}@tests.virgil.test`, {
        expiresIn: 3600 * 4,
      });
      userIds.push(user.id);
      return createClient(config.api.url, config.keys.anonKey, {
        auth: { persistSession: false, autoRefreshToken: false },
        realtime: { transport: WebSocket as never },
        global: { headers: { Authorization: `Bearer ${user.token}` } },
      });
    };
    const client = await deviceOf();

    const pushes: {
      size: number;
      summary: Summary;
      server: Summary;
      itemsPerSecond: number;
      statuses: Record<string, number>;
    }[] = [];
    for (const plan of pushPlans) {
      for (let i = 0; i < plan.warmup; i += 1) await call(client, { push: batch(plan.size) });
      const samples: number[] = [];
      const server: number[] = [];
      const statuses: Record<string, number> = {};
      for (let i = 0; i < plan.runs; i += 1) {
        const { ms, serverMs, data } = await call(client, { push: batch(plan.size) });
        samples.push(ms);
        server.push(serverMs);
        for (const result of data.push!.results) statuses[result.status] = (statuses[result.status] ?? 0) + 1;
      }
      const summary = summarize(samples);
      const itemsPerSecond = (plan.size * samples.length) / (samples.reduce((a, b) => a + b, 0) / 1000);
      pushes.push({ size: plan.size, summary, server: summarize(server), itemsPerSecond, statuses });
      console.error(`[bench] push ${plan.size}: p50 ${fmt(summary.p50)} ms, p95 ${fmt(summary.p95)} ms`);
    }

    // Several devices (of different users) pushing 500-item batches at the same time.
    const devices = await Promise.all(Array.from({ length: parallelDevices }, deviceOf));
    await Promise.all(devices.map((device) => call(device, { push: batch(500) })));
    const parallelLatencies: number[] = [];
    const parallelStart = performance.now();
    for (let round = 0; round < parallelRounds; round += 1) {
      const answers = await Promise.all(devices.map((device) => call(device, { push: batch(500) })));
      parallelLatencies.push(...answers.map((a) => a.ms));
    }
    const parallelSeconds = (performance.now() - parallelStart) / 1000;
    const parallel = {
      devices: parallelDevices,
      summary: summarize(parallelLatencies),
      itemsPerSecond: (parallelRounds * parallelDevices * 500) / parallelSeconds,
    };
    console.error(`[bench] push 500 x ${parallelDevices} devices: ${Math.round(parallel.itemsPerSecond)} items/s`);

    // Edits of existing rows take the item-by-item path (every item's conflict check).
    const editRounds = 10 * scale;
    const editTag = `edit-${Date.now().toString(36)}`;
    const stamp = () => new Date().toISOString();
    await call(client, {
      push: Array.from({ length: 500 }, (_, i) => ({
        table: 'memories',
        op: 'upsert',
        local_id: `${editTag}-${i}`,
        change_id: crypto.randomUUID(),
        client_updated_at: stamp(),
        fields: { content: `memory ${i}`, importance_score: 0.5 },
      })) as SyncItem[],
    });
    const edits: number[] = [];
    const editStatuses: Record<string, number> = {};
    for (let round = 0; round < editRounds; round += 1) {
      const { ms, data } = await call(client, {
        push: Array.from({ length: 500 }, (_, i) => ({
          table: 'memories',
          op: 'upsert',
          local_id: `${editTag}-${i}`,
          change_id: crypto.randomUUID(),
          client_updated_at: stamp(),
          base_version: round + 1,
          fields: { content: `memory ${i}, edit ${round + 1}` },
        })) as SyncItem[],
      });
      edits.push(ms);
      for (const result of data.push!.results) editStatuses[result.status] = (editStatuses[result.status] ?? 0) + 1;
    }
    const editSummary = summarize(edits);
    const editItemsPerSecond = (500 * edits.length) / (edits.reduce((a, b) => a + b, 0) / 1000);

    // Pull: 10,000 changes behind a cursor.
    const { data: before } = await call(client, { pull: { limit: 1 } });
    let cursor = before.pull!.cursor;
    while ((await call(client, { pull: { cursor, limit: 10_000 } })).data.pull!.has_more) {
      cursor = (await call(client, { pull: { cursor, limit: 10_000 } })).data.pull!.cursor;
    }
    const { data: head } = await call(client, { pull: { cursor, limit: 10_000 } });
    const since = head.pull!.cursor;
    for (let written = 0; written < pullTotal; written += 500) await call(client, { push: batch(500) });

    const onePage: number[] = [];
    const paged: number[] = [];
    let pulled = 0;
    for (let i = 0; i < pullRuns; i += 1) {
      const { ms, data } = await call(client, { pull: { cursor: since, limit: 10_000 } });
      onePage.push(ms);
      pulled = data.pull!.changes.length;
      const t0 = performance.now();
      let next: string | null = since;
      let count = 0;
      for (;;) {
        const { data: page } = await call(client, { pull: { cursor: next, limit: 1000 } });
        count += page.pull!.changes.length;
        next = page.pull!.cursor;
        if (!page.pull!.has_more) break;
      }
      paged.push(performance.now() - t0);
      if (count !== pullTotal) throw new Error(`paged pull returned ${count} changes, expected ${pullTotal}`);
    }
    if (pulled !== pullTotal) throw new Error(`pull returned ${pulled} changes, expected ${pullTotal}`);
    const pulls = [
      { name: `pull ${pullTotal} (1 page)`, summary: summarize(onePage) },
      { name: `pull ${pullTotal} (pages of 1000)`, summary: summarize(paged) },
    ];

    console.log(
      table(
        ['scenario', 'runs', 'items/s', 'p50 ms', 'p95 ms', 'max ms', 'function p50', 'function p95'],
        [
          ...pushes.map((p) => [
            `push ${p.size}`,
            p.summary.runs,
            Math.round(p.itemsPerSecond),
            fmt(p.summary.p50),
            fmt(p.summary.p95),
            fmt(p.summary.max),
            fmt(p.server.p50),
            fmt(p.server.p95),
          ]),
          [
            `push 500, ${parallel.devices} devices at once`,
            parallel.summary.runs,
            Math.round(parallel.itemsPerSecond),
            fmt(parallel.summary.p50),
            fmt(parallel.summary.p95),
            fmt(parallel.summary.max),
            '-',
            '-',
          ],
          [
            'push 500 edits (item by item)',
            editSummary.runs,
            Math.round(editItemsPerSecond),
            fmt(editSummary.p50),
            fmt(editSummary.p95),
            fmt(editSummary.max),
            '-',
            '-',
          ],
          ...pulls.map((p) => [
            p.name,
            p.summary.runs,
            Math.round(pullTotal / (p.summary.mean / 1000)),
            fmt(p.summary.p50),
            fmt(p.summary.p95),
            fmt(p.summary.max),
            '-',
            '-',
          ]),
        ],
      ),
    );
    const file = join(config.stackDir, 'reports', 'bench-sync.json');
    mkdirSync(join(config.stackDir, 'reports'), { recursive: true });
    writeFileSync(
      file,
      `${JSON.stringify(
        {
          when: new Date().toISOString(),
          machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
          targets: { push500P95Ms: 150, pushItemsPerSecond: 5000, pull10000Ms: 1000 },
          push: pushes.map((p) => ({
            items: p.size,
            ...p.summary,
            functionMs: p.server,
            itemsPerSecond: p.itemsPerSecond,
            statuses: p.statuses,
          })),
          parallelPush: {
            items: 500,
            devices: parallel.devices,
            ...parallel.summary,
            itemsPerSecond: parallel.itemsPerSecond,
          },
          editPush: { items: 500, ...editSummary, itemsPerSecond: editItemsPerSecond, statuses: editStatuses },
          pull: pulls.map((p) => ({
            scenario: p.name,
            changes: pullTotal,
            ...p.summary,
            changesPerSecond: pullTotal / (p.summary.mean / 1000),
          })),
        },
        null,
        2,
      )}\n`,
    );
    console.log(`\nwrote ${file}`);
    return 0;
  } finally {
    await deleteLocalUsers(sql, userIds);
    await sql.end({ timeout: 5 });
    if (started) await stopStack(config);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(report(error)),
);
