/**
 * The HTTP broadcast endpoints realtime-js uses (supabase/realtime `broadcast_controller.ex`, `broadcast_single_controller.ex`):
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
import { z } from 'zod';
import { sendJson } from '../../gateway/server.ts';
import { RealtimeError } from '../errors.ts';
import { BodyTooLarge, readBody } from '../../lib/request-body.ts';
import { type Hub, hubTopic } from '../broadcast/hub.ts';
import { claimsFor } from '../joins/tokens.ts';
import type { Claims } from '../../identity/jwt.ts';
import { MAX_JSON_DEPTH, maxPayloadBytes, nestsDeeperThan, RateWindow, type RealtimeLimits } from '../limits.ts';

/** Room for the batch envelope around payloads of the largest size. */
const ENVELOPE_BYTES = 64 * 1024;
/** The platform's batch is a changeset; a bound keeps one request from fanning out without end. */
const MAX_BATCH_MESSAGES = 1000;

const utf8Bytes = (text: string) => Buffer.byteLength(text, 'utf8');
/** Topic and event travel in kind-4 header fields of at most 255 bytes (wire.ts). */
const shortText = (what: string) =>
  z
    .string()
    .min(1, `${what} must not be empty`)
    .refine((text) => utf8Bytes(text) <= 255, `${what} must be at most 255 bytes`);
/** An id goes out as the message's meta `{"id": …}`, also a 255-byte header field. */
const messageId = z
  .union([z.string(), z.number()])
  .refine((id) => utf8Bytes(JSON.stringify({ id })) <= 255, 'id must be at most 240 bytes');

const batchSchema = z.object({
  messages: z
    .array(
      z.object({
        topic: shortText('topic'),
        event: shortText('event'),
        payload: z.unknown().refine((payload) => payload !== undefined, 'payload is required'),
        private: z.boolean().optional(),
        id: messageId.optional(),
      }),
    )
    .max(MAX_BATCH_MESSAGES, `at most ${MAX_BATCH_MESSAGES} messages per request`),
});

class HttpInputError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The body, or a 413 once it passes `maxBytes`. */
const readLimited = (request: IncomingMessage, maxBytes: number): Promise<Buffer> =>
  readBody(request, maxBytes).catch((error: unknown) => {
    throw error instanceof BodyTooLarge ? new HttpInputError(413, 'Payload too large') : error;
  });

function parseJson(body: Buffer): unknown {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpInputError(400, 'body is not valid JSON');
  }
  if (nestsDeeperThan(value)) throw new HttpInputError(422, `body nests deeper than ${MAX_JSON_DEPTH} levels`);
  return value;
}

function pathPart(text: string, what: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(text);
  } catch {
    throw new HttpInputError(400, `${what} is not a valid percent-encoded path segment`);
  }
  const checked = shortText(what).safeParse(decoded);
  if (!checked.success) throw new HttpInputError(422, checked.error.issues[0]!.message);
  return decoded;
}

function tokenOf(request: IncomingMessage): string | undefined {
  const authorization = request.headers.authorization;
  if (authorization?.startsWith('Bearer ')) return authorization.slice(7);
  const apikey = request.headers.apikey;
  return Array.isArray(apikey) ? apikey[0] : apikey;
}

/** May these claims send broadcasts to a private topic? (authorization.ts: the insert policy.) */
export type MaySend = (topic: string, claims: Claims) => Promise<boolean>;

interface OutgoingMessage {
  topic: string;
  event: string;
  payload: unknown;
  raw?: Uint8Array;
  isPrivate: boolean;
  id?: string | number;
}

function readMessages(
  url: URL,
  single: RegExpExecArray | null,
  request: IncomingMessage,
  body: Buffer,
  limits: RealtimeLimits,
): OutgoingMessage[] {
  const tooLarge = (size: number) => size > maxPayloadBytes(limits);
  if (single) {
    const topic = pathPart(single[1]!, 'topic');
    const event = pathPart(single[2]!, 'event');
    const isPrivate = url.searchParams.get('private') === 'true';
    if (tooLarge(body.length)) throw new HttpInputError(413, 'Payload size exceeds tenant limit');
    if (request.headers['content-type']?.startsWith('application/octet-stream'))
      return [{ topic, event, payload: {}, raw: new Uint8Array(body), isPrivate }];
    return [{ topic, event, payload: body.length > 0 ? parseJson(body) : {}, isPrivate }];
  }
  const parsed = batchSchema.safeParse(parseJson(body));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new HttpInputError(422, `${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  return parsed.data.messages.map((message) => {
    if (tooLarge(utf8Bytes(JSON.stringify(message.payload) ?? '')))
      throw new HttpInputError(413, 'Payload size exceeds tenant limit');
    const out: OutgoingMessage = {
      topic: message.topic,
      event: message.event,
      payload: message.payload,
      isPrivate: message.private === true,
    };
    if (message.id !== undefined) out.id = message.id;
    return out;
  });
}

export async function handleBroadcastRequest(
  request: IncomingMessage,
  response: ServerResponse,
  hub: Hub,
  keys: KeySet,
  limits: RealtimeLimits,
  maySend: MaySend = async () => false,
  rate: RateWindow = new RateWindow(limits.maxEventsPerSecond),
): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const single = /^\/realtime\/v1\/api\/broadcast\/([^/]+)\/events\/([^/]+)$/.exec(url.pathname);
  if (url.pathname !== '/realtime/v1/api/broadcast' && !single) {
    return sendJson(response, 404, { message: `no route for ${request.method} ${url.pathname}` });
  }
  if (request.method !== 'POST')
    return sendJson(
      response,
      405,
      { message: `${request.method} is not allowed here; use POST` },
      { allow: 'POST, OPTIONS' },
    );
  let claims: Claims;
  try {
    claims = await claimsFor(tokenOf(request), keys);
  } catch (error) {
    if (error instanceof RealtimeError) return sendJson(response, 401, { message: 'Unauthorized' });
    throw error;
  }
  // A full window refuses before the body is read: a flood of large requests costs no parsing.
  if (!rate.hasRoom()) return sendJson(response, 429, { message: 'Too many requests' });
  let messages: OutgoingMessage[];
  try {
    const body = await readLimited(request, maxPayloadBytes(limits) + ENVELOPE_BYTES);
    messages = readMessages(url, single, request, body, limits);
  } catch (error) {
    if (error instanceof HttpInputError) return sendJson(response, error.status, { message: error.message });
    throw error;
  }
  // Messages over HTTP count against one server-wide window of max_events_per_second, as the
  // platform counts them against the project's; the whole request is refused, nothing is sent.
  if (!rate.take(messages.length)) return sendJson(response, 429, { message: 'Too many requests' });
  // As the platform's BatchBroadcast: a private topic's messages are sent only when the token may
  // write broadcasts there (the service role always may); the others are skipped, still 202.
  const allowed = new Map<string, boolean>();
  for (const topic of new Set(messages.filter((message) => message.isPrivate).map((message) => message.topic))) {
    allowed.set(topic, claims.role === 'service_role' || (await maySend(topic, claims).catch(() => false)));
  }
  for (const message of messages) {
    if (message.isPrivate && !allowed.get(message.topic)) continue;
    const broadcast = {
      topic: `realtime:${message.topic}`,
      event: message.event,
      payload: message.payload,
      ...(message.raw ? { raw: message.raw } : {}),
    };
    hub.broadcast(
      hubTopic(message.topic, message.isPrivate),
      message.id === undefined ? broadcast : { ...broadcast, meta: { id: message.id } },
    );
  }
  response.writeHead(202, { 'access-control-allow-origin': '*' });
  response.end();
}
