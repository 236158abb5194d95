/**
 * `npm run bench:sync:soak -- --seconds 60 [--fault kill-functions|restart-postgres|disconnect] [--fault-every 15]`
 *
 * A soak of `sync` on the local stack (127.0.0.1 only): 8 devices of one user, each looping
 * "push 50 items, then pull everything new" for the given time, with realtime on (every device
 * subscribed to its user's messages), into one shared conversation and one of its own. A tenth of
 * the requests are hostile (malformed JSON, unknown tables and columns, wrong types, oversize
 * batches, forged cursors, NUL characters and lone surrogates in every kind of field): each must
 * get a 4xx. A push answered 5xx or not at all is sent again unchanged (same change_ids) until it
 * is answered, as a device does. With --fault, the fault (bench/sync-faults.ts) is injected
 * every --fault-every seconds: this is the fault matrix as a long run.
 *
 * Prints: requests per kind, 5xx answers (target 0 without a fault; with one, every 5xx must be a
 * 503 with Retry-After), p50/p95/p99 latency per kind, realtime events received, and the end
 * check: every row the devices wrote is there once, with the content and version their answers
 * imply; deleted rows are gone; every message_count is exact; the bystander user is untouched.
 * Writes <stack folder>/reports/bench-sync-soak.json. Exit code 1 when the end check fails, a
 * hostile request got anything but a 4xx, or a 5xx came without a fault.
 */
import { cpus, loadavg } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import postgres from 'postgres';
import WebSocket from 'ws';
import { report } from '../stack/lib/errors.ts';
import { createLocalUser, deleteLocalUsers, type LocalUser } from '../test-support/users.ts';
import { loadConfig } from '../stack/config.ts';
import { startStack, stopStack, supervisorState } from '../stack/stack.ts';
import type { PushResult, SyncItem } from '../supabase/functions/_shared/sync-protocol.ts';
import { pushUntilAnswered } from '../test-support/sync-device.ts';
import { faultKinds, killFunctionsHost, restartPostgres, type FaultKind } from '../test-support/sync-faults.ts';
import { percentile, table } from './stats.ts';
import { sleep } from '../stack/lib/sleep.ts';

function option(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}
const seconds = Number(option('seconds') ?? option('soak') ?? 60);
const fault = option('fault') as FaultKind | undefined;
const faultEvery = Number(option('fault-every') ?? 15);
const deviceCount = Number(option('devices') ?? 8);
if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) throw new Error('--seconds must be from 1 to 3600');
if (fault && !faultKinds.includes(fault)) throw new Error(`--fault must be one of ${faultKinds.join(', ')}`);

const config = loadConfig();
const functionsUrl = `${config.api.url}/functions/v1`;

type Kind = 'push' | 'pull' | 'hostile';
const latencies: Record<Kind, number[]> = { push: [], pull: [], hostile: [] };
const answers = { requests: 0, fiveXx: 0, fiveXxWithoutRetryAfter: 0, hostileNot4xx: [] as string[], noAnswer: 0 };
let realtimeEvents = 0;

/** What one device believes about its rows, from the answers it got. */
interface Expected {
  table: 'messages' | 'memories';
  content: string;
  version: number;
  deleted: boolean;
}

const hostileBodies: ((device: number, n: number) => { body: string; type?: string })[] = [
  () => ({ body: '{"push": [' }),
  () => ({ body: 'not json at all' }),
  () => ({
    body: JSON.stringify({
      push: [
        {
          table: 'users',
          op: 'upsert',
          local_id: 'x',
          change_id: crypto.randomUUID(),
          client_updated_at: new Date().toISOString(),
        },
      ],
    }),
  }),
  (d, n) => ({
    body: JSON.stringify({
      push: [{ ...message(`h-${d}-${n}`, 'shared', 'x'), fields: { user_id: crypto.randomUUID() } }],
    }),
  }),
  (d, n) => ({
    body: JSON.stringify({ push: [{ ...message(`h-${d}-${n}`, 'shared', 'x'), change_id: 'not-a-uuid' }] }),
  }),
  (d, n) => ({
    body: JSON.stringify({ push: Array.from({ length: 1001 }, (_, i) => message(`h-${d}-${n}-${i}`, 'shared', 'x')) }),
  }),
  () => ({ body: JSON.stringify({ pull: { cursor: 'v1.forged' } }) }),
  () => ({ body: JSON.stringify({ pull: { cursor: 'v1.\u0000' } }) }),
  (d, n) => ({ body: JSON.stringify({ push: [message(`h-${d}-${n}`, 'shared', 'nul \u0000 inside')] }) }),
  (d, n) => ({
    body: JSON.stringify({ push: [{ ...conversation(`h-${d}-${n}`), fields: { title: 'half \ud800 pair' } }] }),
  }),
  (d, n) => ({
    body: JSON.stringify({
      push: [
        {
          ...message(`h-${d}-${n}`, 'shared', 'x'),
          fields: { conversation_local_id: 'shared', role: 'user', content: 'x', metadata: { ['k\u0000']: 1 } },
        },
      ],
    }),
  }),
  (d, n) => ({ body: JSON.stringify({ push: [memory(`h-\udfff-${d}-${n}`, 'x')] }) }),
  () => ({ body: JSON.stringify({ push: [], pull: { limit: -1 } }) }),
  () => ({ body: JSON.stringify({ pull: {} }), type: 'text/plain' }),
];

