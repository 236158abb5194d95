/**
 * The local API gateway: one HTTP server on the CLI's API port (54321) that routes by path prefix to
 * the services mounted on it, as Kong does in the Docker stack:
 *
 *   /functions/v1/<name>      edge functions (issue 3)
 *   /realtime/v1/websocket    the Realtime-compatible server (issue 4)
 *   /health                   the gateway itself
 *
 * Every answer carries open CORS headers and every preflight is answered, as on the platform.
 * A path no service claims gets a JSON 404.
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

export const corsHeaders = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'authorization, x-client-info, apikey, content-type, x-region, prefer, range',
  'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
} as const;

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (response.headersSent) return;
  response.writeHead(status, { ...corsHeaders, 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

function serviceFor(services: GatewayService[], url: string | undefined): GatewayService | undefined {
  const path = (url ?? '/').split('?')[0] ?? '/';
  return services.find((service) => path === service.prefix.replace(/\/$/, '') || path.startsWith(service.prefix));
}

export function createGateway(services: GatewayService[]): Server {
  const server = createServer((request, response) => {
    if (request.method === 'OPTIONS') {
      response.writeHead(204, { ...corsHeaders, 'access-control-max-age': '86400' });
      response.end();
      return;
    }
    if (request.url === '/health') {
      sendJson(response, 200, { status: 'ok', services: services.map((service) => service.name) });
      return;
    }
    const service = serviceFor(services, request.url);
    if (!service?.handleRequest) {
      sendJson(response, 404, { error: 'not_found', message: `no route for ${request.method} ${request.url}` });
      return;
    }
    Promise.resolve(service.handleRequest(request, response)).catch((error: unknown) => {
      console.error(`[gateway] ${service.name} failed on ${request.method} ${request.url}:`, error);
      sendJson(response, 500, { error: 'internal_error', message: `${service.name} failed to handle the request` });
    });
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const service = serviceFor(services, request.url);
    if (!service?.handleUpgrade) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    service.handleUpgrade(request, socket, head);
  });
  return server;
}
