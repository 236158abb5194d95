import { describe, expect, it } from 'vitest';
import { decodeUserBroadcastPush, encodeUserBroadcast, serializerFor, v1, v2, WireError } from './wire.ts';

/** Builds a kind-3 frame exactly as realtime-js 2.119.0's serializer does. */
function kind3(
  joinRef: string,
  ref: string,
  topic: string,
  event: string,
  payload: Buffer,
  encoding = 1,
  meta = '',
): Buffer {
  const parts = [joinRef, ref, topic, event, meta].map((text) => Buffer.from(text, 'utf8'));
  return Buffer.concat([Buffer.from([3, ...parts.map((part) => part.length), encoding]), ...parts, payload]);
}

describe('serializerFor', () => {
  it('picks 2.0.0 arrays, 1.0.0 objects for 1.0.0 or no vsn, and refuses others', () => {
    expect(serializerFor('2.0.0')).toBe(v2);
    expect(serializerFor('1.0.0')).toBe(v1);
    expect(serializerFor(null)).toBe(v1);
    expect(serializerFor('3.0.0')).toBeUndefined();
  });
});

describe('v1', () => {
  it('decodes object frames and never writes join_ref', () => {
    const frame = v1.decode(
      Buffer.from('{"topic":"realtime:a","event":"phx_join","payload":{"x":1},"ref":"9","join_ref":"9"}'),
      false,
    );
    expect(frame).toEqual({ joinRef: '9', ref: '9', topic: 'realtime:a', event: 'phx_join', payload: { x: 1 } });
    expect(JSON.parse(v1.encode({ ...frame, event: 'phx_reply' }))).toEqual({
      topic: 'realtime:a',
      event: 'phx_reply',
      payload: { x: 1 },
      ref: '9',
    });
  });

  it('refuses binary frames and arrays', () => {
    expect(() => v1.decode(Buffer.from([3]), true)).toThrow(WireError);
    expect(() => v1.decode(Buffer.from('[null,"1","phoenix","heartbeat",{}]'), false)).toThrow(WireError);
  });

  it('writes user broadcasts as JSON text', () => {
    expect(
      JSON.parse(v1.encodeBroadcast({ topic: 'realtime:a', event: 'cursor', payload: { x: 1 } }) as string),
    ).toEqual({
      topic: 'realtime:a',
      event: 'broadcast',
      payload: { type: 'broadcast', event: 'cursor', payload: { x: 1 } },
      ref: null,
    });
  });
});

describe('v2', () => {
  it('decodes and encodes five-element arrays with null refs', () => {
    const frame = v2.decode(Buffer.from('[null,"10","phoenix","heartbeat",{}]'), false);
    expect(frame).toEqual({ joinRef: null, ref: '10', topic: 'phoenix', event: 'heartbeat', payload: {} });
    expect(v2.encode({ ...frame, event: 'phx_reply', payload: { status: 'ok', response: {} } })).toBe(
      '[null,"10","phoenix","phx_reply",{"status":"ok","response":{}}]',
    );
  });

  it('decodes the probe’s kind-3 frame into a broadcast push', () => {
    const data = kind3('6', '7', 'realtime:room1', 'cursor', Buffer.from('{"x":9}'));
    expect(data.subarray(0, 7)).toEqual(Buffer.from([0x03, 0x01, 0x01, 0x0e, 0x06, 0x00, 0x01]));
    expect(v2.decode(data, true)).toEqual({
      joinRef: '6',
      ref: '7',
      topic: 'realtime:room1',
      event: 'broadcast',
      payload: { type: 'broadcast', event: 'cursor', payload: { x: 9 } },
    });
  });

  it('keeps a raw binary payload (encoding 0) as bytes and counts multi-byte strings in bytes', () => {
    const frame = decodeUserBroadcastPush(kind3('1', '2', 'realtime:café', 'ünï', Buffer.from([1, 2, 3]), 0));
    expect(frame.topic).toBe('realtime:café');
    expect((frame.payload as { event: string }).event).toBe('ünï');
    expect((frame.payload as { payload: Uint8Array }).payload).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('refuses Phoenix kinds 0–2 and truncated frames', () => {
    expect(() => v2.decode(Buffer.from([2, 0, 0, 0]), true)).toThrow(WireError);
    expect(() => decodeUserBroadcastPush(Buffer.from([3, 5, 0, 0, 0, 0, 1, 65]))).toThrow(WireError);
  });

  it('encodes kind-4 frames the way realtime-js decodes them', () => {
    const data = encodeUserBroadcast({ topic: 'realtime:r', event: 'ping', payload: { a: 'é' }, meta: { id: 1 } });
    expect(data[0]).toBe(4);
    const [topicLength, eventLength, metaLength, encoding] = [data[1]!, data[2]!, data[3]!, data[4]!];
    expect(encoding).toBe(1);
    let offset = 5;
    const take = (n: number) => data.toString('utf8', offset, (offset += n));
    expect(take(topicLength)).toBe('realtime:r');
    expect(take(eventLength)).toBe('ping');
    expect(JSON.parse(take(metaLength))).toEqual({ id: 1 });
    expect(JSON.parse(data.toString('utf8', offset))).toEqual({ a: 'é' });
  });

  it('encodes a raw payload with encoding 0', () => {
    const data = encodeUserBroadcast({ topic: 't', event: 'e', payload: {}, raw: new Uint8Array([9, 8]) });
    expect([...data]).toEqual([4, 1, 1, 0, 0, 116, 101, 9, 8]);
  });
});
