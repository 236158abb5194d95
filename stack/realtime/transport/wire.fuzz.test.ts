/**
 * Property tests of the wire decoder: whatever a client sends, in either serializer, a frame either
 * decodes into a well-typed Frame or is refused with a WireError (the connection then drops it).
 * Any other exception would reach the socket's message handler. Every field of every event is
 * varied, including values that break coercion (`{"toString":1}`), and kind-3 binary frames are
 * generated both well-formed and as arbitrary bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Frame, v1, v2, WireError } from './wire.ts';

const EVENTS = ['phx_join', 'phx_leave', 'heartbeat', 'access_token', 'broadcast', 'presence', 'phx_reply', 'other'];

/** JSON values, with the ones that defeat String(): objects whose toString/valueOf are not functions. */
const hostile = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(
    { toString: 1 },
    { toString: null },
    { valueOf: {} },
    { __proto__: null },
    { constructor: 'x' },
    [],
    [[]],
    -0,
    1e308,
  ),
);
const field = fc.oneof(
  fc.string(),
  fc.constantFrom(...EVENTS),
  fc.constantFrom('phoenix', 'realtime:x', 'realtime:'),
  hostile,
);
const payloadFor = fc.oneof(
  hostile,
  fc.record({ config: hostile, access_token: hostile, user_token: hostile }, { requiredKeys: [] }),
  fc.record({ type: hostile, event: hostile, payload: hostile }, { requiredKeys: [] }),
);

function checkDecoded(frame: Frame): void {
  expect(frame.joinRef === null || typeof frame.joinRef === 'string').toBe(true);
  expect(frame.ref === null || typeof frame.ref === 'string').toBe(true);
  expect(typeof frame.topic).toBe('string');
  expect(typeof frame.event).toBe('string');
  expect(typeof frame.payload === 'object' && frame.payload !== null && !Array.isArray(frame.payload)).toBe(true);
  // Whatever decoded must be encodable again (replies echo refs and topics).
  expect(typeof v2.encode(frame)).toBe('string');
  expect(typeof v1.encode(frame)).toBe('string');
}

function decodesOrRefuses(decode: () => Frame): void {
  let frame: Frame;
  try {
    frame = decode();
  } catch (error) {
    expect(error).toBeInstanceOf(WireError);
    return;
  }
  checkDecoded(frame);
}

function kind3(parts: string[], encoding: number, body: Uint8Array): Buffer {
  const encoded = parts.map((part) => Buffer.from(part, 'utf8'));
  return Buffer.concat([
    Buffer.from([3, ...encoded.map((part) => part.length & 0xff), encoding]),
    ...encoded,
    Buffer.from(body),
  ]);
}

const RUNS = { numRuns: 400 };

describe('wire decoder under arbitrary input', () => {
  it('refuses the frames that used to crash the process', () => {
    expect(() => v2.decode(Buffer.from('[{"toString":1},"1","realtime:x","phx_join",{}]'), false)).toThrow(WireError);
    expect(() =>
      v1.decode(Buffer.from('{"topic":"phoenix","event":"heartbeat","payload":{},"ref":{"toString":null}}'), false),
    ).toThrow(WireError);
    expect(() =>
      v1.decode(Buffer.from('{"topic":"realtime:x","event":"phx_join","payload":{},"ref":"1","join_ref":[1]}'), false),
    ).toThrow(WireError);
  });

  it('2.0.0 text: any five (or other number of) fields', () => {
    fc.assert(
      fc.property(
        fc.array(field, { minLength: 0, maxLength: 7 }),
        payloadFor,
        fc.boolean(),
        (fields, payload, withPayload) => {
          const frame = withPayload && fields.length >= 4 ? [...fields.slice(0, 4), payload] : fields;
          decodesOrRefuses(() => v2.decode(Buffer.from(JSON.stringify(frame)), false));
        },
      ),
      RUNS,
    );
  });

  it('1.0.0 text: any value in every key', () => {
    fc.assert(
      fc.property(
        fc.record(
          { topic: field, event: field, payload: payloadFor, ref: field, join_ref: field },
          { requiredKeys: [] },
        ),
        (message) => {
          decodesOrRefuses(() => v1.decode(Buffer.from(JSON.stringify(message)), false));
        },
      ),
      RUNS,
    );
  });

  it('any JSON or any bytes as text, in both serializers', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.json().map((text) => Buffer.from(text)),
          fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
        ),
        (data) => {
          decodesOrRefuses(() => v2.decode(data, false));
          decodesOrRefuses(() => v1.decode(data, false));
        },
      ),
      RUNS,
    );
  });

  it('2.0.0 binary: well-formed kind-3 frames with any strings, encodings and bodies, and arbitrary bytes', () => {
    const body = fc.oneof(
      fc.json().map((text) => new Uint8Array(Buffer.from(text))),
      fc.uint8Array({ maxLength: 64 }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 80 }), { minLength: 5, maxLength: 5 }),
        fc.integer({ min: 0, max: 255 }),
        body,
        (parts, encoding, bytes) => {
          decodesOrRefuses(() => v2.decode(kind3(parts, encoding, bytes), true));
        },
      ),
      RUNS,
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        decodesOrRefuses(() => v2.decode(Buffer.from(bytes), true));
      }),
      RUNS,
    );
    // 1.0.0 has no binary frames at all.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(() => v1.decode(Buffer.from(bytes), true)).toThrow(WireError);
      }),
    );
  });

  it('encodes every user broadcast a 2.0.0 socket may be sent, whatever the event, topic and meta sizes', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 400 }),
        fc.string({ maxLength: 400 }),
        fc.jsonValue(),
        fc.option(fc.jsonValue(), { nil: undefined }),
        (topic, event, payload, id) => {
          const message = { topic, event, payload, ...(id === undefined ? {} : { meta: { id } }) };
          const encoded = v2.encodeBroadcast(message);
          if (typeof encoded === 'string') expect(JSON.parse(encoded)[3]).toBe('broadcast');
          else expect(encoded[0]).toBe(4);
          expect(typeof v1.encodeBroadcast(message)).toBe('string');
        },
      ),
      RUNS,
    );
  });
});