const now = () => new Date().toISOString();
function conversation(localId: string): SyncItem {
  return {
    table: 'conversations',
    op: 'upsert',
    local_id: localId,
    change_id: crypto.randomUUID(),
    client_updated_at: now(),
    fields: { title: localId },
  };
}
function message(localId: string, conversationLocalId: string, content: string, baseVersion?: number): SyncItem {
  return {
    table: 'messages',
    op: 'upsert',
    local_id: localId,
    change_id: crypto.randomUUID(),
    client_updated_at: now(),
    ...(baseVersion ? { base_version: baseVersion } : {}),
    fields: { conversation_local_id: conversationLocalId, role: 'user', content },
  };
}
function memory(localId: string, content: string, baseVersion?: number): SyncItem {
  return {
    table: 'memories',
    op: 'upsert',
    local_id: localId,
    change_id: crypto.randomUUID(),
    client_updated_at: now(),
    ...(baseVersion ? { base_version: baseVersion } : {}),
    fields: { content, importance_score: 0.5 },
  };
}
function remove(table: 'messages' | 'memories', localId: string, baseVersion: number): SyncItem {
  return {
    table,
    op: 'delete',
    local_id: localId,
    change_id: crypto.randomUUID(),
    client_updated_at: now(),
    base_version: baseVersion,
  };
}

/** 50 items: mostly new messages (shared and own conversation), some edits, deletes and memories. */
function nextBatch(d: number, round: number, rows: Map<string, Expected>): SyncItem[] {
  const items: SyncItem[] = round === 0 ? [conversation(`d${d}-c`)] : [];
  const live = [...rows.entries()].filter(([, row]) => !row.deleted);
  const pick = () => live.splice(Math.floor(Math.random() * live.length), 1)[0];
  for (let i = 0; i < 5 && live.length > 10; i += 1) {
    const [localId, row] = pick()!;
    items.push(
      row.table === 'messages'
        ? message(localId, `d${d}-c`, `edited ${round}`, row.version)
        : memory(localId, `edited ${round}`, row.version),
    );
  }
  for (let i = 0; i < 3 && live.length > 10; i += 1) {
    const [localId, row] = pick()!;
    items.push(remove(row.table, localId, row.version));
  }
  for (let i = 0; i < 4; i += 1) items.push(memory(`d${d}-r${round}-mem${i}`, `memory ${round}/${i}`));
  while (items.length < 50) {
    const i = items.length;
    items.push(message(`d${d}-r${round}-m${i}`, i % 2 ? 'shared' : `d${d}-c`, `message ${round}/${i}`));
  }
  return items;
}

function learn(items: SyncItem[], results: PushResult[], rows: Map<string, Expected>): void {
  items.forEach((item, index) => {
    const result = results[index]!;
    if (item.table === 'conversations') return;
    if (result.status !== 'applied')
      throw new Error(`${item.local_id}: ${result.status} ${result.reason ?? ''} ${result.detail ?? ''}`);
    if (item.op === 'delete') rows.get(item.local_id)!.deleted = true;
    else
      rows.set(item.local_id, {
        table: item.table,
        content: item.fields!.content!,
        version: result.version!,
        deleted: false,
      });
  });
}

async function timed<T>(kind: Kind, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const value = await work();
  latencies[kind].push(performance.now() - t0);
  return value;
}

