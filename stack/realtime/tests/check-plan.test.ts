/**
 * The RLS check of delivery (stack/realtime/changes/visibility.ts) reads the changed row through
 * the primary key's index, whatever the table's size: here on a scratch table of three rows that
 * was never analysed and that has a second index leading with the policy's column (the planner's
 * favourite when it thinks the table tiny), EXPLAIN of the exact check statement, run as the
 * subscriber on a session with the checker's settings, must show the primary key's index and no
 * other way into the table, for the custom plan and for the generic plan a prepared statement
 * falls back to.
 *
 * And the check answers as the subscriber, even when its connection was replaced behind its back
 * (a new session is `postgres`, which bypasses RLS): Ada sees her row, Ben never does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import type { LocalUser } from '../../../test-support/users.ts';
import { LANE_SETTINGS, rowCheckStatement, rowKey, Visibility } from '../changes/visibility.ts';
import { testTable } from '../changes/test-support.ts';
import { adminSql, env, newUser, removeUsers } from '../../../test-support/realtime.ts';

const sql = adminSql();
const schema = `rt_plan_${crypto.randomUUID().slice(0, 8)}`;
let ada: LocalUser;
let ben: LocalUser;
let adaRow: { id: string; xid: number };

const table = testTable(schema, 'notes', [
  ['id', 'uuid'],
  ['user_id', 'uuid'],
  ['body', 'text'],
]);

beforeAll(async () => {
  ada = await newUser(sql, 'ada');
  ben = await newUser(sql, 'ben');
  await sql.unsafe(`
    create schema ${schema};
    grant usage on schema ${schema} to authenticated;
    create table ${schema}.notes (id uuid primary key default gen_random_uuid(), user_id uuid not null, body text);
    create index notes_by_owner on ${schema}.notes (user_id, body);
    alter table ${schema}.notes enable row level security;
    create policy "read own notes" on ${schema}.notes for select to authenticated using (user_id = (select auth.uid()));
    grant select on ${schema}.notes to authenticated;
    insert into ${schema}.notes (user_id, body) values ('${ben.id}', 'b1'), ('${ben.id}', 'b2');
  `);
  adaRow = (
    await sql<{ id: string; xid: number }[]>`
      insert into ${sql(schema)}.notes (user_id, body) values (${ada.id}, 'a1') returning id, (xmin::text)::int8 as xid`
  )[0]!;
});

afterAll(async () => {
  await sql.unsafe(`drop schema if exists ${schema} cascade`);
  await removeUsers(sql, [ada, ben]);
  await sql.end();
});

describe('the check statement', () => {
  it('reads the row through the primary key index only, custom and generic plans alike', async () => {
    const lane = postgres(env.dbUrl(), { max: 1, connection: { ...LANE_SETTINGS }, onnotice: () => undefined });
    try {
      const [stats] = await lane<
        { reltuples: number }[]
      >`select reltuples from pg_catalog.pg_class where oid = ${`${schema}.notes`}::regclass`;
      expect(stats!.reltuples, 'the table was never analysed').toBeLessThan(0);
      await lane.unsafe(
        `select set_config('role', 'authenticated', false), set_config('request.jwt.claims', $1, false)`,
        [JSON.stringify({ sub: ada.id, role: 'authenticated' })],
      );
      await lane.unsafe(`prepare check_plan(text[], int8[], text, text) as ${rowCheckStatement(table)}`);
      const plans: string[] = [];
      for (const mode of ['force_custom_plan', 'force_generic_plan']) {
        await lane.unsafe(`set plan_cache_mode = ${mode}`);
        const rows = await lane.unsafe<{ 'QUERY PLAN': string }[]>(
          `explain execute check_plan('{${adaRow.id},${crypto.randomUUID()}}', '{${adaRow.xid}}', 'authenticated', '{}')`,
        );
        plans.push(rows.map((row) => row['QUERY PLAN']).join('\n'));
      }
      for (const plan of plans) {
        const reads = plan.split('\n').filter((line) => / on notes t\b/.test(line));
        // One lookup per key, run once per key: no scan, no other index, no join that could drive.
        expect(reads, plan).toHaveLength(1);
        expect(reads[0], plan).toMatch(/Index (Only )?Scan using notes_pkey on notes t/);
      }
    } finally {
      await lane.end();
    }
  });
});

describe('the check as the subscriber', () => {
  it('shows Ada her row and never Ben, even after the session was replaced', async () => {
    const visibility = new Visibility(env.dbUrl(), () => undefined, 1);
    const key = rowKey([adaRow.id]);
    const group = (user: LocalUser) => ({
      check: 'row' as const,
      role: 'authenticated',
      claims: { sub: user.id, role: 'authenticated' },
      table,
      items: [
        { key, image: { id: adaRow.id }, xid: adaRow.xid },
        { key: 'nobody', image: { id: crypto.randomUUID() }, xid: adaRow.xid },
      ],
    });
    try {
      expect([...(await visibility.check([group(ada)]))[0]!]).toEqual([key]);
      expect([...(await visibility.check([group(ben)]))[0]!]).toEqual([]);
      // The lane's session now acts as Ben. Replace it: its next connection starts as `postgres`.
      await sql`select pg_catalog.pg_terminate_backend(pid) from pg_catalog.pg_stat_activity
                 where application_name = 'virgil_realtime_checks' and query like ${`%${schema}%`}`;
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect([...(await visibility.check([group(ben)]))[0]!], 'Ben after a new session').toEqual([]);
      expect([...(await visibility.check([group(ada)]))[0]!], 'Ada after a new session').toEqual([key]);
    } finally {
      await visibility.close();
    }
  });
});
