/**
 * The stack's own services under kill -9, on the stack `npm test` runs: each is restarted by the
 * supervisor, the others keep answering meanwhile, /health and `stack:status` show the restart, and a
 * real supabase-js client reconnects and receives again.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config.ts';
import { functionPids } from '../../../test-support/sync-faults.ts';
import {
  Collector,
  env,
  randomTopic,
  realClient,
  subscribed,
  type TestClient,
} from '../../../test-support/realtime.ts';
import type { ServiceStatus } from '../protocol.ts';
import { isAlive, restarted, service, until } from './helpers.ts';

const config = loadConfig();
const clients: TestClient[] = [];
const topic = randomTopic('supervised');
let received: Collector<{ payload: { marker: string } }>;
let statuses: Collector<string>;
let send: (marker: string) => Promise<unknown>;

beforeAll(async () => {
  const listener = await realClient(null);
  const sender = await realClient(null);
  clients.push(listener, sender);
  received = new Collector();
  statuses = new Collector();
  listener.supabase
    .channel(topic)
    .on('broadcast', { event: 'marker' }, received.push)
    .subscribe((status) => statuses.push(status));
  await statuses.waitFor((status) => status === 'SUBSCRIBED', 10_000, 'the listener’s join');
  const out = sender.supabase.channel(topic);
  await subscribed(out);
  send = (marker) => out.send({ type: 'broadcast', event: 'marker', payload: { marker } });
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
});

/** Sends `marker` every 250 ms until the listener has it (a rejoin may still be under way). */
async function delivered(marker: string, deadlineMs = 20_000): Promise<void> {
  await until(
    `broadcast ${marker} received`,
    async () => {
      if (received.items.some((item) => item.payload.marker === marker)) return true;
      await send(marker).catch(() => undefined);
      await received.waitFor((item) => item.payload.marker === marker, 250).catch(() => undefined);
      return received.items.some((item) => item.payload.marker === marker) ? true : undefined;
    },
    deadlineMs,
  );
}

const syncAnswer = async () => {
  const response = await fetch(`${env.apiUrl()}/functions/v1/sync`, {
    method: 'POST',
    headers: { apikey: config.keys.publishableKey, 'content-type': 'application/json' },
    body: '{}',
  });
  return { status: response.status, body: (await response.json()) as { error?: string; code?: string } };
};

async function statusJson(): Promise<ServiceStatus[]> {
  const cli = ['--import', 'tsx', 'stack/cli.ts', 'stack:status', '--json'];
  const { stdout } = await promisify(execFile)(process.execPath, cli, { cwd: config.projectRoot, env: process.env });
  return (JSON.parse(stdout) as { services: ServiceStatus[] }).services;
}

describe('supervised services of the local stack', () => {
  it('a publishable key reaches functions as the anon JWT (the function itself answers)', async () => {
    expect(await syncAnswer()).toEqual({
      status: 401,
      body: expect.objectContaining({ error: 'user_token_required' }),
    });
  });

  it('restarts realtime after kill -9; functions answer meanwhile; the client rejoins and receives again', async () => {
    await delivered('before');
    const before = service(config, 'realtime');
    const joins = statuses.items.filter((status) => status === 'SUBSCRIBED').length;
    process.kill(before.pid!, 'SIGKILL');

    const down = await fetch(`${env.apiUrl()}/realtime/v1/api/broadcast`, {
      method: 'POST',
      headers: { apikey: config.keys.secretKey },
      body: '{}',
    });
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('1');
    expect(service(config, 'realtime').state).not.toBe('running');
    expect((await syncAnswer()).status).toBe(401);

    const after = await restarted(config, 'realtime', before.restarts);
    expect(after.lastExit?.signal).toBe('SIGKILL');
    const health = await until('/health 200', async () => {
      const response = await fetch(`${env.apiUrl()}/health`);
      return response.ok ? ((await response.json()) as { services: ServiceStatus[] }) : undefined;
    });
    expect(health.services).toContainEqual(
      expect.objectContaining({ name: 'realtime', state: 'running', restarts: before.restarts + 1, pid: after.pid }),
    );
    expect(await statusJson()).toContainEqual(
      expect.objectContaining({
        name: 'realtime',
        state: 'running',
        restarts: before.restarts + 1,
        lastExit: expect.objectContaining({ signal: 'SIGKILL' }),
      }),
    );

    await statuses.waitFor(
      () => statuses.items.filter((status) => status === 'SUBSCRIBED').length > joins,
      20_000,
      'the listener’s rejoin',
    );
    await delivered('after-realtime-restart');
  }, 60_000);

  it('restarts functions after kill -9 with its Deno workers; realtime keeps delivering meanwhile', async () => {
    const before = service(config, 'functions');
    const workers = functionPids('sync', env.dbUrl());
    expect(workers.length).toBeGreaterThan(0);
    process.kill(before.pid!, 'SIGKILL');
    const unavailable = await syncAnswer();
    expect(unavailable).toEqual({
      status: 503,
      body: expect.objectContaining({ error: 'service_unavailable', service: 'functions' }),
    });
    await delivered('while-functions-down', 5000);
    await until('the killed host’s Deno workers gone', () => (workers.some(isAlive) ? undefined : true), 10_000);
    await restarted(config, 'functions', before.restarts);
    expect((await syncAnswer()).status).toBe(401);
  }, 60_000);

  it('restarts the gateway after kill -9, and it answers again', async () => {
    const before = service(config, 'gateway');
    process.kill(before.pid!, 'SIGKILL');
    await restarted(config, 'gateway', before.restarts);
    expect((await fetch(`${env.apiUrl()}/health`)).status).toBe(200);
    await delivered('after-gateway-restart');
  }, 60_000);
});