async function runDevice(d: number, user: LocalUser, until: number, rows: Map<string, Expected>): Promise<void> {
  let cursor: string | null = null;
  let round = 0;
  let hostileCount = 0;
  while (Date.now() < until) {
    // A tenth of the requests are hostile: a loop is either one hostile request or a push and a
    // pull, so p / (p + 2(1 - p)) = 0.1 gives p = 2/11.
    if (Math.random() < 2 / 11) {
      const make = hostileBodies[hostileCount % hostileBodies.length]!;
      const { body, type } = make(d, (hostileCount += 1));
      const status = await timed('hostile', async () => {
        try {
          const response = await fetch(`${functionsUrl}/sync`, {
            method: 'POST',
            headers: { authorization: `Bearer ${user.token}`, 'content-type': type ?? 'application/json' },
            body,
          });
          await response.arrayBuffer();
          return response.status;
        } catch {
          return 0;
        }
      });
      answers.requests += 1;
      if (status >= 500) answers.fiveXx += 1;
      if (status === 0) answers.noAnswer += 1;
      if ((status < 400 || status >= 500) && !(fault && (status === 503 || status === 0)))
        answers.hostileNot4xx.push(`${status}: ${body.slice(0, 80)}`);
      continue;
    }
    const items = nextBatch(d, round, rows);
    const pushed = await timed('push', () =>
      pushUntilAnswered(items, {
        functionsUrl,
        token: user.token,
        deadlineMs: 120_000,
        hangUps: fault === 'disconnect' && Math.random() < 0.2 ? 1 : 0,
      }),
    );
    answers.requests += pushed.attempts;
    for (const failure of pushed.failures) {
      if (failure.status >= 500) answers.fiveXx += 1;
      if (failure.status >= 500 && failure.retryAfter === null) answers.fiveXxWithoutRetryAfter += 1;
      if (failure.status === 0) answers.noAnswer += 1;
    }
    learn(items, pushed.results, rows);
    round += 1;
    // Pull everything new, page by page, retrying like a push.
    for (;;) {
      const page = await timed('pull', async () => {
        for (;;) {
          answers.requests += 1;
          try {
            const response = await fetch(`${functionsUrl}/sync`, {
              method: 'POST',
              headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
              body: JSON.stringify({ pull: { cursor, limit: 1000 } }),
            });
            const text = await response.text();
            if (response.status === 200)
              return (JSON.parse(text) as { pull: { cursor: string; has_more: boolean } }).pull;
            if (response.status >= 500) {
              answers.fiveXx += 1;
              if (!response.headers.get('retry-after')) answers.fiveXxWithoutRetryAfter += 1;
            } else throw new Error(`pull refused: ${response.status} ${text.slice(0, 200)}`);
          } catch (error) {
            if ((error as Error).message.startsWith('pull refused')) throw error;
            answers.noAnswer += 1;
          }
          await sleep(200 + Math.random() * 300);
        }
      });
      cursor = page.cursor;
      if (!page.has_more) break;
    }
  }
}

function subscribe(user: LocalUser): SupabaseClient {
  const client = createClient(config.api.url, config.keys.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: WebSocket as never },
    global: { headers: { Authorization: `Bearer ${user.token}` } },
  });
  client.realtime.setAuth(user.token);
  client
    .channel(`soak-${crypto.randomUUID()}`)
    .on(
      'postgres_changes',
      { event: '*', schema: 'public', table: 'messages', filter: `user_id=eq.${user.id}` },
      () => (realtimeEvents += 1),
    )
    .subscribe();
  return client;
}

