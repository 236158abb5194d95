/**
 * The crowd phase: N sockets of N distinct users (the real realtime-js client, one RealtimeClient
 * per user, each subscribed to its own memories), and writes at a fixed rate spread over random
 * users. Measures delivery to the owner; any change reaching another user's socket is a leak.
 */
import { RealtimeClient } from '@supabase/realtime-js';
import postgres from 'postgres';
import WebSocket from 'ws';
import { createLocalUser } from '../stack/auth/users.ts';
import type { HarnessOptions } from './options.ts';
import { type PhaseRow, summarize } from './stats.ts';

const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function crowdPhase(options: HarnessOptions, log: (line: string) => void): Promise<PhaseRow> {
  const count = options.sockets;
  const run = crypto.randomUUID().slice(0, 8);
  const admin = postgres(options.dbUrl!, { max: 4, onnotice: () => undefined });
  const users = [];
  for (let i = 0; i < count; i += 50) {
    users.push(...(await Promise.all(Array.from({ length: Math.min(50, count - i) }, (_, j) => createLocalUser(admin, `crowd-${run}-${i + j}@virgil.test`, { expiresIn: 6 * 3600 })))));
  }
  log(`crowd: ${count} users created; connecting sockets`);
  const receipts = new Map<number, number[]>();
  let leaks = 0;
  const clients: RealtimeClient[] = [];
  const wsUrl = `${options.url.replace(/^http/, 'ws')}/realtime/v1`;
  for (let i = 0; i < users.length; i += 100) {
    await Promise.all(
      users.slice(i, i + 100).map(
        (user) =>
          new Promise<void>((resolve, reject) => {
            const client = new RealtimeClient(wsUrl, { params: { apikey: options.anonKey }, transport: WebSocket as never, logger: () => undefined });
            client.setAuth(user.token);
            clients.push(client);
            const timer = setTimeout(() => reject(new Error('a crowd socket did not subscribe within 20 s')), 20_000);
            client
              .channel(`crowd-${user.id}`)
              .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'memories', filter: `user_id=eq.${user.id}` }, (payload) => {
                const record = payload.new as { user_id: string; content: string };
                if (record.user_id !== user.id) leaks++;
                const seq = Number(record.content.split(':')[2]);
                const list = receipts.get(seq) ?? [];
                list.push(performance.now());
                receipts.set(seq, list);
              })
              .subscribe((status) => {
                if (status === 'SUBSCRIBED') {
                  clearTimeout(timer);
                  resolve();
                }
              });
          }),
      ),
    );
  }
  log(`crowd: ${clients.length} sockets subscribed; writing ${options.crowdRate}/s`);
  const writers = Array.from({ length: 8 }, () => postgres(options.dbUrl!, { max: 1, onnotice: () => undefined }));
  const seconds = options.stepSeconds * 2;
  const total = Math.round(options.crowdRate * seconds);
  const committed = new Map<number, number>();
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let seq = 0; seq < total; seq++) {
    const due = start + (seq * 1000) / options.crowdRate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const user = users[Math.floor(Math.random() * users.length)]!;
    const claims = JSON.stringify({ sub: user.id, role: 'authenticated', aud: 'authenticated' });
    pending.push(
      writers[seq % writers.length]!.unsafe(
        `select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${literal(claims)}, true); ` +
          `insert into public.memories (content, context) values (${literal(`c:${run}:${seq}`)}, ${literal(run)})`,
      ).then(() => void committed.set(seq, performance.now())),
    );
  }
  await Promise.allSettled(pending);
  const achieved = committed.size / ((performance.now() - start) / 1000);
  const deadline = performance.now() + 10_000;
  while (performance.now() < deadline && [...committed.keys()].some((seq) => !receipts.has(seq))) await sleep(50);
  const delays: number[] = [];
  let lost = 0;
  let duplicates = 0;
  for (const [seq, at] of committed) {
    const got = receipts.get(seq);
    if (!got) lost++;
    else {
      delays.push(Math.max(0, got[0]! - at));
      duplicates += got.length - 1;
    }
  }
  for (const client of clients) client.disconnect();
  await Promise.all(writers.map((writer) => writer.end()));
  await admin`delete from auth.users where email like ${`crowd-${run}-%`}`;
  await admin.end();
  return {
    phase: `crowd: ${count} sockets, distinct users`,
    targetRate: options.crowdRate,
    achievedRate: achieved,
    written: committed.size,
    received: delays.length,
    lost,
    duplicates,
    orderViolations: 0,
    leaksToC: leaks,
    latency: summarize(delays),
    clock: 'writer COMMIT return → owner socket',
  };
}
