/**
 * @module The memory scoring model (docs/memory-scoring.md).
 *
 * Anchored on the retrieval score of Generative Agents (Park et al., 2023): a memory's worth at
 * retrieval is recency + importance + relevance. The paper asks a language model for importance
 * (1 to 10); here it is computed from the content's own signals, so it is cheap, deterministic and
 * explainable:
 *
 *   importance   = 1 − (1 − base) · Π (1 − wᵢ) over the signals found (a "noisy OR": each signal
 *                  closes part of the remaining gap, so the score stays in [0, 1] and never falls
 *                  when a signal is added), times 0.5 when the content is only small talk.
 *   reinforced   = 1 − (1 − importance) · (1 − r)^mentions: each later message of the user that
 *                  mentions the memory again closes a share r of what is left.
 *   recency      = 0.995^hours since the memory was last written (the paper's decay).
 *   relevance    = share of the query's words the memory contains (lexical stand-in for the
 *                  paper's embedding similarity).
 *
 * The stored `importance_score` is `reinforced`; recency and relevance depend on the moment and the
 * query and are computed when searching (SQL public.search_memories).
 */

export interface Signal {
  name: string;
  weight: number;
  /** What a person would say that shows the signal. */
  patterns: RegExp[];
}

export const scoringModel = {
  base: 0.1,
  smallTalkFactor: 0.5,
  reinforcementPerMention: 0.15,
  recencyDecayPerHour: 0.995,
} as const;

const months =
  'january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec';
const weekdays = 'monday|tuesday|wednesday|thursday|friday|saturday|sunday';

export const signals: readonly Signal[] = [
  {
    name: 'explicit_request',
    weight: 0.55,
    patterns: [
      /\bremember\b/,
      /\bdon'?t forget\b/,
      /\bdo not forget\b/,
      /\bkeep in mind\b/,
      /\bnote that\b/,
      /\bmake a note\b/,
      /\bimportant\b/,
      /\bnever forget\b/,
    ],
  },
  {
    name: 'health_or_safety',
    weight: 0.5,
    patterns: [
      /\ballerg(y|ic|ies)\b/,
      /\bmedication\b/,
      /\bdiagnos(ed|is)\b/,
      /\basthma\b/,
      /\bdiabet(es|ic)\b/,
      /\bpregnan(t|cy)\b/,
      /\bepilep(sy|tic)\b/,
      /\bemergency contact\b/,
      /\bblood type\b/,
      /\bintoleran(t|ce)\b/,
    ],
  },
  {
    name: 'personal_fact',
    weight: 0.35,
    patterns: [
      /\bmy name is\b/,
      /\bi am (a|an)\b/,
      /\bi'?m (a|an)\b/,
      /\bi live\b/,
      /\bi work\b/,
      /\bi was born\b/,
      /\bmy (wife|husband|partner|son|daughter|kids?|children|mother|father|mom|mum|dad|brother|sister|dog|cat|birthday|job|boss)\b/,
      /\b(is|am) (vegetarian|vegan|married|single|retired)\b/,
      /\bworks? (as|at)\b/,
      /\blives? in\b/,
    ],
  },
  {
    name: 'preference',
    weight: 0.3,
    patterns: [
      /\b(i|she|he|they)? ?(like|likes|love|loves|prefer|prefers|hate|hates|dislike|dislikes|enjoy|enjoys)\b/,
      /\bfavou?rite\b/,
      /\bcan'?t stand\b/,
      /\bdon'?t eat\b/,
      /\b(vegetarian|vegan)\b/,
    ],
  },
  {
    name: 'commitment_or_plan',
    weight: 0.3,
    patterns: [
      /\bi will\b/,
      /\bi'?ll\b/,
      /\bgoing to\b/,
      /\bplan(s|ning|ned)?\b/,
      /\bpromised?\b/,
      /\bdeadline\b/,
      /\bappointment\b/,
      /\bmeeting\b/,
      /\bgoal\b/,
      /\btraining for\b/,
      /\b(have|need) to\b/,
      /\btravel(s|ling|ing)? to\b/,
      /\bmarathon\b/,
      /\binterview\b/,
    ],
  },
  {
    name: 'date_or_time',
    weight: 0.25,
    patterns: [
      new RegExp(`\\b(${months})\\b`),
      new RegExp(`\\b(${weekdays})\\b`),
      /\b\d{1,2}(st|nd|rd|th)\b/,
      /\b\d{1,2}[/.-]\d{1,2}([/.-]\d{2,4})?\b/,
      /\b(19|20)\d{2}\b/,
      /\b(tomorrow|tonight|next (week|month|year))\b/,
      /\bat \d{1,2}(:\d{2})? ?(am|pm)\b/,
    ],
  },
] as const;

/** Tags a person gives memories that are worth more by themselves. */
export const weightyTags: Record<string, number> = {
  health: 0.3,
  preference: 0.15,
  goal: 0.15,
  plan: 0.15,
  fact: 0.15,
  constraint: 0.15,
  person: 0.15,
  relationship: 0.15,
};

const smallTalk =
  /^(ok(ay)?|k|thanks?( you)?|thx|lol|haha+|hi|hello|hey|cool|nice|great|sure|yes|no|yep|nope|good (morning|night)|bye)[.!? ]*$/;

