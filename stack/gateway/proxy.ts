/**
 * The local API gateway: one HTTP server on the API port (54321) that forwards each path prefix to
 * the process of the service that owns it, as Kong does in the Docker stack:
 *
 *   /functions/v1/…   edge functions        /realtime/v1/…   the Realtime-compatible server
 *   /auth/v1/…, /rest/v1/… and any other service in services.ts, by the prefix it declares
 *   /health           every service and its state: 200 when all run, 503 otherwise
 *
 * Requests and answers are streamed both ways without buffering; a WebSocket upgrade is forwarded
 * and then piped byte for byte. Requests get `X-Forwarded-For` / `-Host` / `-Proto`, as behind Kong. Keys are translated as credentials.ts says. Every answer carries
 * open CORS headers (those of the service win) and every preflight is answered here, as on the
 * platform. A path no service claims gets a JSON 404. A service that is down, restarting or failed
 * (or that goes away before answering) is answered at once `503 {"error":"service_unavailable"}`
 * with `Retry-After: 1`: never a hang.
 *
 * The gateway holds no state of its own beyond the route table the supervisor sends it, and every
 * handler is guarded: nothing a client sends can end the process.
 */
import {
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
  Agent,
  createServer,
  request as httpRequest,
} from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { IdentityError } from '../identity/identify.ts';
import type { KeySet } from '../identity/keys.ts';
import type { ServiceStatus } from '../supervisor/protocol.ts';
import { corsHeaders, owns, pathOf, preflightHeaders, sendJson } from './server.ts';
import { forwardedAuthorization } from './credentials.ts';

export interface GatewayOptions {
  keys: KeySet;
  /** The supervisor's current view of every service (the gateway itself included). */
  services(): ServiceStatus[];
  log(line: string): void;
}

/** Headers that belong to one connection, not to the message (RFC 9110 §7.6.1). */
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
]);

const retryAfterSeconds = 1;

function unavailableBody(name: string, state: string) {
  return {
    error: 'service_unavailable',
    message: `${name} is ${state === 'running' ? 'not answering' : state}; retry shortly`,
    service: name,
  };
}

const forwardedFor = new Set(['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']);

/**
 * Raw header pairs of a request as forwarded: without hop-by-hop ones, `authorization` replaced, and
 * the `X-Forwarded-*` headers a proxy adds (the client's address appended, as Kong does).
 */
function forwardHeaders(request: IncomingMessage, authorization: string | undefined, keepUpgrade = false): string[] {
  const raw = request.rawHeaders;
  const out: string[] = [];
  const prior: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i]!.toLowerCase();
    if (key === 'authorization') continue;
    if (key === 'x-forwarded-for') prior.push(raw[i + 1]!);
    if (forwardedFor.has(key)) continue;
    if (hopByHop.has(key) && !(keepUpgrade && (key === 'connection' || key === 'upgrade'))) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  if (authorization !== undefined) out.push('Authorization', authorization);
  out.push('X-Forwarded-For', [...prior, request.socket.remoteAddress ?? '127.0.0.1'].join(', '));
  out.push('X-Forwarded-Proto', 'http');
  if (request.headers.host !== undefined) out.push('X-Forwarded-Host', request.headers.host);
  return out;
}

