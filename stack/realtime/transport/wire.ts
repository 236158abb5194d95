/**
 * The two wire formats of the pinned realtime-js client (realtime-js 2.119.0 `lib/serializer.js`, Phoenix `lib/phoenix/socket/serializers`).
 *
 *   1.0.0  JSON objects `{topic, event, payload, ref, join_ref}` in text frames; the server never
 *          writes `join_ref` (Phoenix V1 serializer).
 *   2.0.0  JSON arrays `[join_ref, ref, topic, event, payload]` in text frames, plus two binary kinds
 *          for user broadcasts: kind 3 (client → server push) and kind 4 (server → client). Phoenix's
 *          own kinds 0–2 crash realtime-js, so they are never written.
 */

export interface Frame {
  joinRef: string | null;
  ref: string | null;
  topic: string;
  event: string;
  payload: Record<string, unknown>;
}

/** A user broadcast as it travels between sockets; `raw` keeps a binary user payload. */
export interface UserBroadcast {
  topic: string;
  event: string;
  payload: unknown;
  /** Present when the sender's payload was raw bytes (kind 3 with encoding 0). */
  raw?: Uint8Array;
  meta?: Record<string, unknown>;
}

export interface Serializer {
  readonly vsn: '1.0.0' | '2.0.0';
  decode(data: Buffer, isBinary: boolean): Frame;
  encode(frame: Frame): string;
  encodeBroadcast(message: UserBroadcast): string | Buffer;
}

export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

/** A ref is a string (realtime-js) or a number; anything else is a malformed frame, never coerced. */
function asRef(value: unknown, field: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new WireError(`${field} must be a string or null`);
}

function asPayload(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function parseJson(data: Buffer): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch {
    throw new WireError('frame is not valid JSON');
  }
}

function broadcastPayload(message: UserBroadcast): Record<string, unknown> {
  const payload: Record<string, unknown> = { type: 'broadcast', event: message.event, payload: message.payload };
  if (message.meta) payload.meta = message.meta;
  return payload;
}

export const v1: Serializer = {
  vsn: '1.0.0',
  decode(data, isBinary) {
    if (isBinary) throw new WireError('vsn 1.0.0 has no binary frames');
    const message = parseJson(data);
    if (typeof message !== 'object' || message === null || Array.isArray(message))
      throw new WireError('vsn 1.0.0 frames are JSON objects');
    const { topic, event, payload, ref, join_ref } = message as Record<string, unknown>;
    if (typeof topic !== 'string' || typeof event !== 'string') throw new WireError('frame needs a topic and an event');
    return { joinRef: asRef(join_ref, 'join_ref'), ref: asRef(ref, 'ref'), topic, event, payload: asPayload(payload) };
  },
  encode: (frame) => JSON.stringify({ topic: frame.topic, event: frame.event, payload: frame.payload, ref: frame.ref }),
  encodeBroadcast: (message) =>
    JSON.stringify({ topic: message.topic, event: 'broadcast', payload: broadcastPayload(message), ref: null }),
};

const KIND_USER_BROADCAST_PUSH = 3;
const KIND_USER_BROADCAST = 4;
const ENCODING_BINARY = 0;
const ENCODING_JSON = 1;

/** Decodes a kind-3 frame into the `broadcast` push the real server sees. */
export function decodeUserBroadcastPush(data: Buffer): Frame {
  if (data.length < 7 || data[0] !== KIND_USER_BROADCAST_PUSH)
    throw new WireError(`unsupported binary frame kind ${data[0]}`);
  const lengths = [data[1]!, data[2]!, data[3]!, data[4]!, data[5]!];
  const encoding = data[6];
  let offset = 7;
  const [joinRef, ref, topic, userEvent, metadata] = lengths.map((length) => {
    if (offset + length > data.length) throw new WireError('binary frame is shorter than its header says');
    const text = data.toString('utf8', offset, offset + length);
    offset += length;
    return text;
  }) as [string, string, string, string, string];
  const body = data.subarray(offset);
  let payload: unknown;
  if (encoding === ENCODING_JSON) {
    payload = body.length === 0 ? {} : parseJson(body);
  } else if (encoding === ENCODING_BINARY) {
    payload = new Uint8Array(body);
  } else {
    throw new WireError(`unknown payload encoding ${encoding}`);
  }
  const frame: Frame = {
    joinRef: joinRef === '' ? null : joinRef,
    ref: ref === '' ? null : ref,
    topic,
    event: 'broadcast',
    payload: { type: 'broadcast', event: userEvent, payload },
  };
  if (metadata !== '') frame.payload.metadata = parseJson(Buffer.from(metadata, 'utf8'));
  return frame;
}

const fitsKind4 = (message: UserBroadcast) =>
  Buffer.byteLength(message.topic) <= 255 &&
  Buffer.byteLength(message.event) <= 255 &&
  (!message.meta || Buffer.byteLength(JSON.stringify(message.meta)) <= 255);

/** Encodes a kind-4 frame (server → client user broadcast). */
export function encodeUserBroadcast(message: UserBroadcast): Buffer {
  const topic = Buffer.from(message.topic, 'utf8');
  const event = Buffer.from(message.event, 'utf8');
  const meta = Buffer.from(message.meta ? JSON.stringify(message.meta) : '', 'utf8');
  for (const [name, part] of [
    ['topic', topic],
    ['event', event],
    ['metadata', meta],
  ] as const) {
    if (part.length > 255) throw new WireError(`${name} is longer than 255 bytes`);
  }
  const body = message.raw ? Buffer.from(message.raw) : Buffer.from(JSON.stringify(message.payload ?? {}), 'utf8');
  const header = Buffer.from([
    KIND_USER_BROADCAST,
    topic.length,
    event.length,
    meta.length,
    message.raw ? ENCODING_BINARY : ENCODING_JSON,
  ]);
  return Buffer.concat([header, topic, event, meta, body]);
}

export const v2: Serializer = {
  vsn: '2.0.0',
  decode(data, isBinary) {
    if (isBinary) return decodeUserBroadcastPush(data);
    const message = parseJson(data);
    if (!Array.isArray(message) || message.length !== 5)
      throw new WireError('vsn 2.0.0 text frames are 5-element JSON arrays');
    const [joinRef, ref, topic, event, payload] = message as unknown[];
    if (typeof topic !== 'string' || typeof event !== 'string') throw new WireError('frame needs a topic and an event');
    return { joinRef: asRef(joinRef, 'join_ref'), ref: asRef(ref, 'ref'), topic, event, payload: asPayload(payload) };
  },
  encode: (frame) => JSON.stringify([frame.joinRef, frame.ref, frame.topic, frame.event, frame.payload]),
  // A kind-4 header holds fields of at most 255 bytes; a JSON payload with a longer event or meta
  // goes as a JSON text broadcast, which realtime-js handles the same way. Raw bytes cannot.
  encodeBroadcast: (message) =>
    message.raw || fitsKind4(message)
      ? encodeUserBroadcast(message)
      : JSON.stringify([null, null, message.topic, 'broadcast', broadcastPayload(message)]),
};

/** The serializer for a `vsn` query value; undefined for a version the client cannot send. */
export function serializerFor(vsn: string | null): Serializer | undefined {
  if (vsn === null || vsn === '1.0.0') return v1;
  if (vsn === '2.0.0') return v2;
  return undefined;
}
