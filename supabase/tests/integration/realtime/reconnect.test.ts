/**
 * Reconnect and catch-up: when a device's socket drops, realtime-js reconnects and rejoins by
 * itself; changes committed while it was away are not replayed by realtime (as on the platform),
 * so the device catches up through the sync function's pull. Afterwards it holds exactly what was
 * written.
 */
import type { RealtimePostgresChangesPayload } from '@supabase/supabase-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LocalUser } from '../../../../test-support/users.ts';
import {
  adminSql,
  asUser,
  Collector,
  env,
  newUser,
  randomTopic,
  realClient,
  removeUsers,
  type TestClient,
} from '../../../../test-support/realtime.ts';

type Change = RealtimePostgresChangesPayload<Record<string, unknown>>;

const sql = adminSql();
let alice: LocalUser;
let device: TestClient;

beforeAll(async () => {
  alice = await newUser(sql, 'alice');
  device = await realClient(alice.token);
});
afterAll(async () => {
  await device.close();
  await removeUsers(sql, [alice]);
  await sql.end();
});

async function pull(
  cursor: string | null,
): Promise<{ rows: { table: string; row: Record<string, unknown> | null }[]; cursor: string }> {
  const rows: { table: string; row: Record<string, unknown> | null }[] = [];
  let next = cursor;
  for (;;) {
    const response = await fetch(`${env.apiUrl()}/functions/v1/sync`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.token}`, apikey: env.anonKey(), 'content-type': 'application/json' },
      body: JSON.stringify({ pull: { cursor: next } }),
    });
    expect(response.status, 'the sync function answers pulls').toBe(200);
    const body = (await response.json()) as { pull: { changes: typeof rows; cursor: string; has_more: boolean } };
    rows.push(...body.pull.changes);
    next = body.pull.cursor;
    if (!body.pull.has_more) return { rows, cursor: next };
  }
}

const insertMemory = async (content: string) => {
  await asUser(sql, alice, (tx) => tx`insert into public.memories (content) values (${content})`);
};

it('rejoins after a dropped socket and, with a pull, holds exactly what was written', async () => {
  const statuses = new Collector<string>();
  const streamed = new Collector<Change>();
  const channel = device.supabase
    .channel(randomTopic('reconnect'))
    .on(
      'postgres_changes',
      { event: 'INSERT', schema: 'public', table: 'memories', filter: `user_id=eq.${alice.id}` },
      streamed.push,
    );
  channel.subscribe((status) => statuses.push(status));
  await statuses.waitFor((s) => s === 'SUBSCRIBED', 10_000, 'SUBSCRIBED');
  const { cursor } = await pull(null);

  const written: string[] = [];
  for (const n of [1, 2]) written.push(`before ${n}`);
  for (const content of written) await insertMemory(content);
  await streamed.waitFor(
    (c) => (c.new as { content?: string }).content === 'before 2',
    5000,
    'the writes before the drop',
  );

  // A network drop: no close frame. The client sees the socket die and reconnects.
  device.sockets.at(-1)!.terminate();
  await statuses.waitFor((s) => s === 'CHANNEL_ERROR', 5000, 'the channel error after the drop');
  for (const n of [1, 2, 3]) {
    written.push(`while away ${n}`);
    await insertMemory(`while away ${n}`);
  }
  await statuses.waitFor(
    (s) => s === 'SUBSCRIBED' && statuses.items.lastIndexOf('SUBSCRIBED') > statuses.items.indexOf('CHANNEL_ERROR'),
    10_000,
    'SUBSCRIBED again',
  );
  written.push('after rejoin');
  await insertMemory('after rejoin');
  await streamed.waitFor(
    (c) => (c.new as { content?: string }).content === 'after rejoin',
    5000,
    'a write after the rejoin',
  );

  const pulled = await pull(cursor);
  const held = new Set([
    ...streamed.items.map((c) => (c.new as { content: string }).content),
    ...pulled.rows.filter((r) => r.table === 'memories').map((r) => String(r.row?.content)),
  ]);
  expect([...held].sort()).toEqual([...written].sort());
});
