/**
 * The change stream decodes only the publication's tables (wal2json `add-tables`). A table added to
 * the publication loses nothing: rows written right after `alter publication … add table`, before
 * the stream has noticed and restarted with the new list, still reach a subscriber whose binding
 * covers the table (here, every table of a scratch schema, as the service role).
 */
import type { RealtimePostgresChangesPayload } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, it } from 'vitest';
import {
  adminSql,
  Collector,
  randomTopic,
  realClient,
  subscribed,
  type TestClient,
} from '../../../test-support/realtime.ts';

type Change = RealtimePostgresChangesPayload<Record<string, unknown>>;

const sql = adminSql();
const schema = `rt_pub_${crypto.randomUUID().slice(0, 8)}`;
let service: TestClient;

beforeAll(async () => {
  await sql.unsafe(`
    create schema ${schema};
    grant usage on schema ${schema} to service_role;
    create table ${schema}.first (id bigint generated always as identity primary key, body text);
    create table ${schema}.second (id bigint generated always as identity primary key, body text);
    grant select on all tables in schema ${schema} to service_role;
    alter publication supabase_realtime add table ${schema}.first;
  `);
  service = await realClient(process.env.SERVICE_ROLE_KEY ?? null);
});

afterAll(async () => {
  await service.close();
  await sql
    .unsafe(`alter publication supabase_realtime drop table if exists ${schema}.first, ${schema}.second`)
    .catch(() => undefined);
  await sql.unsafe(`drop schema if exists ${schema} cascade`);
  await sql.end();
});

describe('a table added to the publication', () => {
  it('delivers the rows written the moment after it was added', async () => {
    const sees = new Collector<Change>();
    const channel = service.supabase
      .channel(randomTopic('pub'))
      .on('postgres_changes', { event: 'INSERT', schema }, sees.push);
    await subscribed(channel);
    // Wait until the stream decodes the current list: a row of the first table reaches us only once
    // the stream has restarted with that table (added in beforeAll, noticed within a second).
    await sql.unsafe(`insert into ${schema}.first (body) values ('settled')`);
    await sees.waitFor(
      (c) => c.table === 'first' && (c.new as { body?: string }).body === 'settled',
      8000,
      'a row of the first table',
    );
    await sql.unsafe(`alter publication supabase_realtime add table ${schema}.second`);
    await sql.unsafe(`insert into ${schema}.second (body) values ('right after')`);
    await sql.unsafe(`insert into ${schema}.first (body) values ('marker')`);
    await sees.waitFor(
      (c) => c.table === 'second' && (c.new as { body?: string }).body === 'right after',
      8000,
      'the row of the newly published table',
    );
    await sees.waitFor(
      (c) => c.table === 'first' && (c.new as { body?: string }).body === 'marker',
      8000,
      'the marker',
    );
  });
});
