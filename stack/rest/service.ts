/**
 * The Data API at /rest/v1: the real PostgREST (binary.ts) run as a child of this service's process,
 * configured as the CLI configures it (postgrest-config.ts). Requests are streamed to it without the
 * prefix, as Kong strips `/rest/v1` on the platform; the gateway has already turned the stack's sb_
 * keys into their JWTs (gateway/credentials.ts). PostgREST verifies every JWT itself, switches to the
 * token's role and applies that role's settings (statement_timeout: anon 3 s, authenticated 8 s).
 *
 * If PostgREST exits, this process exits with it, so the supervisor restarts both and `stack:status`
 * shows the restart; while it is away the gateway answers 503 with Retry-After.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { StackConfig } from '../config.ts';
import { sleep } from '../lib/sleep.ts';
import { corsHeaders, type GatewayService, type ServiceFactory, sendJson } from '../gateway/server.ts';
import { verifiedPostgrest } from './binary.ts';
import { postgrestEnv, socketPathOf } from './postgrest-config.ts';

export const restPrefix = '/rest/v1/';

/** Headers that belong to one connection (RFC 9110 §7.6.1), and `host`, which names ours. */
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

/** Resolves once PostgREST answers on its socket with its schema cache loaded. */
async function untilReady(socketPath: string, exited: () => string | undefined, deadlineMs = 30_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const status = await new Promise<number>((resolve) => {
      const probe = httpRequest({ socketPath, path: '/', method: 'HEAD' }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      probe.once('error', () => resolve(0));
      probe.end();
    });
    if (status === 200) return;
    const exit = exited();
    if (exit) throw new Error(`PostgREST exited before answering (${exit})`);
    if (Date.now() > deadline)
      throw new Error(`PostgREST did not answer on ${socketPath} within ${deadlineMs} ms (last status ${status})`);
    await sleep(50);
  }
}

export const restService: ServiceFactory = async (config: StackConfig): Promise<GatewayService> => {
  const log = (line: string) => console.log(line);
  const binary = await verifiedPostgrest(config.projectRoot);
  const socketPath = socketPathOf(config);
  rmSync(socketPath, { force: true });
  const child = spawn(binary, [], {
    env: { PATH: process.env.PATH ?? '', ...postgrestEnv(config) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let exit: string | undefined;
  let closing = false;
  child.once('exit', (code, signal) => {
    exit = signal ? `signal ${signal}` : `code ${code}`;
    if (closing) return;
    log(`[rest] PostgREST exited (${exit}); the service exits so that the supervisor restarts it`);
    process.exit(1);
  });
  child.once('error', (error) => {
    exit = error.message;
  });
  await untilReady(socketPath, () => exit);
  log(`[rest] PostgREST answering on ${socketPath}`);

  return {
    name: 'rest',
    prefix: restPrefix,
    describe: () => ({ 'REST URL': `${config.api.url}/rest/v1` }),

    handleRequest(request, response) {
      const headers: Record<string, string | string[]> = {};
      for (const [key, value] of Object.entries(request.headers)) {
        if (value !== undefined && !hopByHop.has(key)) headers[key] = value;
      }
      const path = (request.url ?? '/').slice(restPrefix.length - 1) || '/';
      const upstream = httpRequest({ socketPath, path, method: request.method, headers }, (answer) => {
        const out: Record<string, string | string[]> = { ...corsHeaders };
        for (const [key, value] of Object.entries(answer.headers)) {
          if (value !== undefined && !hopByHop.has(key)) out[key] = value;
        }
        response.writeHead(answer.statusCode ?? 502, out);
        answer.pipe(response);
        answer.once('aborted', () => response.destroy());
      });
      upstream.once('error', (error) => {
        log(`[rest] PostgREST did not answer ${request.method} ${path}: ${error.message}`);
        if (response.headersSent) response.destroy();
        else
          sendJson(
            response,
            503,
            { code: 'PGRST_UNAVAILABLE', message: 'the Data API is restarting; retry' },
            { 'retry-after': '1' },
          );
      });
      response.once('close', () => {
        if (!response.writableFinished) upstream.destroy();
      });
      request.pipe(upstream);
    },

    async close() {
      closing = true;
      if (exit === undefined) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
      rmSync(socketPath, { force: true });
    },
  };
};
