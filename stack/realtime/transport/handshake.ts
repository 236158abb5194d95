/**
 * The WebSocket handshake as guard clauses: each check that fails ends the
 * upgrade at once with a fixed status and a JSON body `{"error": "..."}`, in this order:
 *
 *   1. method is GET                         405
 *   2. path is /realtime/v1/websocket        404
 *   3. `vsn` is absent, 1.0.0 or 2.0.0       400
 *   4. an API key is present                 401  (header `apikey`/`x-api-key`, else the query param)
 *   5. the key verifies (JWT or `sb_` key)   401
 *
 * Before any of these the service refuses a socket past `max_concurrent_users` with 429
 * `{"error":"Too many connected users"}` (service.ts), as supabase/realtime `user_socket.ex` does.
 *
 * Only then does ws complete the upgrade. Codes are listed in ERROR_CODES.md.
 */
import type { KeySet } from '../../identity/keys.ts';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Claims } from '../../identity/jwt.ts';
import { RealtimeError, handshakeStatus, reasonFor } from '../errors.ts';
import { claimsFor } from '../joins/tokens.ts';
import { type Serializer, serializerFor } from './wire.ts';

export const SOCKET_PATH = '/realtime/v1/websocket';

export interface Handshake {
  serializer: Serializer;
  apikey: string;
  claims: Claims;
}

export class HandshakeError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HandshakeError';
  }
}

const statusText: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  429: 'Too Many Requests',
  405: 'Method Not Allowed',
  500: 'Internal Server Error',
};

/** Ends a failed upgrade with an HTTP answer, as ws's abortHandshake does. */
export function abortHandshake(socket: Duplex, error: HandshakeError): void {
  const body = JSON.stringify({ error: error.message });
  socket.end(
    `HTTP/1.1 ${error.status} ${statusText[error.status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export async function checkHandshake(request: IncomingMessage, keys: KeySet): Promise<Handshake> {
  if (request.method !== 'GET') throw new HandshakeError(405, 'the realtime socket is opened with GET');
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (url.pathname !== SOCKET_PATH) throw new HandshakeError(404, `no realtime socket at ${url.pathname}`);
  const serializer = serializerFor(url.searchParams.get('vsn'));
  if (!serializer) throw new HandshakeError(400, `unsupported vsn ${url.searchParams.get('vsn')}; use 1.0.0 or 2.0.0`);
  const apikey = header(request, 'x-api-key') ?? header(request, 'apikey') ?? url.searchParams.get('apikey');
  if (!apikey) throw new HandshakeError(401, 'No apikey provided');
  try {
    return { serializer, apikey, claims: await claimsFor(apikey, keys) };
  } catch (error) {
    if (error instanceof RealtimeError) throw new HandshakeError(handshakeStatus(error), reasonFor(error));
    throw error;
  }
}
