/**
 * "Offline then online": the device client's outbox and catch-up, measured between two devices of
 * one user (both instances of the client, devices.ts).
 *
 *   offline then online   A goes offline, makes N edits (new memories), comes back; the delay is
 *                         from A's setOnline(true) until B holds every one of them (target: 1 s
 *                         for 100 edits on the 2-core machine).
 *   random disconnects    A makes M edits at 200/s (one in five edits an earlier row) while D
 *                         disconnects hit at random moments: A's or B's socket dropped (no close
 *                         frame), A or B offline for 300 ms, or a reply of A's sync call lost after
 *                         the server applied it. Then B must hold exactly A's final rows: nothing
 *                         lost, and nothing written twice (each server row's version equals the
 *                         number of distinct change_ids applied to it; no extra rows).
 */
import type postgres from 'postgres';
import { SupabaseMemoryService } from '../../client/SupabaseMemoryService.ts';
import type { Device } from './devices.ts';
import { type PhaseRow, summarize } from './stats.ts';
import { untilDue } from './phase.ts';
import { sleep } from '../../stack/lib/sleep.ts';

export interface OfflineSettings {
  offlineEdits: number;
  disconnectEdits: number;
  disconnects: number;
}

/** Resolves when B has, for every key, the content `expected` says (or at the deadline). */
async function untilBHolds(b: Device, expected: Map<string, string>, deadlineMs: number): Promise<void> {
  const until = performance.now() + deadlineMs;
  const holds = () => [...expected].every(([key, content]) => b.client.store.get('memories', key)?.content === content);
  while (!holds() && performance.now() < until) await sleep(10);
}

function row(
  phase: string,
  written: number,
  lost: number,
  duplicates: number,
  delays: number[],
  leaks: number,
  note: string,
): PhaseRow {
  return {
    phase,
    targetRate: null,
    achievedRate: null,
    written,
    received: written - lost,
    lost,
    duplicates,
    orderViolations: 0,
    leaksToC: leaks,
    latency: summarize(delays),
    clock: 'A back online (or A edit) → B holds the row',
    note,
  };
}

async function offlineThenOnline(
  a: Device,
  b: Device,
  run: string,
  edits: number,
  leaks: () => number,
): Promise<PhaseRow> {
  const leaksBefore = leaks();
  const onA = new SupabaseMemoryService(a.client);
  const expected = new Map<string, string>();
  const arrived = new Map<string, number>();
  let back = 0;
  const off = b.client.events.on('change', (change, outcome) => {
    const key = change.local_id;
    if (outcome === 'applied' && key && expected.get(key) === change.row?.content && !arrived.has(key))
      arrived.set(key, performance.now() - back);
  });
  await a.client.whenIdle();
  await a.client.setOnline(false);
  const pushesBefore = a.client.stats.pushes;
  for (let i = 0; i < edits; i++) {
    const content = `o:${run}:${i}`;
    expected.set(onA.saveMemory({ content, context: run }).local_id!, content);
  }
  back = performance.now();
  await a.client.setOnline(true);
  await untilBHolds(b, expected, 30_000);
  const allThere = performance.now() - back;
  off();
  const lost = [...expected.keys()].filter(
    (key) => b.client.store.get('memories', key)?.content !== expected.get(key),
  ).length;
  await a.client.whenIdle();
  const pushes = a.client.stats.pushes - pushesBefore;
  return row(
    `offline then online: ${edits} edits made offline`,
    edits,
    lost,
    0,
    [...arrived.values()],
    leaks() - leaksBefore,
    `all ${edits} on B ${allThere.toFixed(0)} ms after A came back (target 1000 ms); A pushed them in ${pushes} sync call(s)`,
  );
}

type Disconnect = 'drop A socket' | 'drop B socket' | 'A offline 300 ms' | 'B offline 300 ms' | 'A loses a sync reply';
const disconnectKinds: Disconnect[] = [
  'drop A socket',
  'drop B socket',
  'A offline 300 ms',
  'B offline 300 ms',
  'A loses a sync reply',
];

async function disconnect(kind: Disconnect, a: Device, b: Device): Promise<void> {
  switch (kind) {
    case 'drop A socket':
      a.sockets.at(-1)?.terminate();
      return;
    case 'drop B socket':
      b.sockets.at(-1)?.terminate();
      return;
    case 'A offline 300 ms':
    case 'B offline 300 ms': {
      const device = kind.startsWith('A') ? a : b;
      await device.client.setOnline(false);
      await sleep(300);
      await device.client.setOnline(true);
      return;
    }
    case 'A loses a sync reply':
      a.faults.loseSyncReplies++;
      return;
  }
}

