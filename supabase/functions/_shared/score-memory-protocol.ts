/**
 * @module The `score-memory` request, shared by the function and the tests.
 */
import { z } from 'zod';

export const scoreMemoryLimits = {
  /** Bytes per request body. More is answered 413 payload_too_large. */
  maxBodyBytes: 256 * 1024,
  /** The request is one flat object. Deeper nesting is 400 json_too_deep, before anything walks it. */
  maxJsonDepth: 4,
} as const;

export const scoreMemoryRequest = z.union([
  z.strictObject({ memory_id: z.uuid() }),
  z.strictObject({
    content: z.string().min(1).max(10_000),
    context: z.string().max(10_000).nullable().optional(),
    tag: z.string().min(1).max(64).nullable().optional(),
    /** Also say how relevant the memory is to this query. */
    query: z.string().max(1000).optional(),
  }),
]);
export type ScoreMemoryRequest = z.infer<typeof scoreMemoryRequest>;
