/**
 * What a service of the local stack is, and the HTTP server that runs services in-process.
 *
 * A service is a `ServiceFactory` named in services.ts: given the configuration it boots and returns
 * a `GatewayService` that owns one path prefix. The supervisor runs each in a process of its own
 * (../supervisor/host.ts), where `createServiceServer` serves it on an internal loopback port, and
 * the gateway (proxy.ts) forwards that prefix to it. Tests that need a service with settings of
 * their own serve it the same way, in the test's process.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { StackConfig } from '../config.ts';

export interface GatewayService {
  /** Short name shown by `stack:status` and /health. */
  name: string;
  /** The path prefix the service owns, e.g. `/functions/v1/`. */
  prefix: string;
  handleRequest?(request: IncomingMessage, response: ServerResponse): void | Promise<void>;
  handleUpgrade?(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Lines for `stack:status`, e.g. `{ 'Functions URL': 'http://…/functions/v1' }`. */
  describe?(): Record<string, string>;
  close(): Promise<void>;
}

export type ServiceFactory = (config: StackConfig) => Promise<GatewayService>;

/** A services list (services.ts): each service's name and how to load its factory. */
export type ServiceList = Record<string, () => Promise<ServiceFactory>>;

export const corsHeaders = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'authorization, x-client-info, apikey, content-type, x-region, prefer, range',
  'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
} as const;

/**
 * The answer to a CORS preflight, as the CLI's gateway (Kong's `cors` plugin, unconfigured) gives
 * it: any origin, and whichever request headers the browser asks to send (auth-js sends
 * `x-supabase-api-version`, postgrest-js `prefer`, apps their own).
 */
export function preflightHeaders(request: IncomingMessage): Record<string, string> {
  const asked = request.headers['access-control-request-headers'];
  return {
    ...corsHeaders,
    ...(typeof asked === 'string' && asked !== '' ? { 'access-control-allow-headers': asked } : {}),
    'access-control-max-age': '86400',
  };
}

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (response.headersSent) return;
  response.writeHead(status, { ...corsHeaders, 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

/** The path of a request target, without its query. */
export const pathOf = (url: string | undefined) => (url ?? '/').split('?')[0] ?? '/';

/** Whether `path` is under `prefix` (`/functions/v1/` owns `/functions/v1` and everything below). */
export const owns = (prefix: string, path: string) => path === prefix.replace(/\/$/, '') || path.startsWith(prefix);

/**
 * Serves services in this process. A handler that throws or rejects is a bug of that service: the
 * request is answered 500 (or its connection closed, when the answer had begun) and logged; the
 * server and the other requests carry on.
 */
export function createServiceServer(services: GatewayService[], log: (line: string) => void = console.error): Server {
  const serviceFor = (url: string | undefined) => services.find((service) => owns(service.prefix, pathOf(url)));
  const failed = (service: GatewayService, request: IncomingMessage, error: unknown) =>
    log(
      `[${service.name}] failed on ${request.method} ${pathOf(request.url)}: ${(error as Error)?.stack ?? String(error)}`,
    );

  const server = createServer((request, response) => {
    const service = serviceFor(request.url);
    if (!service?.handleRequest) {
      request.resume();
      sendJson(response, 404, { error: 'not_found', message: `no route for ${request.method} ${pathOf(request.url)}` });
      return;
    }
    const answer500 = (error: unknown) => {
      failed(service, request, error);
      if (response.headersSent) response.destroy();
      else
        sendJson(response, 500, { error: 'internal_error', message: `${service.name} failed to handle the request` });
    };
    try {
      Promise.resolve(service.handleRequest(request, response)).catch(answer500);
    } catch (error) {
      answer500(error);
    }
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const service = serviceFor(request.url);
    if (!service?.handleUpgrade) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    try {
      service.handleUpgrade(request, socket, head);
    } catch (error) {
      failed(service, request, error);
      socket.destroy();
    }
  });
  return server;
}
