import { describe, expect, it } from 'vitest';
import { HttpError } from './errors.ts';
import { defaultMaxJsonDepth, errorResponse, nestsDeeperThan, readJson } from './http.ts';

const post = (body: BodyInit, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  new Request('http://function.local/sync', { method: 'POST', body, headers });

async function codeOf(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (error) {
    if (error instanceof HttpError) return error.code;
    throw error;
  }
  return 'accepted';
}

describe('reading a JSON body', () => {
  it('parses JSON within the limit', async () => {
    expect(await readJson(post('{"a": 1}'), 100)).toEqual({ a: 1 });
  });

  it.each([
    ['invalid JSON', post('{"a": '), 'invalid_json'],
    ['an empty body', post(''), 'invalid_json'],
    ['bytes that are not UTF-8', post(new Uint8Array([0x7b, 0xff, 0x7d])), 'invalid_json'],
    ['a body over the limit', post(JSON.stringify({ a: 'x'.repeat(200) })), 'payload_too_large'],
    ['another content type', post('{}', { 'content-type': 'text/plain' }), 'unsupported_media_type'],
  ])('refuses %s', async (_name, request, code) => {
    expect(await codeOf(readJson(request, 100))).toBe(code);
  });
});

describe('bounding how deeply a body nests', () => {
  const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

  it('refuses 10,000 levels (a 20 KB body) before parsing or walking it', async () => {
    const body = `{"push": ${nested(10_000)}}`;
    expect(await codeOf(readJson(post(body), 1024 * 1024))).toBe('json_too_deep');
  });

  it('accepts the limit itself and refuses one more, objects and arrays alike', async () => {
    expect(await codeOf(readJson(post(nested(defaultMaxJsonDepth)), 1024))).toBe('accepted');
    expect(await codeOf(readJson(post(nested(defaultMaxJsonDepth + 1)), 1024))).toBe('json_too_deep');
    expect(await codeOf(readJson(post('{"a":{"b":{"c":[1]}}}'), 1024, 3))).toBe('json_too_deep');
    expect(await codeOf(readJson(post('{"a":{"b":[1]}, "c": [[2]]}'), 1024, 3))).toBe('accepted');
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    expect(nestsDeeperThan(JSON.stringify({ text: '[[[[[[{{{{{{' }), 1)).toBe(false);
    expect(nestsDeeperThan(JSON.stringify({ text: 'say \\"[[[[[[\\" and \\' }), 1)).toBe(false);
    expect(nestsDeeperThan(JSON.stringify({ text: '\\', deeper: [[1]] }), 2)).toBe(true);
  });
});

describe('turning errors into responses', () => {
  it('answers an HttpError with its status and code', async () => {
    const response = errorResponse(new HttpError('batch_too_large', 'too many'), () => {});
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ error: 'batch_too_large', message: 'too many' });
  });

  it('answers anything else with a generic 500 that leaks nothing', async () => {
    const logged: unknown[] = [];
    const response = errorResponse(new Error('password=hunter2'), (_m, e) => logged.push(e));
    expect(response.status).toBe(500);
    expect(JSON.stringify(await response.json())).not.toContain('hunter2');
    expect(logged).toHaveLength(1);
  });
});
