/**
 * What a hostile client sends the functions, as raw HTTP: bodies nested thousands deep, forged pull
 * cursors, methods nobody serves (TRACE), the wrong content types, bytes that are not UTF-8, numbers
 * where strings go, arrays of 100,000 items, duplicate ids in one batch, Unicode at its edges. Every
 * answer is a JSON 4xx with a stable code (or a 200 with per-item results where the request is
 * well-formed), never a 5xx, and a refused request changes nothing.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalUser } from '../../../../test-support/users.ts';
import { syncLimits } from '../../../functions/_shared/sync-protocol.ts';
import { connectDb, footprint, functionsUrl, item, userPool } from './support.ts';

const sql = connectDb();
const users = userPool(sql);
let ada: LocalUser;

beforeAll(async () => {
  ada = await users.create('ada');
});
afterAll(async () => {
  await users.dropAll();
  await sql.end({ timeout: 5 });
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** Any method, any bytes, exactly as given (fetch refuses TRACE, so node:http it is). */
const jsonType = { 'content-type': 'application/json' };

function send(
  fn: string,
  method: string,
  body?: string | Uint8Array,
  headers: Record<string, string> = jsonType,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // Framed by content-length: node:http sends a DELETE's body unframed otherwise.
    const length = body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) };
    const outgoing = httpRequest(
      `${functionsUrl}/${fn}`,
      { method, headers: { authorization: `Bearer ${ada.token}`, ...length, ...headers } },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.once('end', () =>
          resolve({
            status: incoming.statusCode ?? 0,
            headers: incoming.headers,
            text: Buffer.concat(chunks).toString(),
          }),
        );
        incoming.once('error', reject);
      },
    );
    outgoing.once('error', reject);
    outgoing.end(body);
  });
}

const errorOf = (answer: Answer) => (JSON.parse(answer.text) as { error: string }).error;

async function expectNothingWritten(work: () => Promise<void>) {
  const before = await footprint(sql, ada.id);
  await work();
  expect(await footprint(sql, ada.id)).toEqual(before);
}

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const cursorOf = (value: unknown) => `v1.${Buffer.from(JSON.stringify(value)).toString('base64url')}`;
const functions = ['sync', 'score-memory'] as const;

describe('bodies nested too deeply', () => {
  it.each([
    ['sync', `{"push": [{"table": "conversations", "fields": {"metadata": ${nested(10_000)}}}]}`],
    ['sync', `{"pull": ${nested(10_000)}}`],
    ['score-memory', `{"content": "x", "context": ${nested(10_000)}}`],
    ['sync', '{"push":'.repeat(10_000)],
  ])('%s answers 10,000 levels with 400 json_too_deep', async (fn, body) => {
    await expectNothingWritten(async () => {
      const answer = await send(fn, 'POST', body);
      expect(answer.status).toBe(400);
      expect(errorOf(answer)).toBe('json_too_deep');
    });
  });

  it('sync still takes metadata nested as deep as its limit allows', async () => {
    // body → push → item → fields → metadata: the rest of the limit is the metadata's own.
    const metadata = JSON.parse(nested(syncLimits.maxJsonDepth - 5)) as unknown;
    const message = (m: unknown) => ({
      ...item.message('deep-m', 'deep-c', 'x'),
      fields: { conversation_local_id: 'deep-c', role: 'user', content: 'x', metadata: { m } },
    });
    const answer = await send(
      'sync',
      'POST',
      JSON.stringify({ push: [item.conversation('deep-c'), message(metadata)] }),
    );
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toMatchObject({
      push: { results: [{ status: 'applied' }, { status: 'applied' }] },
    });
    const one = await send('sync', 'POST', JSON.stringify({ push: [message([metadata])] }));
    expect(one.status).toBe(400);
    expect(errorOf(one)).toBe('json_too_deep');
  });
});

describe('forged pull cursors', () => {
  it.each([
    ['xmin above xmax', cursorOf({ since: '5:1:' })],
    ['xmin 0', cursorOf({ since: '0:0:' })],
    ['an in-progress id outside [xmin, xmax)', cursorOf({ since: '1:5:7' })],
    ['in-progress ids out of order', cursorOf({ upto: '1:5:3,2' })],
    ['a transaction id past 2^64 - 1', cursorOf({ since: '99999999999999999999:99999999999999999999:' })],
    [
      'a page position past 2^64 - 1',
      cursorOf({ since: '1:2:', after: { txid: '99999999999999999999', table: 'messages', id: crypto.randomUUID() } }),
    ],
    ['an array', cursorOf([1, 2])],
    ['not base64url JSON', 'v1.////'],
    ['SQL', cursorOf({ since: "1:2:'; drop table public.messages; --" })],
  ])('%s is 400 invalid_cursor', async (_name, cursor) => {
    await expectNothingWritten(async () => {
      const answer = await send('sync', 'POST', JSON.stringify({ pull: { cursor } }));
      expect(answer.status).toBe(400);
      expect(errorOf(answer)).toBe('invalid_cursor');
    });
  });

  it('a forged cursor next to a push refuses the whole request: the push is not applied', async () => {
    await expectNothingWritten(async () => {
      const body = { push: [item.conversation('with-bad-cursor')], pull: { cursor: cursorOf({ since: '5:1:' }) } };
      const answer = await send('sync', 'POST', JSON.stringify(body));
      expect(answer.status).toBe(400);
      expect(errorOf(answer)).toBe('invalid_cursor');
    });
  });
});

