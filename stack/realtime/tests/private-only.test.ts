/**
 * The "private channels only" setting (the platform's "Allow public access" switched off): public
 * channels are refused with the platform's reason, private ones are authorized as usual. A realtime
 * server of its own is started for this file with VIRGIL_REALTIME_PRIVATE_ONLY=1, on its own port
 * and replication slots, so the stack's server is not touched.
 */
import type { AddressInfo } from 'node:net';
import { createClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { LocalUser } from '../../../test-support/users.ts';
import { loadConfig } from '../../config.ts';
import { createServiceServer, type GatewayService } from '../../gateway/server.ts';
import { realtimeService } from '../service.ts';
import { adminSql, env, newUser, removeUsers, subscribed } from '../../../test-support/realtime.ts';
import { joinError, syncTopic } from '../../../test-support/private-topic.ts';

const sql = adminSql();
const suffix = crypto.randomUUID().slice(0, 8);
const slots = [`virgil_test_changes_${suffix}`, `virgil_test_messages_${suffix}`];
let ada: LocalUser;
let service: GatewayService;
let server: ReturnType<typeof createServiceServer>;
let url: string;

beforeAll(async () => {
  ada = await newUser(sql, 'ada');
  const config = loadConfig({
    ...process.env,
    VIRGIL_REALTIME_PRIVATE_ONLY: '1',
    VIRGIL_REALTIME_SLOT: slots[0],
    VIRGIL_REALTIME_BROADCAST_SLOT: slots[1],
    VIRGIL_REALTIME_ERROR_BACKOFF_MS: '0',
  });
  service = await realtimeService({ ...config, db: { ...config.db, url: env.dbUrl() } });
  server = createServiceServer([service]);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await service.close();
  await new Promise((resolve) => server.close(resolve));
  for (const slot of slots)
    await sql`select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = ${slot}`;
  await removeUsers(sql, [ada]);
  await sql.end();
});

const client = (token: string) =>
  createClient(url, env.anonKey(), {
    accessToken: async () => token,
    realtime: { transport: WebSocket as never, logger: () => undefined },
  });

describe('private channels only', () => {
  it('refuses a public channel with the platform’s reason', async () => {
    const supabase = client(ada.token);
    await supabase.realtime.setAuth();
    try {
      expect(await joinError(supabase.channel('lobby'))).toBe('PrivateOnly: This project only allows private channels');
    } finally {
      supabase.realtime.disconnect();
    }
  });

  it('still admits Ada to her own private topic', async () => {
    const supabase = client(ada.token);
    await supabase.realtime.setAuth();
    try {
      await subscribed(supabase.channel(syncTopic(ada), { config: { private: true } }));
    } finally {
      await supabase.removeAllChannels();
      supabase.realtime.disconnect();
    }
  });

  it('is off unless set: the environment wins over config.toml, which has no such key by default', () => {
    expect(loadConfig({}).realtime.privateOnly).toBe(false);
    expect(loadConfig({ VIRGIL_REALTIME_PRIVATE_ONLY: 'true' }).realtime.privateOnly).toBe(true);
  });
});
