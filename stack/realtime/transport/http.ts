/**
 * The HTTP broadcast endpoints realtime-js uses (realtime-protocol.md §10):
 *
 *   POST /realtime/v1/api/broadcast                          {"messages":[{topic, event, payload, private?}]} → 202
 *   POST /realtime/v1/api/broadcast/<topic>/events/<event>   body = payload (JSON or bytes)                   → 202
 *
 * Authorized by `Authorization: Bearer <jwt>`, else the `apikey` header; a bad token gets
 * 401 {"message":"Unauthorized"}. A private topic's messages go out only when the token may write
 * broadcasts there by the realtime.messages policies (or is service_role); others are skipped.
 * Extra query parameters (the socket's apikey, vsn, …) are ignored.
 */
import type { KeySet } from '../../identity/keys.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '../../gateway/server.ts';
import { RealtimeError } from '../errors.ts';
import { type Hub, hubTopic } from '../broadcast/hub.ts';
import { claimsFor } from '../joins/tokens.ts';
import type { Claims } from '../../identity/jwt.ts';

const MAX_BODY_BYTES = 1024 * 1024;

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function tokenOf(request: IncomingMessage): string | undefined {
  const authorization = request.headers.authorization;
  if (authorization?.startsWith('Bearer ')) return authorization.slice(7);
  const apikey = request.headers.apikey;
  return Array.isArray(apikey) ? apikey[0] : apikey;
}

/** May these claims send broadcasts to a private topic? (authorization.ts: the insert policy.) */
export type MaySend = (topic: string, claims: Claims) => Promise<boolean>;

export async function handleBroadcastRequest(
  request: IncomingMessage,
  response: ServerResponse,
  hub: Hub,
  keys: KeySet,
  maySend: MaySend = async () => false,
): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const single = /^\/realtime\/v1\/api\/broadcast\/([^/]+)\/events\/([^/]+)$/.exec(url.pathname);
  if (request.method !== 'POST' || (url.pathname !== '/realtime/v1/api/broadcast' && !single)) {
    return sendJson(response, 404, { message: `no route for ${request.method} ${url.pathname}` });
  }
  let claims: Claims;
  try {
    claims = await claimsFor(tokenOf(request), keys);
  } catch (error) {
    if (error instanceof RealtimeError) return sendJson(response, 401, { message: 'Unauthorized' });
    throw error;
  }
  let body: Buffer;
  try {
    body = await readBody(request);
  } catch {
    return sendJson(response, 413, { message: 'Payload too large' });
  }
  const messages: { topic: string; event: string; payload: unknown; raw?: Uint8Array; isPrivate: boolean; id?: unknown }[] = [];
  if (single) {
    const isPrivate = url.searchParams.get('private') === 'true';
    const binary = request.headers['content-type']?.startsWith('application/octet-stream') ?? false;
    let payload: unknown = {};
    if (!binary && body.length > 0) {
      try {
        payload = JSON.parse(body.toString('utf8'));
      } catch {
        return sendJson(response, 400, { message: 'body is not valid JSON' });
      }
    }
    const message: (typeof messages)[number] = {
      topic: decodeURIComponent(single[1]!),
      event: decodeURIComponent(single[2]!),
      payload: binary ? {} : payload,
      isPrivate,
    };
    if (binary) message.raw = new Uint8Array(body);
    messages.push(message);
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return sendJson(response, 400, { message: 'body is not valid JSON' });
    }
    const list = (parsed as { messages?: unknown }).messages;
    if (!Array.isArray(list)) return sendJson(response, 400, { message: 'expected {"messages": [...]}' });
    for (const item of list as Record<string, unknown>[]) {
      if (typeof item?.topic !== 'string' || typeof item.event !== 'string') {
        return sendJson(response, 400, { message: 'every message needs a topic and an event' });
      }
      messages.push({ topic: item.topic, event: item.event, payload: item.payload ?? {}, isPrivate: item.private === true, id: item.id });
    }
  }
  // As the platform's BatchBroadcast: a private topic's messages are sent only when the token may
  // write broadcasts there (the service role always may); the others are skipped, still 202.
  const allowed = new Map<string, boolean>();
  for (const topic of new Set(messages.filter((message) => message.isPrivate).map((message) => message.topic))) {
    allowed.set(topic, claims.role === 'service_role' || (await maySend(topic, claims).catch(() => false)));
  }
  for (const message of messages) {
    if (message.isPrivate && !allowed.get(message.topic)) continue;
    const broadcast = { topic: `realtime:${message.topic}`, event: message.event, payload: message.payload, ...(message.raw ? { raw: message.raw } : {}) };
    hub.broadcast(hubTopic(message.topic, message.isPrivate), message.id === undefined ? broadcast : { ...broadcast, meta: { id: message.id } });
  }
  response.writeHead(202, { 'access-control-allow-origin': '*' });
  response.end();
}