describe('methods a function does not serve', () => {
  it.each(
    functions.flatMap((fn) =>
      ['TRACE', 'GET', 'PUT', 'PATCH', 'DELETE', 'PROPFIND'].map((method) => [fn, method] as const),
    ),
  )('%s answers %s with 405 and Allow', async (fn, method) => {
    await expectNothingWritten(async () => {
      const answer = await send(fn, method, method === 'TRACE' || method === 'GET' ? undefined : '{"pull": {}}');
      expect(answer.status).toBe(405);
      expect(answer.headers.allow).toBe('POST, OPTIONS');
      expect(errorOf(answer)).toBe('method_not_allowed');
    });
  });

  it.each(functions)('%s answers HEAD with 405 and Allow, without a body', async (fn) => {
    const answer = await send(fn, 'HEAD');
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('POST, OPTIONS');
    expect(answer.text).toBe('');
  });
});

describe('garbage', () => {
  const invalidUtf8 = new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]);
  const utf16 = new Uint8Array([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]);
  const cases: [string, string | Uint8Array, Record<string, string>, number, string][] = [
    ['text/plain', '{"pull": {}}', { 'content-type': 'text/plain' }, 415, 'unsupported_media_type'],
    ['a form', 'pull=1', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'unsupported_media_type'],
    [
      'multipart',
      '--x\r\n\r\n{}\r\n--x--',
      { 'content-type': 'multipart/form-data; boundary=x' },
      415,
      'unsupported_media_type',
    ],
    ['an empty body', '', { 'content-type': 'application/json' }, 400, 'invalid_json'],
    ['no body and no content type', '', {}, 400, 'invalid_json'],
    ['whitespace', ' \n\t ', { 'content-type': 'application/json' }, 400, 'invalid_json'],
    ['bytes that are not UTF-8', invalidUtf8, { 'content-type': 'application/json' }, 400, 'invalid_json'],
    ['UTF-16', utf16, { 'content-type': 'application/json' }, 400, 'invalid_json'],
    ['null', 'null', { 'content-type': 'application/json' }, 400, 'invalid_request'],
    ['a number', '1e400', { 'content-type': 'application/json' }, 400, 'invalid_request'],
    [
      'an array of 100,000 items',
      JSON.stringify(Array(100_000).fill(1)),
      { 'content-type': 'application/json' },
      400,
      'invalid_request',
    ],
    [
      'a 3 MB string',
      JSON.stringify({ content: 'x'.repeat(3_000_000) }),
      { 'content-type': 'application/json' },
      413,
      'payload_too_large',
    ],
  ];
  it.each(functions.flatMap((fn) => cases.map((c) => [fn, ...c] as const)))(
    '%s answers %s with a 4xx',
    async (fn, _name, body, headers, status, code) => {
      await expectNothingWritten(async () => {
        const answer = await send(fn, 'POST', body, headers);
        // sync takes bodies up to 4 MB; 3 MB of one unknown key is then a shape error.
        const expected = fn === 'sync' && status === 413 ? [400, 'invalid_request'] : [status, code];
        expect([answer.status, errorOf(answer)]).toEqual(expected);
      });
    },
  );

  const now = () => new Date().toISOString();
  const loneKey = '"content":"x","metadata":{"\\ud800":1}';
  it.each([
    ['numbers where strings go', { push: [{ ...item.conversation('n'), local_id: 7, fields: { title: 42 } }] }],
    ['a string where a number goes', { pull: { limit: '10' } }],
    [
      'an infinite base_version',
      `{"push": [${JSON.stringify({ ...item.conversation('inf') }).slice(0, -1)}, "base_version": 1e999}]}`,
    ],
    ['push as an object', { push: { 0: item.conversation('o') } }],
    ['1,000 nulls', { push: Array(1000).fill(null) }],
    ['a local_id of 129 characters', { push: [item.conversation('x'.repeat(129))] }],
    [
      'a time that does not exist',
      { push: [{ ...item.conversation('feb'), client_updated_at: '2026-02-30T00:00:00Z' }] },
    ],
    ['a prototype key', `{"__proto__": {"pull": {}}, "pull": {}}`],
    ['a pull cursor as a number', { pull: { cursor: 5 } }],
    ['a NUL in a title', { push: [item.conversation('nul', { title: 'a\u0000b' })] }],
    [
      'a lone surrogate in a metadata key',
      `{"push": [${JSON.stringify(item.message('ls', 'nowhere', 'x')).replace('"content":"x"', loneKey)}]}`,
    ],
  ])('sync answers %s with a 400', async (_name, body) => {
    await expectNothingWritten(async () => {
      const answer = await send('sync', 'POST', typeof body === 'string' ? body : JSON.stringify(body));
      expect(answer.status).toBe(400);
      expect(['invalid_request', 'unstorable_text']).toContain(errorOf(answer));
    });
  });

  it('sync answers an array of 100,000 items with 413 batch_too_large', async () => {
    await expectNothingWritten(async () => {
      const answer = await send('sync', 'POST', JSON.stringify({ push: Array(100_000).fill(0) }));
      expect([answer.status, errorOf(answer)]).toEqual([413, 'batch_too_large']);
    });
  });

  it.each([
    ['content as a number', { content: 5 }],
    ['a memory_id that is not a uuid', { memory_id: "1' or '1'='1" }],
    ['both shapes at once', { memory_id: crypto.randomUUID(), content: 'x' }],
    ['an empty tag', { content: 'x', tag: '' }],
    ['a lone surrogate', '{"content": "\\udfff"}'],
  ])('score-memory answers %s with a 400', async (_name, body) => {
    await expectNothingWritten(async () => {
      const answer = await send('score-memory', 'POST', typeof body === 'string' ? body : JSON.stringify(body));
      expect(answer.status).toBe(400);
    });
  });

  it('duplicate ids in one batch get per-item answers, each change applied once', async () => {
    const change = crypto.randomUUID();
    const batch = [
      item.conversation('dup', { title: 'one' }),
      item.conversation('dup', { title: 'two' }),
      item.conversation('dup-a', {}, { change_id: change }),
      item.conversation('dup-b', {}, { change_id: change }),
    ];
    const answer = await send('sync', 'POST', JSON.stringify({ push: batch }));
    expect(answer.status).toBe(200);
    const results = (
      JSON.parse(answer.text) as { push: { results: { status: string; version?: number; reason?: string }[] } }
    ).push.results;
    expect(results.map((r) => r.status)).toEqual(['applied', 'applied', 'applied', 'rejected']);
    expect(results[1]!.version).toBe(2);
    expect(results[3]!.reason).toBe('invalid_item');
    const rows = await sql<{ local_id: string; title: string | null; version: string }[]>`
      select local_id, title, version from public.conversations where user_id = ${ada.id} and local_id like 'dup%' order by local_id`;
    expect(rows.map((r) => [r.local_id, r.title, Number(r.version)])).toEqual([
      ['dup', 'two', 2],
      ['dup-a', null, 1],
    ]);
    // The same batch again writes nothing more.
    await expectNothingWritten(async () => {
      expect((await send('sync', 'POST', JSON.stringify({ push: batch }))).status).toBe(200);
    });
  });

  it('Unicode at its edges is stored exactly as sent', async () => {
    const texts = {
      astral: '💥'.repeat(50_000), // 100,000 UTF-16 units: the content limit, 200 KB of UTF-8
      nonCharacters: '\uffff\ufffe\u{10ffff}\u{1fffe}',
      invisible: '\u200b\u200d\ufeff\u202e\u2066',
      combining: 'e\u0301'.repeat(1000) + 'Z̷̢͎̈́a̸l̶g̴o̵',
      lineBreaks: '\u2028\u2029\u0085\r\n',
    };
    const items = [
      item.conversation('uni-c', { title: texts.invisible }),
      ...Object.entries(texts).map(([name, text]) =>
        item.message(`uni-${name}`, 'uni-c', text, { client_updated_at: now() }),
      ),
      item.conversation('\u{1f4a5}'.repeat(64)), // a 128-unit local_id of astral characters
    ];
    const answer = await send('sync', 'POST', JSON.stringify({ push: items }));
    expect(answer.status).toBe(200);
    const rows = await sql<{ local_id: string; content: string }[]>`
      select local_id, content from public.messages where user_id = ${ada.id} and local_id like 'uni-%'`;
    expect(Object.fromEntries(rows.map((r) => [r.local_id.slice(4), r.content]))).toEqual(texts);
  });
});
