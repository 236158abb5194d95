/**
 * `npm run bench:auth`: the local Auth's cost on the running stack (`npm run setup`), through the
 * gateway with the real supabase-js, one request at a time:
 *
 *   token refresh       `refreshSession` of one session, each use rotating the token
 *   password sign-in    `signInWithPassword` of one account (bcrypt, at the cost printed)
 *
 * The stack's per-IP limits (`[auth.rate_limit]`) must admit the runs: start the stack with
 * VIRGIL_AUTH_RATE_LIMIT_SIGN_IN_SIGN_UPS and VIRGIL_AUTH_RATE_LIMIT_TOKEN_REFRESH raised.
 * Options: --refreshes N (default 500), --sign-ins N (default 100). Exit codes: 0 done, 1 failed.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { createClient } from '@supabase/supabase-js';
import postgres from 'postgres';
import { loadConfig } from '../stack/config.ts';
import { report } from '../stack/lib/errors.ts';
import { percentile, table } from './stats.ts';

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { refreshes: { type: 'string' }, 'sign-ins': { type: 'string' } },
  });
  const refreshes = Number(values.refreshes ?? 500);
  const signIns = Number(values['sign-ins'] ?? 100);
  const config = loadConfig();
  const client = () =>
    createClient(config.api.url, config.keys.publishableKey, {
      auth: { persistSession: false, autoRefreshToken: false },
    });
  const email = `bench-auth-${crypto.randomUUID().slice(0, 8)}@bench.test`;
  const password = 'bench-auth-password';
  const signedUp = await client().auth.signUp({ email, password });
  if (signedUp.error) throw signedUp.error;
  const sql = postgres(config.db.url, { max: 1, onnotice: () => undefined });
  const [hash] = await sql<
    { cost: string }[]
  >`select substring(encrypted_password from 5 for 2) as cost from auth.users where email = ${email}`;

  const signInTimes: number[] = [];
  for (let i = 0; i < signIns; i++) {
    const started = performance.now();
    const { error } = await client().auth.signInWithPassword({ email, password });
    signInTimes.push(performance.now() - started);
    if (error) throw error;
  }
  const device = client();
  let token = signedUp.data.session!.refresh_token;
  const refreshTimes: number[] = [];
  for (let i = 0; i < refreshes; i++) {
    const started = performance.now();
    const { data, error } = await device.auth.refreshSession({ refresh_token: token });
    refreshTimes.push(performance.now() - started);
    if (error || !data.session) throw error ?? new Error('no session');
    token = data.session.refresh_token;
  }
  await sql`delete from auth.users where email = ${email}`;
  await sql.end();

  const row = (name: string, samples: number[]) => {
    const sorted = [...samples].sort((a, b) => a - b);
    return [
      name,
      sorted.length,
      ...[50, 95, 99].map((p) => percentile(sorted, p).toFixed(2)),
      sorted.at(-1)!.toFixed(2),
    ];
  };
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, load ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}`,
  );
  console.log(`bcrypt cost of the password hash: ${Number(hash?.cost)}`);
  console.log(
    table(
      ['call', 'n', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'],
      [row('token refresh (rotating)', refreshTimes), row('password sign-in', signInTimes)],
    ),
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(report(error) || 1),
);
