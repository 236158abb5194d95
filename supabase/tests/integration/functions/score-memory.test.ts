/**
 * `score-memory` over HTTP, and `search_memories` ranking under RLS, against labelled examples.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asRequest, userClaims } from '../../../../test-support/as-user.ts';
import type { LocalUser } from '../../../../test-support/users.ts';
import { mentionChars } from '../../../functions/_shared/score-memory-service.ts';
import type { MemoryScore } from '../../../functions/_shared/scoring.ts';
import { connectDb, device, invoke, item, push, userPool } from './support.ts';

const sql = connectDb();
const users = userPool(sql);
let ada: LocalUser;
let ben: LocalUser;

beforeAll(async () => {
  ada = await users.create('ada');
  ben = await users.create('ben');
});
afterAll(async () => {
  await users.dropAll();
  await sql.end({ timeout: 5 });
});

type Scored = MemoryScore & { stored: boolean; memory_id?: string; version?: number };

describe('score-memory', () => {
  it('scores text with its components, in [0, 1], storing nothing', async () => {
    const answer = await invoke<Scored>(device(ada), 'score-memory', {
      content: 'Remember that my daughter is allergic to peanuts',
      tag: 'health',
      query: 'peanut allergy',
    });
    expect(answer.status).toBe(200);
    expect(answer.body.stored).toBe(false);
    expect(answer.body.importance_score).toBeGreaterThan(0.9);
    expect(answer.body.importance_score).toBeLessThanOrEqual(1);
    expect(answer.body.components.signals.map((s) => s.name)).toEqual(
      expect.arrayContaining(['explicit_request', 'health_or_safety', 'personal_fact', 'tag:health']),
    );
    expect(answer.body.components.relevance).toBeGreaterThan(0);
  });

  it("with an id, stores the score on the user's memory and counts later mentions", async () => {
    const [created] = await push(device(ada), [
      item.memory('runner', { content: 'Ada runs the Berlin marathon', importance_score: 0.1 }),
    ]);
    const first = await invoke<Scored>(device(ada), 'score-memory', { memory_id: created!.id });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ stored: true, memory_id: created!.id });
    expect(first.body.components.mentions).toBe(0);
    const [stored] = await sql<
      { importance_score: number }[]
    >`select importance_score from public.memories where id = ${created!.id!}`;
    expect(stored!.importance_score).toBeCloseTo(first.body.importance_score, 6);

    // Ada talks about it again twice: the memory is reinforced.
    await push(device(ada), [
      item.conversation('chat', { title: 'chat' }),
      item.message('again-1', 'chat', 'Training for the Berlin marathon is going well'),
      item.message('again-2', 'chat', 'Two weeks to the Berlin marathon!'),
    ]);
    const second = await invoke<Scored>(device(ada), 'score-memory', { memory_id: created!.id });
    expect(second.body.components.mentions).toBe(2);
    expect(second.body.importance_score).toBeGreaterThan(first.body.importance_score);
    expect(second.body.components.reinforcement).toBeGreaterThan(0);
  });

  it('looks for mentions in the first part of each later message only, however long the messages', async () => {
    const [created] = await push(device(ada), [
      item.memory('cellist', { content: 'Ada plays the cello in an orchestra', importance_score: 0.1 }),
    ]);
    const filler = 'nothing to see here '.repeat(Math.ceil(mentionChars / 20)).slice(0, mentionChars);
    await push(device(ada), [
      item.conversation('long', { title: 'long' }),
      item.message('long-early', 'long', `Orchestra rehearsal tonight, cello in hand. ${filler}${filler}`),
      item.message('long-late', 'long', `${filler}Orchestra rehearsal tonight, cello in hand.`),
    ]);
    const scored = await invoke<Scored>(device(ada), 'score-memory', { memory_id: created!.id });
    expect(scored.status).toBe(200);
    // The late mention sits past the first mentionChars characters: not read, not counted.
    expect(scored.body.components.mentions).toBe(1);
  });

  it('rejects a request that is neither an id nor content', async () => {
    for (const body of [{}, { memory_id: 'not-a-uuid' }, { content: '' }, { content: 'x', extra: 1 }]) {
      const answer = await invoke<{ error: string }>(device(ada), 'score-memory', body);
      expect(answer).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    }
  });

  it('an id that is no memory of the caller is a 404', async () => {
    const answer = await invoke<{ error: string }>(device(ada), 'score-memory', { memory_id: crypto.randomUUID() });
    expect(answer).toMatchObject({ status: 404, body: { error: 'memory_not_found' } });
  });
});

describe('search_memories', () => {
  // Labelled: for each query, the memory that should come first, then the ones that should follow.
  const memories = [
    { local_id: 'veg', content: 'Ada is vegetarian and does not eat meat', tag: 'preference' },
    { local_id: 'lisbon', content: 'Ada travels to Lisbon from May 12 to 18', tag: 'plan' },
    { local_id: 'sourdough', content: 'Ada bakes sourdough bread on Sundays', tag: 'hobby' },
    { local_id: 'peanut', content: 'Remember: Ada is allergic to peanuts', tag: 'health' },
    { local_id: 'weather', content: 'ok thanks', tag: null },
  ];
  const labelled: { query: string; first: string; last?: string }[] = [
    { query: 'what does Ada eat, is she vegetarian?', first: 'veg' },
    { query: 'trip to Lisbon in May', first: 'lisbon' },
    { query: 'sourdough bread baking', first: 'sourdough' },
    { query: 'peanut allergy', first: 'peanut' },
    { query: 'what should I know', first: 'peanut', last: 'weather' },
  ];

  it('ranks the labelled memory first for each query, as the caller only', async () => {
    await push(
      device(ada),
      memories.map((m) => item.memory(`s-${m.local_id}`, { content: m.content, tag: m.tag })),
    );
    await push(device(ben), [
      item.memory('s-ben', { content: 'Ben is vegetarian and loves Lisbon sourdough peanuts' }),
    ]);
    for (const { query, first, last } of labelled) {
      const ranked = await asRequest(
        sql,
        userClaims(ada.id),
        (tx) => tx<{ local_id: string; score: number }[]>`
        select local_id, score from public.search_memories(${query}, 10) where local_id like 's-%'`,
      );
      expect(
        ranked.map((r) => r.local_id),
        query,
      ).not.toContain('s-ben');
      expect(ranked[0]?.local_id, query).toBe(`s-${first}`);
      if (last) expect(ranked.at(-1)?.local_id, query).toBe(`s-${last}`);
      for (const r of ranked) {
        expect(r.score).toBeGreaterThanOrEqual(0);
        expect(r.score).toBeLessThanOrEqual(1);
      }
    }
  });

  it('is not callable without a signed-in user', async () => {
    await expect(
      asRequest(sql, { role: 'anon' }, (tx) => tx`select * from public.search_memories('anything', 5)`),
    ).rejects.toThrow(/permission denied for function search_memories/);
  });
});