export interface ImportanceComponents {
  base: number;
  /** The signals found, each with its weight. */
  signals: { name: string; weight: number }[];
  small_talk: boolean;
  /** Importance from the content alone, before reinforcement. */
  content_importance: number;
}

function normalise(text: string): string {
  return text.toLowerCase().replace(/[’‘]/g, "'").replace(/\s+/g, ' ').trim();
}

export function contentImportance(memory: {
  content: string;
  context?: string | null;
  tag?: string | null;
}): ImportanceComponents {
  const text = normalise(memory.content);
  const context = normalise(memory.context ?? '');
  const found: { name: string; weight: number }[] = [];
  for (const signal of signals) {
    // The content speaks for itself; the context (where it was said) only adds a date or a request.
    const inContent = signal.patterns.some((pattern) => pattern.test(text));
    const inContext =
      (signal.name === 'date_or_time' || signal.name === 'explicit_request') &&
      signal.patterns.some((p) => p.test(context));
    if (inContent || inContext) found.push({ name: signal.name, weight: signal.weight });
  }
  const tag = memory.tag ? normalise(memory.tag) : '';
  const tagWeight = weightyTags[tag];
  if (tagWeight !== undefined) found.push({ name: `tag:${tag}`, weight: tagWeight });

  const remaining = found.reduce((gap, signal) => gap * (1 - signal.weight), 1 - scoringModel.base);
  const isSmallTalk = found.length === 0 && (smallTalk.test(text) || text.split(' ').length < 3);
  const importance = (1 - remaining) * (isSmallTalk ? scoringModel.smallTalkFactor : 1);
  return { base: scoringModel.base, signals: found, small_talk: isSmallTalk, content_importance: round(importance) };
}

/** Importance after `mentions` later mentions. */
export function reinforce(importance: number, mentions: number): number {
  const n = Math.max(0, Math.floor(mentions));
  return round(1 - (1 - importance) * (1 - scoringModel.reinforcementPerMention) ** n);
}

/** Recency in (0, 1]: 1 now, halving about every 138 hours. */
export function recency(lastTouched: Date, now: Date = new Date()): number {
  const hours = Math.max(0, (now.getTime() - lastTouched.getTime()) / 3_600_000);
  return round(scoringModel.recencyDecayPerHour ** hours);
}

const stopWords = new Set(
  'a an and are as at be but by did do does for from had has have he her his how i if in is it its me my of on or our she so that the their them they this to was we were what when where which who why will with you your about into than then there these those can could would should just also very'.split(
    ' ',
  ),
);

/** Content words, lower-cased, with a light plural/-ing stemming so "runs" meets "run". */
export function keywords(text: string): string[] {
  const words = normalise(text)
    .replace(/[^a-z0-9' ]+/g, ' ')
    .split(' ');
  const out = new Set<string>();
  for (const raw of words) {
    const word = raw.replace(/'s$/, '').replace(/'/g, '');
    if (word.length < 3 || stopWords.has(word)) continue;
    out.add(word.replace(/(ing|ies|es|s)$/, (suffix) => (suffix === 'ies' ? 'y' : '')) || word);
  }
  return [...out];
}

/** Share of the query's keywords that the memory contains, in [0, 1]. */
export function relevance(
  query: string,
  memory: { content: string; context?: string | null; tag?: string | null },
): number {
  const wanted = keywords(query);
  if (wanted.length === 0) return 0;
  const have = new Set(keywords(`${memory.content} ${memory.context ?? ''} ${memory.tag ?? ''}`));
  return round(wanted.filter((word) => have.has(word)).length / wanted.length);
}

/** Whether a message mentions the memory again: at least half its keywords (two at least, when it has two). */
export function mentions(memoryContent: string, message: string): boolean {
  const wanted = keywords(memoryContent);
  if (wanted.length === 0) return false;
  const have = new Set(keywords(message));
  const hits = wanted.filter((word) => have.has(word)).length;
  return hits >= Math.min(wanted.length, Math.max(2, Math.ceil(wanted.length / 2)));
}

export interface MemoryScore {
  importance_score: number;
  components: ImportanceComponents & {
    mentions: number;
    reinforcement: number;
    recency?: number;
    relevance?: number;
  };
}

/** The whole model for one memory. */
export function scoreMemory(input: {
  content: string;
  context?: string | null;
  tag?: string | null;
  laterMessages?: string[];
  lastTouched?: Date;
  query?: string;
  now?: Date;
}): MemoryScore {
  const importance = contentImportance(input);
  const mentionCount = (input.laterMessages ?? []).filter((message) => mentions(input.content, message)).length;
  const reinforced = reinforce(importance.content_importance, mentionCount);
  return {
    importance_score: reinforced,
    components: {
      ...importance,
      mentions: mentionCount,
      reinforcement: round(reinforced - importance.content_importance),
      ...(input.lastTouched ? { recency: recency(input.lastTouched, input.now) } : {}),
      ...(input.query !== undefined ? { relevance: relevance(input.query, input) } : {}),
    },
  };
}

function round(value: number): number {
  return Math.min(1, Math.max(0, Math.round(value * 1e6) / 1e6));
}
