import { describe, expect, it } from 'vitest';
import { mintUserToken } from '../../identity/jwt.ts';
import { loadConfig } from '../../config.ts';

const keys = loadConfig().keys;
const localSecrets = keys;

import type { Catalog } from '../changes/catalog.ts';
import { RealtimeError, reasonFor } from '../errors.ts';
import {
  authenticate,
  privateOnly,
  bindingId,
  channelLimit,
  MAX_CHANNELS_PER_SOCKET,
  parsePayload,
  planBindings,
  topicName,
} from './join.ts';
import { replayRequest } from '../broadcast/replay.ts';
import { testTable } from '../changes/test-support.ts';

const memories = testTable('public', 'memories', [
  ['id', 'uuid'],
  ['tag', 'text'],
]);
const catalog = { all: () => [memories], refresh: async () => undefined } as unknown as Catalog;

const reason = async (work: () => unknown) => {
  try {
    await work();
  } catch (error) {
    if (error instanceof RealtimeError) return reasonFor(error);
    throw error;
  }
  return 'no error';
};

describe('join pipeline steps', () => {
  it('topicName requires `realtime:` and a non-empty name', async () => {
    expect(topicName('realtime:room')).toBe('room');
    expect(await reason(() => topicName('realtime:'))).toBe('TopicNameRequired: You must provide a topic name');
    expect(await reason(() => topicName('room'))).toBe('TopicNameRequired: You must provide a topic name');
  });

  it('channelLimit refuses the 101st channel', async () => {
    expect(await reason(() => channelLimit(MAX_CHANNELS_PER_SOCKET - 1))).toBe('no error');
    expect(await reason(() => channelLimit(MAX_CHANNELS_PER_SOCKET))).toBe(
      'ChannelRateLimitReached: Too many channels',
    );
  });

  it('parsePayload refuses a non-array postgres_changes', async () => {
    expect(await reason(() => parsePayload({ config: { postgres_changes: 'x' } }))).toMatch(/^InvalidJoinPayload: /);
  });

  it('authenticate prefers user_token, then access_token, then the socket key, and maps token failures', async () => {
    const user = await mintUserToken(crypto.randomUUID());
    expect((await authenticate({ access_token: user }, localSecrets.anonKey, keys)).claims.role).toBe('authenticated');
    expect((await authenticate({}, localSecrets.anonKey, keys)).claims.role).toBe('anon');
    expect((await authenticate({}, keys.publishableKey, keys)).claims.role).toBe('anon');
    expect((await authenticate({}, keys.secretKey, keys)).claims.role).toBe('service_role');
    // Only the stack's own opaque keys stand for a role; a made-up one is refused like a bad token.
    expect(await reason(() => authenticate({}, 'sb_secret_totally-made-up', keys))).toBe(
      'InvalidJWTToken: Invalid API key',
    );
    expect(await reason(() => authenticate({ access_token: 'sb_publishable_x' }, localSecrets.anonKey, keys))).toBe(
      'InvalidJWTToken: Invalid API key',
    );
    const expired = await mintUserToken(crypto.randomUUID(), { expiresIn: -12 });
    expect(await reason(() => authenticate({ access_token: expired }, '', keys))).toMatch(
      /^InvalidJWTToken: Token has expired 1[2-4] seconds ago$/,
    );
    const forged = await mintUserToken(crypto.randomUUID(), { secret: 'another-secret-that-is-long-enough-to-sign' });
    expect(await reason(() => authenticate({ access_token: forged }, '', keys))).toBe(
      'JwtSignatureError: Failed to validate JWT signature',
    );
    expect(await reason(() => authenticate({ access_token: 'nope' }, '', keys))).toBe(
      'MalformedJWT: The token provided is not a valid JWT',
    );
  });

  it('privateOnly refuses public channels only when the project allows private channels only', async () => {
    expect(await reason(() => privateOnly(false, true))).toBe('PrivateOnly: This project only allows private channels');
    expect(await reason(() => privateOnly(true, true))).toBe('no error');
    expect(await reason(() => privateOnly(false, false))).toBe('no error');
  });

  it('replayRequest clamps the limit to 1..25, defaults it to 25, and refuses public channels and bad params', async () => {
    expect(replayRequest({ broadcast: { replay: { since: 5, limit: 1000 } } }, true)).toEqual({ since: 5, limit: 25 });
    expect(replayRequest({ broadcast: { replay: { since: 5, limit: 0 } } }, true)).toEqual({ since: 5, limit: 1 });
    expect(replayRequest({ broadcast: { replay: { since: 5 } } }, true)).toEqual({ since: 5, limit: 25 });
    expect(replayRequest({ broadcast: {} }, true)).toBeUndefined();
    expect(await reason(() => replayRequest({ broadcast: { replay: { since: 5 } } }, false))).toBe(
      'UnableToReplayMessages: Replay is not allowed for public channels',
    );
    expect(await reason(() => replayRequest({ broadcast: { replay: { limit: 5 } } }, true))).toBe(
      'UnableToReplayMessages: Replay params are not valid',
    );
    expect(await reason(() => replayRequest({ broadcast: { replay: { since: 'yesterday' } } }, true))).toBe(
      'UnableToReplayMessages: Replay params are not valid',
    );
  });
});

