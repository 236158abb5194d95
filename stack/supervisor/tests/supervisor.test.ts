/**
 * The supervisor, the service host and the gateway's proxy, on a stack of their own (own folder,
 * own API port, no database) running the fixture services (fixtures/services.ts): each service in
 * its own process, restarted when it dies, its children dying with it, and the proxy passing
 * bodies, headers and WebSocket frames unchanged while translating keys as the CLI's Kong does.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig, type StackConfig } from '../../config.ts';
import { invalidApiKey } from '../../identity/identify.ts';
import { startServices, stopServices, supervisorState } from '../../stack.ts';
import { supervisorPlan } from '../children.ts';
import { logFile, stateFile } from '../supervisor.ts';
import { freePort, isAlive, restarted, service, until } from './helpers.ts';

const fixtures = join(import.meta.dirname, 'fixtures', 'services.ts');
let config: StackConfig;
let env: NodeJS.ProcessEnv;
let base: string;

beforeAll(async () => {
  const stackDir = mkdtempSync(join(tmpdir(), 'virgil-supervisor-'));
  env = { ...process.env, VIRGIL_STACK_DIR: stackDir, VIRGIL_API_PORT: String(await freePort()) };
  config = loadConfig(env);
  base = config.api.url;
  await startServices(config, { env, plan: supervisorPlan(config, fixtures) });
}, 60_000);

afterAll(async () => {
  await stopServices(config);
  rmSync(config.stackDir, { recursive: true, force: true });
});

const json = async (path: string, init: RequestInit = {}) => {
  const response = await fetch(`${base}${path}`, init);
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
};
const headersSeen = async (headers: Record<string, string>, query = '') =>
  (await json(`/echo/v1/headers${query}`, { headers })).body.headers as Record<string, string>;

describe('each service in a process of its own', () => {
  it('runs the gateway and every service as separate processes, all listed by /health', async () => {
    const health = await json('/health');
    expect(health.status).toBe(200);
    expect((health.body.services as { name: string; state: string }[]).map(({ name, state }) => [name, state])).toEqual(
      [
        ['echo', 'running'],
        ['faulty', 'running'],
      ],
    );
    const pids = ['gateway', 'echo', 'faulty'].map((name) => service(config, name).pid);
    expect(new Set(pids).size).toBe(3);
    expect(pids).not.toContain(process.pid);
  });

  it('answers a throwing or rejecting handler 500 from that service only, and the process lives on', async () => {
    const pid = service(config, 'faulty').pid;
    for (const path of ['/faulty/v1/throw', '/faulty/v1/reject']) {
      const answer = await json(path);
      expect(answer.status).toBe(500);
      expect(answer.body).toEqual({ error: 'internal_error', message: 'faulty failed to handle the request' });
    }
    expect((await json('/echo/v1/headers')).status).toBe(200);
    expect((await json('/faulty/v1/ok')).body).toEqual({ pid });
    expect(service(config, 'faulty')).toMatchObject({ state: 'running', restarts: 0 });
  });

  it('restarts a service whose process dies; meanwhile its prefix is 503 with Retry-After and the others answer', async () => {
    const before = service(config, 'faulty');
    expect((await fetch(`${base}/faulty/v1/crash`)).status).toBe(202);
    // The backoff (250 ms) and the new process's start keep it down long enough to be seen.
    const health = await until('/health showing faulty down', async () => {
      const answer = await json('/health');
      const faulty = (answer.body.services as { name: string; state: string }[]).find(
        (entry) => entry.name === 'faulty',
      );
      return faulty?.state !== 'running' ? answer : undefined;
    });
    expect(health.status).toBe(503);
    expect(health.headers.get('retry-after')).toBe('1');
    expect(health.body.status).toBe('unavailable');
    const down = await fetch(`${base}/faulty/v1/ok`);
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('1');
    expect(await down.json()).toMatchObject({ error: 'service_unavailable', service: 'faulty' });
    expect((await json('/echo/v1/headers')).status).toBe(200);

    const after = await restarted(config, 'faulty', before.restarts);
    expect(after.pid).not.toBe(before.pid);
    expect(after.lastExit).toMatchObject({ code: 1, signal: null });
    expect((await json('/faulty/v1/ok')).body).toEqual({ pid: after.pid });
    expect((await json('/health')).body.services).toContainEqual(
      expect.objectContaining({ name: 'faulty', state: 'running', restarts: 1 }),
    );
    const log = readFileSync(logFile(config.stackDir, 'faulty'), 'utf8');
    expect(log).toContain('an error nothing catches');
    expect(log).toMatch(/faulty: exited \(code 1\) after [\d.]+ s; restart 1 in \d+ ms/);
  });

  it('kills what a service started when its process is killed with -9 (process groups)', async () => {
    const before = service(config, 'echo');
    const { pid: child, host } = (await json('/echo/v1/spawn-child')).body as { pid: number; host: number };
    expect(host).toBe(before.pid);
    expect(isAlive(child)).toBe(true);
    process.kill(host, 'SIGKILL');
    await until('the child of the killed host gone', () => (isAlive(child) ? undefined : true), 10_000);
    const after = await restarted(config, 'echo', before.restarts);
    expect(after.lastExit).toMatchObject({ signal: 'SIGKILL' });
  });

  it('restarts the gateway when it is killed', async () => {
    const before = service(config, 'gateway');
    process.kill(before.pid!, 'SIGKILL');
    await restarted(config, 'gateway', before.restarts);
    expect((await json('/health')).status).toBe(200);
  });
});

describe('the proxy', () => {
  it('answers preflights and unknown paths itself', async () => {
    const preflight = await fetch(`${base}/echo/v1/headers`, { method: 'OPTIONS' });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    const unknown = await json('/nowhere/v1/x');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: 'not_found' });
  });

  it('streams a request body and the answer both ways, and passes response headers unchanged', async () => {
    const { port } = new URL(base);
    const request = httpRequest({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/echo/v1/stream',
      headers: { 'transfer-encoding': 'chunked' },
    });
    const answer = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      request.once('response', resolve);
      request.once('error', reject);
      request.flushHeaders();
    });
    let received = '';
    const next = (text: string) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (received.includes(text)) {
            answer.off('data', onData);
            resolve();
          }
        };
        const onData = (chunk: Buffer) => ((received += chunk.toString()), check());
        answer.on('data', onData);
        check();
      });
    // Each chunk's echo must come back before the next chunk is sent: nothing waits for the whole body.
    request.write('one');
    await next('got:one\n');
    request.write('two');
    await next('got:two\n');
    request.end();
    await next('end\n');
    expect(received).toBe('got:one\ngot:two\nend\n');
    const raw = answer.rawHeaders;
    const pairs = Array.from({ length: raw.length / 2 }, (_, i) => [raw[2 * i], raw[2 * i + 1]]);
    expect(pairs).toContainEqual(['X-Custom-Header', 'Mixed-Case-Value']);
    expect(pairs.filter(([key]) => key === 'Set-Cookie')).toEqual([
      ['Set-Cookie', 'a=1; Path=/'],
      ['Set-Cookie', 'b=2; Path=/'],
    ]);
    expect(pairs.filter(([key]) => key!.toLowerCase() === 'access-control-allow-origin')).toEqual([
      ['Access-Control-Allow-Origin', 'https://app.example'],
    ]);
  });

  it('passes WebSocket frames unchanged, text and binary', async () => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/echo/v1/socket`);
    await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
    const echoes: { data: Buffer; binary: boolean }[] = [];
    ws.on('message', (data: Buffer, binary) => echoes.push({ data, binary }));
    const binary = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256));
    ws.send('héllo ✓');
    ws.send(binary);
    await until('two echoes', () => (echoes.length === 2 ? true : undefined), 5000);
    ws.close();
    expect(echoes[0]).toEqual({ data: Buffer.from('héllo ✓'), binary: false });
    expect(echoes[1]!.binary).toBe(true);
    expect(echoes[1]!.data.equals(binary)).toBe(true);
  });

  it('puts the legacy JWT for the stack’s own sb_ keys into Authorization, as the CLI’s Kong does', async () => {
    const { publishableKey, secretKey, anonKey, serviceRoleKey } = config.keys;
    expect((await headersSeen({ apikey: publishableKey })).authorization).toBe(`Bearer ${anonKey}`);
    expect((await headersSeen({ apikey: secretKey })).authorization).toBe(`Bearer ${serviceRoleKey}`);
    expect((await headersSeen({ apikey: secretKey, authorization: `Bearer ${publishableKey}` })).authorization).toBe(
      `Bearer ${serviceRoleKey}`,
    );
    expect((await headersSeen({ authorization: `Bearer ${secretKey}` })).authorization).toBe(
      `Bearer ${serviceRoleKey}`,
    );
    // A real token is the caller's: passed on as it is.
    expect((await headersSeen({ apikey: publishableKey, authorization: 'Bearer eyJ.user.token' })).authorization).toBe(
      'Bearer eyJ.user.token',
    );
    expect((await headersSeen({})).authorization).toBeUndefined();
  });

  it('adds X-Forwarded-For, appending the client’s address to what came before, and -Host and -Proto', async () => {
    const seen = await headersSeen({ 'x-forwarded-for': '203.0.113.7' });
    expect(seen['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-host']).toBe(new URL(base).host);
  });

  it('refuses an sb_ key that is not the stack’s own with the platform’s 401, over HTTP and WebSocket', async () => {
    for (const headers of [{ apikey: 'sb_secret_totally-made-up' }, { authorization: 'Bearer sb_publishable_nope' }]) {
      const answer = await json('/echo/v1/headers', { headers });
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual(invalidApiKey().body());
    }
    expect((await json('/echo/v1/headers?apikey=sb_secret_nope')).status).toBe(401);
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/echo/v1/socket?apikey=sb_secret_nope`);
    const status = await new Promise<number | undefined>((resolve) => {
      ws.once('unexpected-response', (_request, response) => resolve(response.statusCode));
      ws.once('open', () => resolve(101));
      ws.once('error', () => undefined);
    });
    ws.terminate();
    expect(status).toBe(401);
  });
});

describe('state and stop', () => {
  it('cleans up a stale state file left by a killed supervisor', () => {
    const file = stateFile(config.stackDir);
    const live = readFileSync(file, 'utf8');
    const other = join(config.stackDir, 'other');
    const staleConfig = { ...config, stackDir: other };
    rmSync(other, { recursive: true, force: true });
    mkdirSync(other, { recursive: true });
    // A supervisor pid that no longer runs, and a child pid that is not ours to touch (init).
    const stale = {
      pid: 2 ** 22 + 1,
      startedAt: '',
      services: [{ name: 'x', kind: 'service', state: 'running', restarts: 0, pid: 1 }],
    };
    writeFileSync(stateFile(other), JSON.stringify(stale));
    expect(supervisorState(staleConfig)).toBeUndefined();
    expect(() => readFileSync(stateFile(other))).toThrow();
    expect(readFileSync(file, 'utf8')).toBe(live);
  });

  it('stops every process it started, and so does a supervisor killed with -9', async () => {
    const pids = () => {
      const state = supervisorState(config)!;
      return [state.pid, ...state.services.map((entry) => entry.pid!)];
    };
    const { pid: child } = (await json('/echo/v1/spawn-child')).body as { pid: number };
    const first = pids();
    expect(await stopServices(config)).toBe(true);
    for (const pid of [...first, child]) expect(isAlive(pid), `pid ${pid}`).toBe(false);

    await startServices(config, { env, plan: supervisorPlan(config, fixtures) });
    const { pid: child2 } = (await json('/echo/v1/spawn-child')).body as { pid: number };
    const second = pids();
    process.kill(second[0]!, 'SIGKILL');
    await until(
      'every child of the killed supervisor gone',
      () => ([...second, child2].some(isAlive) ? undefined : true),
      15_000,
    );
    expect(supervisorState(config)).toBeUndefined();
    await startServices(config, { env, plan: supervisorPlan(config, fixtures) });
  });
});
