import { describe, expect, it } from 'vitest';
import { contentImportance, keywords, mentions, recency, reinforce, relevance, scoreMemory } from './scoring.ts';

// Labelled examples: how much should Virgil care about remembering this?
const labelled: { content: string; tag?: string; label: 'high' | 'medium' | 'low' }[] = [
  { content: 'Remember that I am allergic to penicillin', label: 'high' },
  { content: "Please don't forget: my daughter's birthday is on March 3rd", label: 'high' },
  { content: 'Important: my emergency contact is my sister Jo', label: 'high' },
  { content: 'I have type 1 diabetes and take insulin medication', tag: 'health', label: 'high' },
  { content: 'Note that I will be moving to Berlin in June', label: 'high' },
  { content: 'I prefer window seats on flights', label: 'medium' },
  { content: 'My favourite food is ramen', label: 'medium' },
  { content: 'I work as a nurse at the city hospital', label: 'medium' },
  { content: "I'm going to the dentist next week", label: 'medium' },
  { content: 'Ada is vegetarian', tag: 'preference', label: 'medium' },
  { content: 'ok thanks', label: 'low' },
  { content: 'lol', label: 'low' },
  { content: 'hello there', label: 'low' },
  { content: 'The sky looked grey this afternoon', label: 'low' },
  { content: 'That sounds fine to me', label: 'low' },
];

const scoreOf = (example: (typeof labelled)[number]) => contentImportance(example).content_importance;

describe('importance from content', () => {
  it('ranks every labelled example above all examples of a lower label', () => {
    const byLabel = (label: string) => labelled.filter((e) => e.label === label).map(scoreOf);
    const [high, medium, low] = [byLabel('high'), byLabel('medium'), byLabel('low')];
    expect(Math.min(...high)).toBeGreaterThan(Math.max(...medium));
    expect(Math.min(...medium)).toBeGreaterThan(Math.max(...low));
  });

  it('stays in [0, 1], however many signals pile up', () => {
    const everything =
      'Remember, important: I am allergic, my wife plans a meeting on Monday March 3rd, I love it, my name is Ada';
    const score = contentImportance({ content: everything, tag: 'health' }).content_importance;
    expect(score).toBeGreaterThan(0.95);
    expect(score).toBeLessThanOrEqual(1);
    expect(contentImportance({ content: 'ok' }).content_importance).toBeGreaterThanOrEqual(0);
  });

  it('names the signals it found', () => {
    const { signals } = contentImportance({ content: 'Remember my appointment on Friday', tag: 'plan' });
    expect(signals.map((s) => s.name)).toEqual(['explicit_request', 'commitment_or_plan', 'date_or_time', 'tag:plan']);
  });

  it('never falls when a signal is added', () => {
    const plain = contentImportance({ content: 'I like tea' }).content_importance;
    expect(contentImportance({ content: 'I like tea', tag: 'preference' }).content_importance).toBeGreaterThan(plain);
    expect(contentImportance({ content: 'Remember: I like tea' }).content_importance).toBeGreaterThan(plain);
  });
});

describe('reinforcement, recency, relevance', () => {
  it('each mention closes part of the gap to 1, and never passes it', () => {
    expect(reinforce(0.4, 0)).toBe(0.4);
    expect(reinforce(0.4, 1)).toBeCloseTo(1 - 0.6 * 0.85, 6);
    expect(reinforce(0.4, 2)).toBeGreaterThan(reinforce(0.4, 1));
    expect(reinforce(0.4, 1000)).toBeLessThanOrEqual(1);
  });

  it('decays by 0.995 per hour', () => {
    const now = new Date('2026-11-25T12:00:00Z');
    expect(recency(now, now)).toBe(1);
    expect(recency(new Date('2026-11-25T11:00:00Z'), now)).toBeCloseTo(0.995, 6);
    expect(recency(new Date('2026-11-19T12:00:00Z'), now)).toBeCloseTo(0.995 ** 144, 6);
  });

  it("relevance is the share of the query's words the memory holds", () => {
    expect(relevance('Lisbon trip', { content: 'Ada travels to Lisbon in May' })).toBe(0.5);
    expect(relevance('Lisbon trips', { content: 'a trip to Lisbon' })).toBe(1);
    expect(relevance('', { content: 'anything' })).toBe(0);
  });

  it('a message mentions a memory when it shares at least half its words', () => {
    expect(mentions('Ada runs the Berlin marathon', 'Training for the Berlin marathon')).toBe(true);
    expect(mentions('Ada runs the Berlin marathon', 'Berlin is cold')).toBe(false);
    expect(keywords("Ada's starters are running")).toEqual(['ada', 'starter', 'runn']);
  });

  it('puts it together: later mentions raise the stored score', () => {
    const once = scoreMemory({ content: 'Ada runs the Berlin marathon', laterMessages: ['nothing related'] });
    const twice = scoreMemory({
      content: 'Ada runs the Berlin marathon',
      laterMessages: ['the Berlin marathon!', 'marathon in Berlin soon'],
    });
    expect(once.components.mentions).toBe(0);
    expect(twice.components.mentions).toBe(2);
    expect(twice.importance_score).toBeGreaterThan(once.importance_score);
    expect(twice.components.reinforcement).toBeCloseTo(twice.importance_score - twice.components.content_importance, 6);
  });
});