describe('planBindings', () => {
  it('echoes each entry exactly, adds no keys, and gives equal entries equal ids', async () => {
    const entries = [
      { event: '*', schema: 'public', table: 'memories', filter: 'tag=eq.a' },
      { event: 'INSERT', schema: 'public', table: 'memories', select: ['tag'] },
    ];
    const plan = await planBindings(entries, catalog);
    expect(plan.bindingError).toBeUndefined();
    expect(plan.echo.map(({ id: _id, ...entry }) => entry)).toEqual(entries);
    expect(plan.echo[0]!.id).toBe(bindingId({ ...entries[0] }));
    expect(plan.echo[0]!.id).not.toBe(plan.echo[1]!.id);
    expect(plan.echo.every((entry) => Number.isInteger(entry.id) && entry.id >= 0 && entry.id < 2 ** 27)).toBe(true);
    expect(plan.bindings.map((b) => b.event)).toEqual(['*', 'INSERT']);
  });

  it('turns a bad filter, an unknown column or an unpublished table into a binding error', async () => {
    expect(
      (await planBindings([{ event: '*', schema: 'public', table: 'memories', filter: 'tag=foo.1' }], catalog))
        .bindingError,
    ).toMatch(/^Error parsing `filter` params/);
    expect(
      (await planBindings([{ event: '*', schema: 'public', table: 'memories', filter: 'nope=eq.1' }], catalog))
        .bindingError,
    ).toMatch(/^Unable to subscribe/);
    expect((await planBindings([{ event: '*', schema: 'public', table: 'todos' }], catalog)).bindingError).toMatch(
      /^Unable to subscribe/,
    );
  });

  it('keeps a valid `select` on the binding, and refuses it with `*`, as a non-array, or naming an unknown column', async () => {
    const ok = await planBindings([{ event: '*', schema: 'public', table: 'memories', select: ['tag'] }], catalog);
    expect(ok.bindingError).toBeUndefined();
    expect(ok.bindings[0]!.select).toEqual(['tag']);
    expect(
      (await planBindings([{ event: '*', schema: 'public', table: 'memories' }], catalog)).bindings[0]!.select,
    ).toBeUndefined();
    const refused = [
      { event: '*', schema: 'public', select: ['tag'] },
      { event: '*', schema: 'public', table: '*', select: ['tag'] },
      { event: '*', schema: '*', table: 'memories', select: ['tag'] },
      { event: '*', schema: 'public', table: 'memories', select: 'tag' },
      { event: '*', schema: 'public', table: 'memories', select: { tag: true } },
      { event: '*', schema: 'public', table: 'memories', select: ['nope'] },
      { event: '*', schema: 'public', table: 'memories', select: [1] },
    ];
    for (const entry of refused) {
      const plan = await planBindings([entry], catalog);
      expect(plan.bindingError, JSON.stringify(entry)).toMatch(/^Unable to subscribe to changes with given parameters/);
      expect(plan.bindings).toEqual([]);
    }
  });
});
