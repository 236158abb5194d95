/**
 * The edge functions host mounted on the local gateway at /functions/v1/, as Kong + the edge runtime
 * serve them in the Docker stack:
 *
 *   /functions/v1/<name>[/<path>]  →  supabase/functions/<name>/index.ts on Deno (deno-worker.ts)
 *
 * Before proxying it does what the platform's gateway does:
 *   - an unknown or disabled function gets 404 {code: NOT_FOUND};
 *   - with `verify_jwt` on (the default), a request without `Authorization: Bearer <jwt>` gets 401
 *     {code: UNAUTHORIZED_NO_AUTH_HEADER}, and one whose token is malformed, forged or expired gets
 *     401 {code: UNAUTHORIZED_INVALID_JWT_FORMAT}; HS* tokens are checked with the project's JWT
 *     secret, ES256 ones with the CLI's signing key;
 *   - a body larger than the platform's request limit gets 413 {code: PAYLOAD_TOO_LARGE}.
 * Everything else (methods, shapes, the function's own limits) is for the function to answer.
 *
 * Each function gets the environment the platform gives functions: SUPABASE_URL,
 * SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY, SUPABASE_DB_URL and SUPABASE_JWKS.
 *
 * Every function is started and checked before the gateway listens, so /health (which
 * `stack:start` waits for) answers only once every function answers; a function that cannot start
 * makes the gateway exit with that function's own error, and `stack:start` prints it. A function
 * process that dies while a request is in flight is answered 503 {code: FUNCTION_UNAVAILABLE} with
 * Retry-After (the function runs again on the next request).
 *
 * Every method is passed on to the function, as the edge runtime's main service does (supabase/cli
 * internal/functions/serve/templates/main.ts hands each request to the worker): a method the
 * function does not serve (TRACE included) is the function's own 405 with Allow. So requests are
 * forwarded with node:http, which sends any method, rather than fetch, which refuses TRACE.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { bearerOf, tokenForKey } from '../identity/identify.ts';
import { JwtError, verifyJwt, verifyKeysOf } from '../identity/jwt.ts';
import type { StackConfig } from '../config.ts';
import { corsHeaders, sendJson, type GatewayService, type ServiceFactory } from '../gateway/server.ts';
import { DenoWorker } from './deno-worker.ts';
import { readFunctionSpecs } from './function-config.ts';
import { BodyTooLarge, readBody } from '../lib/request-body.ts';
import { type KeySet, serviceJwks } from '../identity/keys.ts';

export const functionsPrefix = '/functions/v1/';
/** The edge runtime's request body limit. */
export const maxRequestBytes = 20 * 1024 * 1024;

/** What functions are given, as the CLI gives them (supabase/cli `internal/functions/serve/serve.go`). */
export function functionEnv(config: StackConfig): Record<string, string> {
  return {
    SUPABASE_URL: config.api.url,
    SUPABASE_ANON_KEY: config.keys.anonKey,
    SUPABASE_SERVICE_ROLE_KEY: config.keys.serviceRoleKey,
    SUPABASE_DB_URL: config.db.url,
    SUPABASE_JWKS: JSON.stringify(serviceJwks(config.keys)),
    SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: config.keys.publishableKey }),
    SUPABASE_SECRET_KEYS: JSON.stringify({ default: config.keys.secretKey }),
  };
}

async function checkJwt(request: IncomingMessage, response: ServerResponse, keys: KeySet): Promise<boolean> {
  const header = request.headers.authorization;
  if (!header) {
    sendJson(response, 401, { code: 'UNAUTHORIZED_NO_AUTH_HEADER', message: 'Missing authorization header' });
    return false;
  }
  try {
    // The stack's own sb_ keys stand for their legacy JWTs, as behind the platform's gateway.
    const bearer = bearerOf(header);
    await verifyJwt(bearer === undefined ? undefined : tokenForKey(keys, bearer).token, verifyKeysOf(keys));
    return true;
  } catch (error) {
    const message = error instanceof JwtError && error.reason === 'expired' ? 'JWT has expired' : 'Invalid JWT';
    sendJson(response, 401, { code: 'UNAUTHORIZED_INVALID_JWT_FORMAT', message });
    return false;
  }
}

interface Forwarded {
  status: number;
  headers: IncomingHttpHeaders;
  payload: Buffer;
}

