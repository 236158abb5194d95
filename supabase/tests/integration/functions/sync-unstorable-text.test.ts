/**
 * Property: text PostgreSQL cannot store (a NUL character, half of a UTF-16 surrogate pair) in any
 * field a device can send is answered 400 unstorable_text with the field's path, and nothing is
 * written, whatever else the batch holds. Fields: titles, content, context, tags, local_ids,
 * conversation_local_id, metadata keys and values (nested too), and pull cursors.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalUser } from '../../../../test-support/users.ts';
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

/** What PostgreSQL's text cannot store: NUL, and a UTF-16 surrogate standing alone. */
// oxlint-disable-next-line no-control-regex -- NUL is the very character under test
const UNSTORABLE = /[\u0000\uD800-\uDFFF]/;

/** A string with one character PostgreSQL cannot store somewhere in it. */
const unstorable = fc
  .tuple(
    fc.string({ maxLength: 12 }).filter((text) => !UNSTORABLE.test(text)),
    fc.constantFrom('\u0000', '\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\uDC00\uD800'),
    fc.string({ maxLength: 12 }).filter((text) => !UNSTORABLE.test(text)),
  )
  .map(([before, bad, after]) => `${before}${bad}${after}`);

type Body = { push?: Record<string, unknown>[]; pull?: Record<string, unknown> };
type Placement = (bad: string) => { body: Body; path: (string | number)[] };

/** Where the bad text goes, and the path the answer must name. */
const placements: Record<string, Placement> = {
  'conversation title': (bad) => ({
    body: { push: [item.conversation('c', { title: bad })] },
    path: ['push', 0, 'fields', 'title'],
  }),
  'conversation local_id': (bad) => ({ body: { push: [item.conversation(bad)] }, path: ['push', 0, 'local_id'] }),
  'message content': (bad) => ({
    body: { push: [item.conversation('c'), item.message('m', 'c', bad)] },
    path: ['push', 1, 'fields', 'content'],
  }),
  'message local_id': (bad) => ({
    body: { push: [item.conversation('c'), item.message(bad, 'c', 'hi')] },
    path: ['push', 1, 'local_id'],
  }),
  'message conversation_local_id': (bad) => ({
    body: { push: [item.message('m', bad, 'hi')] },
    path: ['push', 0, 'fields', 'conversation_local_id'],
  }),
  'metadata key': (bad) => {
    const message = item.message('m', 'c', 'hi');
    (message.fields as Record<string, unknown>).metadata = { fine: 1, [bad]: 'value' };
    return { body: { push: [item.conversation('c'), message] }, path: ['push', 1, 'fields', 'metadata', bad] };
  },
  'nested metadata value': (bad) => {
    const message = item.message('m', 'c', 'hi');
    (message.fields as Record<string, unknown>).metadata = { outer: { list: ['ok', bad] } };
    return {
      body: { push: [item.conversation('c'), message] },
      path: ['push', 1, 'fields', 'metadata', 'outer', 'list', 1],
    };
  },
  'memory content': (bad) => ({
    body: { push: [item.memory('mem', { content: bad })] },
    path: ['push', 0, 'fields', 'content'],
  }),
  'memory context': (bad) => ({
    body: { push: [item.memory('mem', { content: 'ok', context: bad })] },
    path: ['push', 0, 'fields', 'context'],
  }),
  'memory tag': (bad) => ({
    body: { push: [item.memory('mem', { content: 'ok', tag: bad })] },
    path: ['push', 0, 'fields', 'tag'],
  }),
  'pull cursor': (bad) => ({ body: { pull: { cursor: `v1.${bad}` } }, path: ['pull', 'cursor'] }),
  'pull cursor with a push': (bad) => ({
    body: { push: [item.conversation('c')], pull: { cursor: bad } },
    path: ['pull', 'cursor'],
  }),
};

async function post(
  body: Body,
): Promise<{ status: number; json: { error?: string; details?: { path?: unknown; problem?: string } } }> {
  const response = await fetch(`${functionsUrl}/sync`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ada.token}`, 'content-type': 'application/json' },
    // JSON.stringify writes a lone surrogate as a \ud800 escape and NUL as \u0000, as clients do.
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as never };
}

describe('text PostgreSQL cannot store', () => {
  it('is a 400 unstorable_text naming the field, wherever it is, and nothing is written', async () => {
    const before = await footprint(sql, ada.id);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...Object.keys(placements)), unstorable, async (where, bad) => {
        const { body, path } = placements[where]!(bad);
        const { status, json } = await post(body);
        expect(status, where).toBe(400);
        expect(json.error, where).toBe('unstorable_text');
        expect(json.details?.path, where).toEqual(path);
        expect(json.details?.problem, where).toBe(bad.includes('\u0000') ? 'nul_character' : 'lone_surrogate');
        expect(await footprint(sql, ada.id)).toEqual(before);
      }),
      { numRuns: 80, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );
  });

  it('leaves a batch of storable text, emoji pairs included, to be applied', async () => {
    const { status } = await post({ push: [item.conversation('emoji', { title: 'Lisbon 🌊 \uD83D\uDE00' })] });
    expect(status).toBe(200);
  });
});
