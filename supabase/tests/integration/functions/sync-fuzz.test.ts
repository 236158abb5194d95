/**
 * Property: whatever random or hostile payload a client throws at `sync`, the answer is a 4xx JSON
 * error and nothing is written. Payloads are generated, and kept only when the shared zod schema
 * (the one the function uses) says they are invalid, so every run is a request that must fail.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalUser } from '../../../../test-support/users.ts';
import { syncRequest } from '../../../functions/_shared/sync-protocol.ts';
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

async function post(body: string): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${functionsUrl}/sync`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ada.token}`, 'content-type': 'application/json' },
    body,
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, json };
}

const hostileStrings = fc.constantFrom(
  "'; drop table public.messages; --",
  'conversations; delete from auth.users',
  '../../etc/passwd',
  '\u0000',
  '💥'.repeat(300),
  'x'.repeat(100_001),
  '__proto__',
  'constructor',
  'NaN',
  '1e309',
  '-1',
  '',
  ' ',
  '{"$ne": null}',
  'auth.users',
  'sync.changes',
);
const hostileValue = fc.oneof(
  hostileStrings,
  fc.jsonValue({ maxDepth: 3 }),
  fc.constant(null),
  fc.double(),
  fc.integer(),
);
const hostileKey = fc.oneof(
  fc.constantFrom(
    'user_id',
    'id',
    'version',
    'message_count',
    'updated_at',
    '__proto__',
    'constructor',
    'table',
    'op',
    'fields',
    'role; drop',
  ),
  fc.string({ maxLength: 20 }),
);
const topKeys = [
  'table',
  'op',
  'local_id',
  'change_id',
  'client_updated_at',
  'base_version',
  'mode',
  'fields',
] as const;

/** A valid item with one hostile change: a key set to a hostile value, removed, or added. */
const mutatedItem = fc
  .tuple(
    fc.constantFrom<'set' | 'drop' | 'add' | 'field'>('set', 'drop', 'add', 'field'),
    fc.constantFrom(...topKeys),
    hostileKey,
    hostileValue,
    fc.constantFrom('conversation', 'message', 'memory'),
  )
  .map(([how, key, extraKey, value, kind]) => {
    const base: Record<string, unknown> = {
      ...(kind === 'conversation'
        ? item.conversation('fuzz-c', { title: 'fuzz' })
        : kind === 'message'
          ? item.message('fuzz-m', 'fuzz-c', 'fuzz')
          : item.memory('fuzz-mem', { content: 'fuzz' })),
    };
    if (how === 'set') base[key] = value;
    if (how === 'drop') delete base[key];
    if (how === 'add')
      Object.defineProperty(base, extraKey, { value, enumerable: true, configurable: true, writable: true });
    if (how === 'field') base.fields = { ...(base.fields as object), [extraKey]: value };
    return base;
  });

const hostileBatch = fc
  .tuple(fc.array(fc.constantFrom('conversation', 'memory'), { maxLength: 4 }), mutatedItem, fc.nat(4))
  .map(([goodKinds, bad, at]) => {
    const good = goodKinds.map((kind, i) =>
      kind === 'conversation'
        ? item.conversation(`fuzz-good-${i}`)
        : item.memory(`fuzz-good-${i}`, { content: 'good' }),
    );
    good.splice(Math.min(at, good.length), 0, bad as never);
    return JSON.stringify({ push: good });
  });

const randomJson = fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value));
const randomPullish = fc
  .record({ pull: fc.oneof(hostileValue, fc.record({ cursor: hostileValue, limit: hostileValue })) })
  .map((v) => JSON.stringify(v));
const notJson = fc.string({ maxLength: 200 }).filter((text) => {
  try {
    JSON.parse(text);
    return false;
  } catch {
    return true;
  }
});

function invalid(body: string): boolean {
  try {
    return !syncRequest.safeParse(JSON.parse(body)).success;
  } catch {
    return true;
  }
}

describe('sync under random and hostile payloads', () => {
  it('answers 4xx with a JSON error and writes nothing', async () => {
    const before = await footprint(sql, ada.id);
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostileBatch, randomJson, randomPullish, notJson), async (body) => {
        fc.pre(invalid(body));
        const { status, json } = await post(body);
        expect(status, `status for ${body.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
        expect(status, `status for ${body.slice(0, 200)}`).toBeLessThan(500);
        expect(json).toMatchObject({ error: expect.any(String), message: expect.any(String) });
        expect(await footprint(sql, ada.id)).toEqual(before);
      }),
      { numRuns: 300, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );
  });
});
