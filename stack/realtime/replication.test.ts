import { describe, expect, it } from 'vitest';
import { parseCopyData, standbyStatus } from './replication.ts';

const xlog = (start: bigint, walEnd: bigint, body: string) => {
  const header = Buffer.alloc(25);
  header[0] = 0x77;
  header.writeBigUInt64BE(start, 1);
  header.writeBigUInt64BE(walEnd, 9);
  return Buffer.concat([header, Buffer.from(body)]);
};
const keepalive = (walEnd: bigint, reply: number) => {
  const message = Buffer.alloc(18);
  message[0] = 0x6b;
  message.writeBigUInt64BE(walEnd, 1);
  message[17] = reply;
  return message;
};

describe('the replication protocol’s CopyData', () => {
  it.each([
    [
      'XLogData',
      xlog(0x16b3748n, 0x16b3800n, '{"action":"C"}'),
      { kind: 'xlog', start: 0x16b3748n, walEnd: 0x16b3800n, body: '{"action":"C"}' },
    ],
    [
      'a keepalive asking for a reply',
      keepalive(0x2000n, 1),
      { kind: 'keepalive', walEnd: 0x2000n, replyRequested: true },
    ],
    ['a keepalive not asking', keepalive(0x2000n, 0), { kind: 'keepalive', walEnd: 0x2000n, replyRequested: false }],
    ['anything else', Buffer.from([0x72, 0, 0]), undefined],
  ])('reads %s', (_what, data, expected) => {
    const parsed = parseCopyData(data);
    if (parsed?.kind === 'xlog') {
      const { start, walEnd, data: body } = parsed.message;
      expect({ kind: parsed.kind, start, walEnd, body: body.toString() }).toEqual(expected);
    } else {
      expect(parsed).toEqual(expected);
    }
  });

  it('writes the 34-byte standby status update: r, written = flushed = applied, µs since 2000, no reply asked', () => {
    const message = standbyStatus(0x1234n, Date.UTC(2000, 0, 1, 0, 0, 1));
    expect(message).toHaveLength(34);
    expect(message[0]).toBe(0x72);
    expect([message.readBigUInt64BE(1), message.readBigUInt64BE(9), message.readBigUInt64BE(17)]).toEqual([
      0x1234n,
      0x1234n,
      0x1234n,
    ]);
    expect(message.readBigUInt64BE(25)).toBe(1_000_000n);
    expect(message[33]).toBe(0);
  });
});
