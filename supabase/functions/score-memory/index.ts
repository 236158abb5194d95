/**
 * `score-memory`: a memory's importance_score and the components behind it (docs/memory-scoring.md).
 * POST { memory_id } scores one of the caller's memories, counting the later messages that mention it again, and stores the score on it; POST { content, context?, tag?, query? }
 * scores text without storing anything.
 *
 * Local invoke (after `npm run stack:start`):
 *   curl -i http://127.0.0.1:54321/functions/v1/score-memory -H "Authorization: Bearer <user access token>" \
 *     -H 'content-type: application/json' -d '{"content": "Remember: I am allergic to peanuts"}'
 */
import { createTokenVerifier } from '../_shared/auth.ts';
import { connect } from '../_shared/db.ts';
import { readFunctionEnv } from '../_shared/env.ts';
import { invalidRequest, unstorableText } from '../_shared/errors.ts';
import { corsHeaders, errorResponse, json, readJson, requireMethod } from '../_shared/http.ts';
import { scoreMemoryLimits, scoreMemoryRequest } from '../_shared/score-memory-protocol.ts';
import { scoreStoredMemory, scoreText } from '../_shared/score-memory-service.ts';
import { findUnstorableText } from '../_shared/storable-text.ts';

const env = readFunctionEnv((name) => Deno.env.get(name));
const verifyUser = createTokenVerifier(env.jwks);
const sql = connect(env.dbUrl);
const log = (message: string, error: unknown) => console.error(`[score-memory] ${message}:`, error);

async function handle(request: Request): Promise<Response> {
  if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: corsHeaders });
  requireMethod(request, ['POST']);
  const claims = await verifyUser(request.headers.get('authorization'));
  const body = await readJson(request, scoreMemoryLimits.maxBodyBytes, scoreMemoryLimits.maxJsonDepth);
  const unstorable = findUnstorableText(body);
  if (unstorable) throw unstorableText(unstorable.path, unstorable.problem);
  const parsed = scoreMemoryRequest.safeParse(body);
  if (!parsed.success) throw invalidRequest(parsed.error.issues);
  const input = parsed.data;
  return json('memory_id' in input ? await scoreStoredMemory(sql, claims, input.memory_id) : scoreText(input));
}

Deno.serve((request) => handle(request).catch((error) => errorResponse(error, log)));