/** Sends one request to a function's process and reads its whole answer. */
function forward(url: string, method: string, headers: Record<string, string>, body: Buffer): Promise<Forwarded> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      url,
      { method, headers: body.length > 0 ? { ...headers, 'content-length': String(body.length) } : headers },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.once('end', () =>
          resolve({ status: incoming.statusCode ?? 502, headers: incoming.headers, payload: Buffer.concat(chunks) }),
        );
        incoming.once('error', reject);
        incoming.once('aborted', () => reject(new Error('the function closed the connection mid-answer')));
      },
    );
    outgoing.once('error', reject);
    outgoing.end(body.length > 0 ? body : undefined);
  });
}

const hopByHop = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'host',
  'upgrade',
  'content-encoding',
]);

export const functionsService: ServiceFactory = async (config: StackConfig): Promise<GatewayService> => {
  const log = (line: string) => console.log(line);
  const env = functionEnv(config);
  const workers = new Map(
    readFunctionSpecs(config.projectRoot).map((spec) => [
      spec.name,
      new DenoWorker(spec, { projectRoot: config.projectRoot, env, log }),
    ]),
  );
  // Start and check every function now: the first request never waits for Deno, and a function
  // that cannot start stops the gateway with its own error instead of answering 503 later.
  const boots = await Promise.allSettled([...workers.values()].map((worker) => worker.url()));
  const failed = boots.flatMap((boot) => (boot.status === 'rejected' ? [boot.reason as Error] : []));
  if (failed.length > 0) {
    await Promise.allSettled([...workers.values()].map((worker) => worker.stop()));
    throw new Error(failed.map((error) => error.message).join('\n'));
  }
  log(`[functions] started and answering: ${[...workers.keys()].join(', ')}`);

  return {
    name: 'functions',
    prefix: functionsPrefix,
    describe: () => ({ 'Functions URL': `${config.api.url}/functions/v1`, Functions: [...workers.keys()].join(', ') }),

    async handleRequest(request, response) {
      const url = new URL(request.url ?? '/', 'http://gateway');
      const [name = '', ...rest] = url.pathname.slice(functionsPrefix.length).split('/');
      const worker = workers.get(name);
      if (!worker) {
        request.resume();
        sendJson(response, 404, { code: 'NOT_FOUND', message: 'Requested function was not found' });
        return;
      }
      if (worker.spec.verifyJwt && !(await checkJwt(request, response, config.keys))) {
        request.resume();
        return;
      }
      let body: Buffer;
      try {
        body = await readBody(request, maxRequestBytes);
      } catch (error) {
        if (!(error instanceof BodyTooLarge)) throw error;
        sendJson(response, 413, {
          code: 'PAYLOAD_TOO_LARGE',
          message: `the request body is larger than ${maxRequestBytes} bytes`,
        });
        return;
      }
      let base: string;
      try {
        base = await worker.url();
      } catch (error) {
        sendJson(response, 503, {
          code: 'BOOT_ERROR',
          message: `function ${name} failed to start: ${(error as Error).message}`,
        });
        return;
      }
      const headers: Record<string, string> = {};
      for (const [key, value] of Object.entries(request.headers)) {
        if (value === undefined || hopByHop.has(key)) continue;
        headers[key] = Array.isArray(value) ? value.join(', ') : value;
      }
      const method = request.method ?? 'GET';
      let upstream: Forwarded;
      try {
        const forwardedBody = ['GET', 'HEAD', 'TRACE'].includes(method) ? Buffer.alloc(0) : body;
        upstream = await forward(`${base}/${[name, ...rest].join('/')}${url.search}`, method, headers, forwardedBody);
      } catch (error) {
        // The function's process went away mid-request (killed, crashed). Whether the request was
        // applied is unknown; a retry with the same change ids is safe (receipts).
        log(`[functions] ${name} did not answer: ${(error as Error).message}`);
        sendJson(
          response,
          503,
          { code: 'FUNCTION_UNAVAILABLE', message: `function ${name} stopped while answering; retry` },
          { 'retry-after': '1' },
        );
        return;
      }
      const out: Record<string, string | string[]> = { ...corsHeaders };
      for (const [key, value] of Object.entries(upstream.headers)) {
        if (value !== undefined && !hopByHop.has(key)) out[key] = value;
      }
      response.writeHead(upstream.status, out);
      response.end(method === 'HEAD' ? undefined : upstream.payload);
    },

    async close() {
      await Promise.allSettled([...workers.values()].map((worker) => worker.stop()));
    },
  };
};
