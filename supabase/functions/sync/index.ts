/**
 * `sync`: a device's one door in and out. POST { push?: [...items], pull?: { cursor?, limit? } }
 * applies the device's changes (per-item results) and answers everything it missed since its
 * cursor. Protocol: docs/sync-protocol.md; shapes: ../_shared/sync-protocol.ts.
 *
 * Local invoke (after `npm run stack:start`):
 *   curl -i http://127.0.0.1:54321/functions/v1/sync -H "Authorization: Bearer <user access token>" \
 *     -H 'content-type: application/json' -d '{"pull": {}}'
 */
import { createTokenVerifier } from '../_shared/auth.ts';
import { connect } from '../_shared/db.ts';
import { readFunctionEnv } from '../_shared/env.ts';
import { batchTooLarge, invalidRequest, unstorableText } from '../_shared/errors.ts';
import { corsHeaders, errorResponse, json, readJson, requireMethod, ServerTiming } from '../_shared/http.ts';
import { findUnstorableText } from '../_shared/storable-text.ts';
import { syncLimits, syncRequest } from '../_shared/sync-protocol.ts';
import { sync } from '../_shared/sync-service.ts';

const env = readFunctionEnv((name) => Deno.env.get(name));
const verifyUser = createTokenVerifier(env.jwks);
const sql = connect(env.dbUrl);
const log = (message: string, error: unknown) => console.error(`[sync] ${message}:`, error);

async function handle(request: Request): Promise<Response> {
  if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: corsHeaders });
  requireMethod(request, ['POST']);
  const timing = new ServerTiming();
  const claims = await verifyUser(request.headers.get('authorization'));
  const body = await readJson(request, syncLimits.maxBodyBytes, syncLimits.maxJsonDepth);
  // An oversize batch is a 413, told apart from a malformed one before the item-by-item check.
  const pushed = (body as { push?: unknown } | null)?.push;
  if (Array.isArray(pushed) && pushed.length > syncLimits.maxItems)
    throw batchTooLarge(pushed.length, syncLimits.maxItems);
  // Text PostgreSQL cannot hold is the client's mistake: a 400 naming the field, before any write.
  const unstorable = findUnstorableText(body);
  if (unstorable) throw unstorableText(unstorable.path, unstorable.problem);
  const parsed = syncRequest.safeParse(body);
  if (!parsed.success) throw invalidRequest(parsed.error.issues);
  timing.mark('validate');
  const answer = await sync(sql, claims, parsed.data, timing);
  return json(answer, 200, { 'server-timing': timing.header() });
}

Deno.serve((request) => handle(request).catch((error) => errorResponse(error, log)));