async function randomDisconnects(
  a: Device,
  b: Device,
  run: string,
  settings: OfflineSettings,
  admin: postgres.Sql | undefined,
  leaks: () => number,
): Promise<PhaseRow> {
  const leaksBefore = leaks();
  const onA = new SupabaseMemoryService(a.client);
  const expected = new Map<string, string>();
  const editedAt = new Map<string, number>();
  const delays: number[] = [];
  const appliedChanges = new Map<string, Set<string>>();
  const droppedBefore = b.client.store.dropped;
  const offB = b.client.events.on('change', (change, outcome) => {
    const key = change.local_id;
    if (outcome === 'applied' && key && expected.get(key) === change.row?.content && editedAt.has(key)) {
      delays.push(performance.now() - editedAt.get(key)!);
      editedAt.delete(key);
    }
  });
  const offA = a.client.events.on('pushed', (_batch, results) => {
    for (const result of results) {
      if (result.status !== 'applied' || !expected.has(result.local_id)) continue;
      const set = appliedChanges.get(result.local_id) ?? new Set<string>();
      set.add(result.change_id);
      appliedChanges.set(result.local_id, set);
    }
  });
  const durationMs = (settings.disconnectEdits / 200) * 1000;
  const moments = Array.from(
    { length: settings.disconnects },
    () => 0.1 * durationMs + Math.random() * 0.8 * durationMs,
  ).sort((x, y) => x - y);
  const kinds: Disconnect[] = moments.map(() => disconnectKinds[Math.floor(Math.random() * disconnectKinds.length)]!);
  const injected: Promise<void>[] = [];
  const keys: string[] = [];
  const start = performance.now();
  for (let i = 0; i < settings.disconnectEdits; i++) {
    await untilDue(start, i, 5);
    while (moments.length > 0 && performance.now() - start >= moments[0]!) {
      moments.shift();
      injected.push(disconnect(kinds[settings.disconnects - moments.length - 1]!, a, b));
    }
    const content = `d:${run}:${i}`;
    let key: string;
    if (i % 5 === 4 && keys.length > 0) {
      key = keys[Math.floor(Math.random() * keys.length)]!;
      onA.updateMemory(key, { content });
    } else {
      key = onA.saveMemory({ content, context: run }).local_id!;
      keys.push(key);
    }
    expected.set(key, content);
    editedAt.set(key, performance.now());
  }
  await Promise.all(injected);
  await a.client.whenIdle();
  await untilBHolds(b, expected, 30_000);
  offA();
  offB();
  const lost = [...expected].filter(
    ([key, content]) => b.client.store.get('memories', key)?.content !== content,
  ).length;
  let duplicates = 0;
  let serverNote = 'server not checked (no database URL)';
  if (admin) {
    const rows = await admin<{ local_id: string; content: string; version: number }[]>`
      select local_id, content, version::int as version from public.memories where user_id = ${a.user.id} and context = ${run}`;
    for (const stored of rows) {
      if (!expected.has(stored.local_id)) duplicates++;
      else if (stored.version !== (appliedChanges.get(stored.local_id)?.size ?? 0)) duplicates++;
    }
    const missing = [...expected.keys()].filter((key) => !rows.some((stored) => stored.local_id === key)).length;
    serverNote = `server: ${rows.length} rows, ${missing} missing, every version = distinct change_ids applied${duplicates > 0 ? ' EXCEPT ' + duplicates : ''}`;
  }
  const kindsNote = Object.entries(
    kinds.reduce<Record<string, number>>((acc, kind) => ({ ...acc, [kind]: (acc[kind] ?? 0) + 1 }), {}),
  )
    .map(([kind, count]) => `${count}× ${kind}`)
    .join(', ');
  return row(
    `${settings.disconnectEdits} edits (1 in 5 an update) with ${settings.disconnects} random disconnects`,
    expected.size,
    lost,
    duplicates,
    delays,
    leaks() - leaksBefore,
    `${settings.disconnectEdits} edits of ${expected.size} rows; ${kindsNote}; ${serverNote}; B dropped ${b.client.store.dropped - droppedBefore} duplicate or stale events`,
  );
}

export async function offlinePhases(
  a: Device,
  b: Device,
  settings: OfflineSettings,
  admin: postgres.Sql | undefined,
  leaks: () => number,
  log: (line: string) => void,
): Promise<PhaseRow[]> {
  const run = crypto.randomUUID().slice(0, 8);
  const rows: PhaseRow[] = [];
  if (settings.offlineEdits > 0)
    rows.push(await offlineThenOnline(a, b, `${run}-offline`, settings.offlineEdits, leaks));
  if (settings.disconnectEdits > 0) {
    log(`offline: ${settings.disconnectEdits} edits with ${settings.disconnects} random disconnects`);
    rows.push(await randomDisconnects(a, b, `${run}-disconnects`, settings, admin, leaks));
  }
  return rows;
}
