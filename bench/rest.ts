/**
 * `npm run bench:rest`: what the Data API costs on the running stack (`npm run setup`): a one-row
 * select by primary key as a signed-in user, through the gateway and PostgREST with the real
 * supabase-js, beside the same query on a direct database connection run as PostgREST runs it
 * (role `authenticated`, the user's claims, RLS on), one request at a time.
 * Options: --runs N (default 1000). Exit codes: 0 done, 1 failed.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { createClient } from '@supabase/supabase-js';
import postgres from 'postgres';
import { loadConfig } from '../stack/config.ts';
import { report } from '../stack/lib/errors.ts';
import { createLocalUser, deleteLocalUsers } from '../test-support/users.ts';
import { percentile, table } from './stats.ts';

async function main(): Promise<number> {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { runs: { type: 'string' } } });
  const runs = Number(values.runs ?? 1000);
  const config = loadConfig();
  const admin = postgres(config.db.url, { max: 1, onnotice: () => undefined });
  const user = await createLocalUser(admin, `bench-rest-${crypto.randomUUID().slice(0, 8)}@bench.test`, {
    expiresIn: 3600,
  });
  const [row] = await admin<{ id: string }[]>`
    insert into public.conversations (user_id, local_id, title) values (${user.id}, 'bench-rest', 'one row') returning id`;
  const id = row!.id;

  const supabase = createClient(config.api.url, config.keys.publishableKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    global: { headers: { Authorization: `Bearer ${user.token}` } },
  });
  const direct = postgres(config.db.url, { max: 1, onnotice: () => undefined });
  const claims = JSON.stringify({ sub: user.id, role: 'authenticated' });
  const viaApi: number[] = [];
  const viaDb: number[] = [];
  for (let i = 0; i < 50; i++) await supabase.from('conversations').select('id, title').eq('id', id).single();
  for (let i = 0; i < runs; i++) {
    let started = performance.now();
    const { data, error } = await supabase.from('conversations').select('id, title').eq('id', id).single();
    viaApi.push(performance.now() - started);
    if (error || data?.id !== id) throw error ?? new Error('the row did not come back');
    started = performance.now();
    const rows = await direct.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${claims}, true)`;
      return tx`select id, title from public.conversations where id = ${id}`;
    });
    viaDb.push(performance.now() - started);
    if (rows.length !== 1) throw new Error('the direct query did not see the row');
  }
  await deleteLocalUsers(admin, [user.id]);
  await Promise.all([admin.end(), direct.end()]);

  const stats = (samples: number[]) => {
    const sorted = [...samples].sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  };
  const api = stats(viaApi);
  const db = stats(viaDb);
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, load ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    table(
      ['one-row select by primary key, signed in', 'runs', 'p50 ms', 'p99 ms'],
      [
        ['supabase-js → gateway → PostgREST → PostgreSQL', runs, api.p50.toFixed(2), api.p99.toFixed(2)],
        ['direct connection (role + claims, RLS on)', runs, db.p50.toFixed(2), db.p99.toFixed(2)],
        ['ratio', '', `${(api.p50 / db.p50).toFixed(1)}×`, `${(api.p99 / db.p99).toFixed(1)}×`],
      ],
    ),
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(report(error) || 1),
);