async function main(): Promise<number> {
  const startedStack = supervisorState(config) === undefined;
  if (startedStack) await startStack(config, (line) => console.error(`[stack] ${line}`));
  const sql = postgres(config.db.url, { max: 2, onnotice: () => {} });
  const made: LocalUser[] = [];
  const clients: SupabaseClient[] = [];
  let faultTimer: NodeJS.Timeout | undefined;
  const faults: string[] = [];
  try {
    const ada = await createLocalUser(sql, `soak-ada-${crypto.randomUUID()}@tests.virgil.test`, {
      expiresIn: 3600 * 4,
    });
    const ben = await createLocalUser(sql, `soak-ben-${crypto.randomUUID()}@tests.virgil.test`, {
      expiresIn: 3600 * 4,
    });
    made.push(ada, ben);
    const setup = await pushUntilAnswered([conversation('shared')], { functionsUrl, token: ada.token });
    if (setup.results[0]?.status !== 'applied') throw new Error('could not create the shared conversation');
    await pushUntilAnswered([conversation('ben-c'), message('ben-m', 'ben-c', 'Ben, alone')], {
      functionsUrl,
      token: ben.token,
    });
    const benBefore =
      await sql`select local_id, version, content from public.messages where user_id = ${ben.id} order by local_id`;
    for (let d = 0; d < deviceCount; d += 1) clients.push(subscribe(ada));
    await sleep(1000);

    if (fault && fault !== 'disconnect') {
      faultTimer = setInterval(() => {
        const at = new Date().toISOString();
        (fault === 'kill-functions'
          ? Promise.resolve(killFunctionsHost(config.db.url))
          : restartPostgres(config.db.url)
        )
          .then(() => faults.push(`${fault} at ${at}`))
          .catch((error: unknown) => faults.push(`${fault} failed at ${at}: ${(error as Error).message}`));
      }, faultEvery * 1000);
    }
    const until = Date.now() + seconds * 1000;
    const models = Array.from({ length: deviceCount }, () => new Map<string, Expected>());
    const t0 = performance.now();
    await Promise.all(models.map((rows, d) => runDevice(d, ada, until, rows)));
    const elapsed = (performance.now() - t0) / 1000;
    clearInterval(faultTimer);
    await sleep(1000);

    // The end check.
    const expected = new Map(models.flatMap((rows) => [...rows]));
    const actual = new Map<string, { content: string; version: number }>();
    for (const row of await sql<{ local_id: string; content: string; version: string }[]>`
      select local_id, content, version from public.messages where user_id = ${ada.id}
      union all select local_id, content, version from public.memories where user_id = ${ada.id}`) {
      if (actual.has(row.local_id)) throw new Error(`${row.local_id} is there twice`);
      actual.set(row.local_id, { content: row.content, version: Number(row.version) });
    }
    const mismatches: string[] = [];
    for (const [localId, row] of expected) {
      const found = actual.get(localId);
      if (row.deleted ? found !== undefined : found?.content !== row.content || found.version !== row.version) {
        mismatches.push(`${localId}: expected ${JSON.stringify(row)}, found ${JSON.stringify(found ?? null)}`);
      }
    }
    for (const localId of actual.keys()) if (!expected.has(localId)) mismatches.push(`${localId}: written by nobody`);
    const counts = await sql<{ local_id: string; message_count: number; actual: number }[]>`
      select c.local_id, c.message_count, (select count(*)::int from public.messages m where m.conversation_id = c.id) as actual
      from public.conversations c where c.user_id = ${ada.id}`;
    for (const row of counts)
      if (row.message_count !== row.actual)
        mismatches.push(`${row.local_id}: message_count ${row.message_count}, messages ${row.actual}`);
    const benAfter =
      await sql`select local_id, version, content from public.messages where user_id = ${ben.id} order by local_id`;
    if (JSON.stringify(benAfter) !== JSON.stringify(benBefore)) mismatches.push("the bystander's rows changed");

    const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
    console.log(
      `soak: ${deviceCount} devices, ${seconds} s${fault ? `, fault ${fault} every ${faultEvery} s` : ''}, realtime on; machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown cpu'}, load average ${loadavg()[0]?.toFixed(2)} (1 min, at the end)`,
    );
    console.log(
      table(
        ['kind', 'requests', 'p50 ms', 'p95 ms', 'p99 ms'],
        (Object.keys(latencies) as Kind[]).map((kind) => {
          const sorted = [...latencies[kind]].sort((a, b) => a - b);
          return [
            kind,
            sorted.length,
            fmt(percentile(sorted, 50)),
            fmt(percentile(sorted, 95)),
            fmt(percentile(sorted, 99)),
          ];
        }),
      ),
    );
    const summary = {
      seconds,
      elapsed,
      devices: deviceCount,
      fault: fault ?? null,
      faults,
      requests: answers.requests,
      fiveXx: answers.fiveXx,
      fiveXxWithoutRetryAfter: answers.fiveXxWithoutRetryAfter,
      noAnswer: answers.noAnswer,
      hostileNot4xx: answers.hostileNot4xx.length,
      realtimeEvents,
      rowsChecked: expected.size + counts.length,
      mismatches: mismatches.length,
      latencies: Object.fromEntries(
        (Object.keys(latencies) as Kind[]).map((kind) => {
          const sorted = [...latencies[kind]].sort((a, b) => a - b);
          return [
            kind,
            { n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) },
          ];
        }),
      ),
    };
    console.log(
      `requests ${summary.requests} (HTTP attempts, retries included), 5xx ${summary.fiveXx} (without Retry-After: ${summary.fiveXxWithoutRetryAfter}), no answer ${summary.noAnswer}, hostile answered other than 4xx ${summary.hostileNot4xx}`,
    );
    console.log(
      `realtime events received ${realtimeEvents}; faults injected ${faults.length}${faults.length ? `: ${faults.join('; ')}` : ''}`,
    );
    console.log(
      `rows checked ${summary.rowsChecked} (${expected.size} messages and memories, ${counts.length} message counts), mismatches ${mismatches.length}`,
    );
    for (const line of [...mismatches.slice(0, 10), ...answers.hostileNot4xx.slice(0, 10)]) console.log(`  ${line}`);
    const reports = join(config.stackDir, 'reports');
    mkdirSync(reports, { recursive: true });
    writeFileSync(join(reports, 'bench-sync-soak.json'), `${JSON.stringify(summary, null, 2)}\n`);
    const failed =
      mismatches.length > 0 ||
      answers.hostileNot4xx.length > 0 ||
      answers.fiveXxWithoutRetryAfter > 0 ||
      (!fault && answers.fiveXx > 0);
    return failed ? 1 : 0;
  } finally {
    clearInterval(faultTimer);
    for (const client of clients) await client.removeAllChannels();
    await deleteLocalUsers(
      sql,
      made.map((user) => user.id),
    ).catch(() => {});
    await sql.end({ timeout: 5 });
    if (startedStack) await stopStack(config);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(report(error)),
);
