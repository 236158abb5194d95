/**
 * The crowd phase: N sockets of N distinct users (the real realtime-js client, one RealtimeClient
 * per user), and writes at a fixed rate spread over random users. Each socket listens on the paths
 * `--path` names, so both are measured side by side on the same writes:
 *
 *   postgres_changes  a channel with a `postgres_changes` binding on its own memories (user_id filter)
 *   broadcast         the user's private topic `virgil-sync-<id>` (Broadcast from Database)
 *
 * Measures delivery to the owner per path; any change reaching another user's socket is a leak.
 * N sockets pass the default quota of 200 concurrent users: latency.ts raises it before the run
 * (quotas.ts) and prints the values in force.
 */
import { RealtimeClient } from '@supabase/realtime-js';
import postgres from 'postgres';
import WebSocket from 'ws';
import { createLocalUser } from '../../test-support/users.ts';
import type { HarnessOptions, HarnessPath } from './options.ts';
import { type PhaseRow, summarize } from './stats.ts';
import { untilDue } from './phase.ts';
import { sleep } from '../../stack/lib/sleep.ts';
import { literal } from '../../stack/lib/postgres.ts';

type Path = Exclude<HarnessPath, 'both'>;
const pathsOf = (path: HarnessPath): Path[] => (path === 'both' ? ['postgres_changes', 'broadcast'] : [path]);

export async function crowdPhase(options: HarnessOptions, log: (line: string) => void): Promise<PhaseRow[]> {
  const paths = pathsOf(options.path);
  const count = options.sockets;
  const run = crypto.randomUUID().slice(0, 8);
  const admin = postgres(options.dbUrl!, { max: 4, onnotice: () => undefined });
  const users = [];
  for (let i = 0; i < count; i += 50) {
    users.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(50, count - i) }, (_, j) =>
          createLocalUser(admin, `crowd-${run}-${i + j}@virgil.test`, { expiresIn: 6 * 3600 }),
        ),
      )),
    );
  }
  log(`crowd: ${count} users created; connecting sockets`);
  const receipts: Record<Path, Map<number, number[]>> = { postgres_changes: new Map(), broadcast: new Map() };
  const leaks: Record<Path, number> = { postgres_changes: 0, broadcast: 0 };
  const receive = (path: Path, owner: string, record: { user_id: string; content: string }) => {
    if (record.user_id !== owner) leaks[path]++;
    const seq = Number(record.content.split(':')[2]);
    const list = receipts[path].get(seq) ?? [];
    list.push(performance.now());
    receipts[path].set(seq, list);
  };
  const clients: RealtimeClient[] = [];
  const wsUrl = `${options.url.replace(/^http/, 'ws')}/realtime/v1`;
  for (let i = 0; i < users.length; i += 100) {
    await Promise.all(
      users.slice(i, i + 100).map(
        (user) =>
          new Promise<void>((resolve, reject) => {
            const client = new RealtimeClient(wsUrl, {
              params: { apikey: options.anonKey },
              transport: WebSocket as never,
              logger: () => undefined,
            });
            client.setAuth(user.token);
            clients.push(client);
            // A refused join is retried by realtime-js itself (e.g. after the database restarted
            // under the server's pool); only a channel that never joins fails the phase.
            let refusal = '';
            const timer = setTimeout(
              () => reject(new Error(`a crowd socket did not subscribe within 30 s${refusal ? ` (${refusal})` : ''}`)),
              30_000,
            );
            let joined = 0;
            const onStatus = (status: string, error?: Error) => {
              if (status === 'SUBSCRIBED' && ++joined === paths.length) {
                clearTimeout(timer);
                resolve();
              } else if (status === 'CHANNEL_ERROR') {
                refusal = error?.message ?? 'refused';
              }
            };
            if (paths.includes('postgres_changes')) {
              client
                .channel(`crowd-${user.id}`)
                .on(
                  'postgres_changes',
                  { event: 'INSERT', schema: 'public', table: 'memories', filter: `user_id=eq.${user.id}` },
                  (payload) =>
                    receive('postgres_changes', user.id, payload.new as { user_id: string; content: string }),
                )
                .subscribe(onStatus);
            }
            if (paths.includes('broadcast')) {
              client
                .channel(`virgil-sync-${user.id}`, { config: { private: true } })
                .on('broadcast', { event: 'INSERT' }, (message) => {
                  const payload = message.payload as { table?: string; record?: { user_id: string; content: string } };
                  if (payload.table === 'memories' && payload.record) receive('broadcast', user.id, payload.record);
                })
                .subscribe(onStatus);
            }
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
    await untilDue(start, seq, 1000 / options.crowdRate);
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
  const missing = () => paths.some((path) => [...committed.keys()].some((seq) => !receipts[path].has(seq)));
  while (performance.now() < deadline && missing()) await sleep(50);
  const rows = paths.map((path): PhaseRow => {
    const delays: number[] = [];
    let lost = 0;
    let duplicates = 0;
    for (const [seq, at] of committed) {
      const got = receipts[path].get(seq);
      if (!got) lost++;
      else {
        delays.push(Math.max(0, got[0]! - at));
        duplicates += got.length - 1;
      }
    }
    return {
      phase: `crowd: ${count} sockets, distinct users (${path === 'broadcast' ? 'broadcast, private topic' : 'postgres_changes'})`,
      targetRate: options.crowdRate,
      achievedRate: achieved,
      written: committed.size,
      received: delays.length,
      lost,
      duplicates,
      orderViolations: 0,
      leaksToC: leaks[path],
      latency: summarize(delays),
      clock: 'writer COMMIT return → owner socket',
    };
  });
  for (const client of clients) client.disconnect();
  await Promise.all(writers.map((writer) => writer.end()));
  await admin`delete from auth.users where email like ${`crowd-${run}-%`}`;
  await admin.end();
  return rows;
}
