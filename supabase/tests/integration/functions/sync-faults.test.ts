/**
 * The fault matrix: devices push while the stack fails under them, and retry the very same batches
 * (same change_ids) until they get answers.
 *
 *   kill -9 of the functions host   the Deno process serving `sync` dies mid-push
 *   PostgreSQL restart              every connection cut mid-push
 *   client disconnect               each device hangs up right after sending, then sends again
 *
 * Every answer to a fault must be a 503 with Retry-After (or no answer at all), never a 500 or a
 * 4xx; and the end state is as if every edit had been applied exactly once: every row once, every
 * message_count exact, every edited row's version one up per edit, the other user untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalUser } from '../../../../test-support/users.ts';
import { pushUntilAnswered, type FailedAttempt } from '../../../../test-support/sync-device.ts';
import {
  functionPids,
  killFunctionsHost,
  restartPostgres,
  type FaultKind,
} from '../../../../test-support/sync-faults.ts';
import type { SyncItem } from '../../../functions/_shared/sync-protocol.ts';
import { connectDb, dbUrl, device, footprint, functionsUrl, item, push, userPool } from './support.ts';

const sql = connectDb();
const users = userPool(sql);
const devices = 4;
let ben: LocalUser;

beforeAll(async () => {
  ben = await users.create('ben');
  await push(device(ben), [item.conversation('ben-c'), item.message('ben-m', 'ben-c', 'Ben writes alone')]);
});
afterAll(async () => {
  await users.dropAll();
  await sql.end({ timeout: 5 });
});

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** One device's batches: new rows set-wise, then edits, deletes and more new rows item by item. */
function batchesOf(d: number): SyncItem[][] {
  const own = `d${d}-c`;
  const message = (i: number) => `d${d}-m${i}`;
  return [
    [item.conversation(own), ...range(20).map((i) => item.message(message(i), own, `first ${i}`))],
    [
      ...range(20).map((i) => item.message(message(20 + i), own, `second ${i}`)),
      item.memory(`d${d}-mem`, { content: 'remember the fault' }),
    ],
    range(10).map((i) => item.message(message(i), own, `edit one ${i}`, { base_version: 1 })),
    [
      ...range(5).map((i) => item.remove('messages', message(10 + i))),
      ...range(10).map((i) => item.message(`d${d}-s${i}`, 'shared', `shared ${i}`)),
    ],
    [
      ...range(5).map((i) => item.message(message(i), own, `edit two ${i}`, { base_version: 2 })),
      item.memory(`d${d}-mem`, { content: 'edited once' }),
    ],
    range(20).map((i) => item.message(`d${d}-s${10 + i}`, 'shared', `shared again ${i}`)),
  ];
}

async function inject(fault: FaultKind): Promise<void> {
  if (fault === 'kill-functions') expect(killFunctionsHost(dbUrl)).toBeGreaterThan(0);
  if (fault === 'restart-postgres') await restartPostgres(dbUrl);
}

async function runMatrixCase(fault: FaultKind) {
  const ada = await users.create(`ada-${fault}`);
  await push(device(ada), [item.conversation('shared', { title: 'all devices' })]);
  const benBefore = await footprint(sql, ben.id);
  const failures: FailedAttempt[] = [];
  let pushesStarted = 0;
  let injected: Promise<void> | undefined;
  const deviceRuns = range(devices).map(async (d) => {
    for (const batch of batchesOf(d)) {
      pushesStarted += 1;
      // The fault lands while pushes are in flight: after the first round of batches is under way.
      if (pushesStarted === devices + 1 && fault !== 'disconnect')
        injected = new Promise((resolve) => setTimeout(resolve, 5)).then(() => inject(fault));
      const answer = await pushUntilAnswered(batch, {
        functionsUrl,
        token: ada.token,
        hangUps: fault === 'disconnect' ? 1 : 0,
      });
      failures.push(...answer.failures);
      for (const result of answer.results)
        expect(['applied', 'unchanged'], JSON.stringify(result)).toContain(result.status);
    }
  });
  await Promise.all(deviceRuns);
  await injected;

  // Every answer to the fault was a retryable 503 with Retry-After, or no answer.
  for (const failure of failures) {
    expect(
      failure.status === 0 || (failure.status === 503 && failure.retryAfter !== null),
      JSON.stringify(failure),
    ).toBe(true);
  }
  if (fault === 'disconnect') expect(failures.filter((failure) => failure.body === 'hung up').length).toBe(devices * 6);

  // Exactly once, counts exact, versions one up per edit.
  const counts = await sql<{ local_id: string; message_count: number; actual: number }[]>`
    select c.local_id, c.message_count, (select count(*)::int from public.messages m where m.conversation_id = c.id) as actual
    from public.conversations c where c.user_id = ${ada.id}`;
  expect(counts.length).toBe(devices + 1);
  for (const row of counts) expect(row.message_count, row.local_id).toBe(row.actual);
  expect(counts.find((row) => row.local_id === 'shared')!.actual).toBe(devices * 30);
  const messages = await sql<{ local_id: string; version: string; content: string }[]>`
    select local_id, version, content from public.messages where user_id = ${ada.id} and local_id like 'd%-m%'`;
  expect(messages.length).toBe(devices * 35);
  for (const row of messages) {
    const i = Number(row.local_id.split('-m')[1]);
    const expected =
      i < 5
        ? ['3', `edit two ${i}`]
        : i < 10
          ? ['2', `edit one ${i}`]
          : ['1', i < 20 ? `first ${i}` : `second ${i - 20}`];
    expect([row.version, row.content], row.local_id).toEqual(expected);
  }
  const memories = await sql<
    { version: string; content: string }[]
  >`select version, content from public.memories where user_id = ${ada.id}`;
  expect(memories.map((row) => [row.version, row.content])).toEqual(range(devices).map(() => ['2', 'edited once']));
  const [receipts] = await sql<{ n: number }[]>`select count(*)::int as n from sync.receipts where user_id = ${ada.id}`;
  expect(receipts!.n).toBe(1 + devices * batchesOf(0).flat().length);
  expect(await footprint(sql, ben.id)).toEqual(benBefore);
  return failures;
}

describe('the fault matrix: devices retry the same batches until answered', () => {
  // Whether a request was in flight at the very moment of the fault is up to the machine; the
  // fault itself is checked (the process was replaced, the server restarted).
  it('kill -9 of the functions host mid-push', async () => {
    const before = functionPids('sync', dbUrl);
    await runMatrixCase('kill-functions');
    const after = functionPids('sync', dbUrl);
    expect(after.length).toBe(1);
    expect(before).not.toContain(after[0]);
  }, 120_000);

  it('PostgreSQL restart mid-push', async () => {
    const [before] = await sql<{ started: Date }[]>`select pg_postmaster_start_time() as started`;
    await runMatrixCase('restart-postgres');
    const [after] = await sql<{ started: Date }[]>`select pg_postmaster_start_time() as started`;
    expect(after!.started.getTime()).toBeGreaterThan(before!.started.getTime());
  }, 120_000);

  it('a client that disconnects right after sending', async () => {
    await runMatrixCase('disconnect');
  }, 120_000);
});