/** Raw header pairs of an answer without the connection's own (the service's CORS headers stay). */
function answerHeaders(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (!hopByHop.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  return out;
}

function httpError(
  socket: Duplex,
  status: number,
  reason: string,
  body: unknown,
  extra: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  const headers = {
    ...corsHeaders,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    connection: 'close',
    ...extra,
  };
  const head = Object.entries(headers)
    .map(([key, value]) => `${key}: ${value}`)
    .join('\r\n');
  socket.end(`HTTP/1.1 ${status} ${reason}\r\n${head}\r\n\r\n${text}`);
}

export function createGateway(options: GatewayOptions): Server {
  const { keys, log } = options;
  // Idle connections to a service are dropped after 30 s, before the service's own 65 s (host.ts).
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity, timeout: 30_000 });
  const services = () => options.services().filter((service) => service.kind === 'service');
  // A prefix is known once the service has answered once; it is kept across its restarts.
  const routeFor = (url: string | undefined) =>
    services().find((service) => service.prefix !== undefined && owns(service.prefix, pathOf(url)));
  const target = (service: ServiceStatus) =>
    service.state === 'running' && service.port !== undefined ? service.port : undefined;

  /** The Authorization to forward, or undefined after answering 401 through `refuse`. */
  function credentials(
    request: IncomingMessage,
    refuse: (error: IdentityError) => void,
  ): { authorization: string | undefined } | undefined {
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    };
    try {
      const query = new URL(request.url ?? '/', 'http://gateway').searchParams.get('apikey');
      return {
        authorization: forwardedAuthorization(keys, {
          apikey: header('apikey'),
          authorization: header('authorization'),
          queryApikey: query,
        }),
      };
    } catch (error) {
      if (!(error instanceof IdentityError)) throw error;
      refuse(error);
      return undefined;
    }
  }

  function health(response: ServerResponse): void {
    const list = services().map(({ name, prefix, state, pid, restarts, lastExit }) => ({
      name,
      prefix,
      state,
      pid,
      restarts,
      lastExit,
    }));
    const ok = list.length > 0 && list.every((service) => service.state === 'running');
    sendJson(
      response,
      ok ? 200 : 503,
      { status: ok ? 'ok' : 'unavailable', services: list },
      ok ? {} : { 'retry-after': String(retryAfterSeconds) },
    );
  }

  function forward(request: IncomingMessage, response: ServerResponse): void {
    if (request.method === 'OPTIONS') {
      response.writeHead(204, preflightHeaders(request));
      response.end();
      return;
    }
    if (pathOf(request.url) === '/health') return health(response);
    const service = routeFor(request.url);
    if (!service) {
      request.resume();
      return sendJson(response, 404, {
        error: 'not_found',
        message: `no route for ${request.method} ${pathOf(request.url)}`,
      });
    }
    const unavailable = () => {
      request.resume();
      sendJson(response, 503, unavailableBody(service.name, service.state), {
        'retry-after': String(retryAfterSeconds),
      });
    };
    const port = target(service);
    if (port === undefined) return unavailable();
    const given = credentials(request, (error) => (request.resume(), sendJson(response, error.status, error.body())));
    if (!given) return;
    const upstream = httpRequest({
      host: '127.0.0.1',
      port,
      agent,
      method: request.method,
      path: request.url,
      headers: forwardHeaders(request, given.authorization) as unknown as OutgoingHttpHeaders,
      setHost: false,
    });
    // Headers go out now, not with the first body chunk: the service may answer before the body ends.
    upstream.flushHeaders();
    upstream.on('response', (answer) => {
      const headers = answerHeaders(answer.rawHeaders);
      const present = new Set(headers.filter((_, i) => i % 2 === 0).map((key) => key.toLowerCase()));
      for (const [key, value] of Object.entries(corsHeaders)) if (!present.has(key)) headers.push(key, value);
      response.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
      response.flushHeaders();
      answer.pipe(response);
      // The service went away in the middle of its answer: the client must see it cut, not complete.
      answer.on('close', () => {
        if (!answer.complete) response.destroy();
      });
    });
    upstream.on('error', (error) => {
      if (!response.headersSent) {
        log(`[gateway] ${service.name} did not answer ${request.method} ${pathOf(request.url)}: ${error.message}`);
        return unavailable();
      }
      response.destroy();
    });
    response.on('close', () => {
      if (!response.writableFinished) upstream.destroy();
    });
    request.on('error', () => upstream.destroy());
    request.pipe(upstream);
  }

  function upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const service = routeFor(request.url);
    if (!service)
      return httpError(socket, 404, 'Not Found', {
        error: 'not_found',
        message: `no route for ${pathOf(request.url)}`,
      });
    const unavailable = () =>
      httpError(socket, 503, 'Service Unavailable', unavailableBody(service.name, service.state), {
        'retry-after': String(retryAfterSeconds),
      });
    const port = target(service);
    if (port === undefined) return unavailable();
    const given = credentials(request, (error) => httpError(socket, error.status, 'Unauthorized', error.body()));
    if (!given) return;
    const upstream = connect({ host: '127.0.0.1', port });
    let connected = false;
    upstream.on('connect', () => {
      connected = true;
      const headers = forwardHeaders(request, given.authorization, true);
      const lines = [`${request.method} ${request.url} HTTP/1.1`];
      for (let i = 0; i + 1 < headers.length; i += 2) lines.push(`${headers[i]}: ${headers[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', (error) => {
      if (connected) return socket.destroy();
      log(`[gateway] ${service.name} did not accept an upgrade: ${error.message}`);
      unavailable();
    });
    upstream.on('close', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
  }

  const server = createServer((request, response) => {
    try {
      forward(request, response);
    } catch (error) {
      log(`[gateway] ${request.method} ${pathOf(request.url)} failed: ${(error as Error)?.stack ?? String(error)}`);
      if (response.headersSent) response.destroy();
      else sendJson(response, 500, { error: 'internal_error', message: 'the gateway failed to forward the request' });
    }
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    try {
      upgrade(request, socket, head);
    } catch (error) {
      log(`[gateway] upgrade of ${pathOf(request.url)} failed: ${(error as Error)?.stack ?? String(error)}`);
      socket.destroy();
    }
  });
  return server;
}
