/**
 * @module What `score-memory` does: the scoring model over text, or over one of the caller's
 * memories with the messages they wrote after it (reinforcement), storing the result as the user.
 */
import type { UserClaims } from './auth.ts';
import { asUser, type Sql } from './db.ts';
import { memoryNotFound } from './errors.ts';
import { scoreMemory, type MemoryScore } from './scoring.ts';

/** How many of the user's later messages are read to count mentions. */
export const mentionWindow = 500;
/**
 * How much of each later message is searched for a mention: its first 10,000 characters (as long
 * as a memory may be). Messages hold up to 100,000, and reading 500 whole ones was 50 MB into the
 * function (7-9 s, 275 MB resident locally; the platform's workers get 256 MB), for one request.
 */
export const mentionChars = 10_000;

export function scoreText(input: { content: string; context?: string | null; tag?: string | null; query?: string }) {
  return { stored: false, ...scoreMemory(input) };
}

export async function scoreStoredMemory(
  sql: Sql,
  claims: UserClaims,
  memoryId: string,
): Promise<{ memory_id: string; stored: boolean; version: number } & MemoryScore> {
  return asUser(sql, claims, async (tx) => {
    const [memory] = await tx<
      { content: string; context: string | null; tag: string | null; created_at: Date; updated_at: Date }[]
    >`
      select content, context, tag, created_at, updated_at from public.memories where id = ${memoryId} for update`;
    if (!memory) throw memoryNotFound();
    const messages = await tx<{ content: string }[]>`
      select left(content, ${mentionChars}) as content from public.messages
      where role = 'user' and "timestamp" > ${memory.created_at}
      order by "timestamp" desc limit ${mentionWindow}`;
    const score = scoreMemory({
      content: memory.content,
      context: memory.context,
      tag: memory.tag,
      laterMessages: messages.map((m) => m.content),
      lastTouched: memory.updated_at,
    });
    const [stored] = await tx<{ version: number }[]>`
      update public.memories set importance_score = ${score.importance_score}
      where id = ${memoryId} and importance_score is distinct from ${score.importance_score}
      returning version`;
    const version =
      stored?.version ??
      (await tx<{ version: number }[]>`select version from public.memories where id = ${memoryId}`)[0]!.version;
    return { memory_id: memoryId, stored: true, version: Number(version), ...score };
  });
}
