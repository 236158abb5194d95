/**
 * One call of the `sync` edge function through supabase-js (`functions.invoke`), with the answer
 * validated by the function's own zod schema and every failure sorted into what the client does
 * next:
 *
 *   retry    the network, a relay, a 5xx, 401 (a token about to be refreshed), 408, 429: the same
 *            items are sent again later, same change_ids, so nothing is written twice;
 *   refuse   any other 4xx: the server will never take this batch as it is (its code says why).
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { type SyncRequest, type SyncResponse, syncResponse } from '../supabase/functions/_shared/sync-protocol.ts';

export class SyncCallError extends Error {
  constructor(
    message: string,
    readonly kind: 'retry' | 'refuse',
    readonly status: number | null,
    readonly code: string | null,
  ) {
    super(message);
    this.name = 'SyncCallError';
  }
}

/**
 * The HTTP answer behind a supabase-js functions error, read by shape: the app's copy of
 * supabase-js may not be this package's, so `instanceof` would not recognise its classes.
 * Only a FunctionsHttpError is the function's own answer; a relay or fetch error may not have
 * reached it.
 */
function functionAnswerOf(error: unknown): Response | undefined {
  const candidate = error as { name?: unknown; context?: unknown } | null;
  const context = candidate?.context as Partial<Response> | undefined;
  if (
    candidate?.name !== 'FunctionsHttpError' ||
    typeof context?.status !== 'number' ||
    typeof context.json !== 'function'
  )
    return undefined;
  return context as Response;
}

const retryable = (status: number) => status >= 500 || status === 401 || status === 408 || status === 429;

export async function callSync(
  supabase: SupabaseClient,
  request: SyncRequest,
  functionName = 'sync',
): Promise<SyncResponse> {
  let answer: Awaited<ReturnType<SupabaseClient['functions']['invoke']>>;
  try {
    answer = await supabase.functions.invoke(functionName, { body: request as Record<string, unknown> });
  } catch (error) {
    throw new SyncCallError(`sync call failed: ${(error as Error).message}`, 'retry', null, null);
  }
  const { data, error } = answer;
  if (error) {
    const response = functionAnswerOf(error);
    if (response) {
      // The functions answer `{ error: <code>, message }` (supabase/functions/_shared/errors.ts).
      const body = (await response.json().catch(() => ({}))) as { error?: unknown; code?: unknown; message?: unknown };
      const named = typeof body.error === 'string' ? body.error : typeof body.code === 'string' ? body.code : null;
      const code = named;
      throw new SyncCallError(
        `sync answered ${response.status} ${code ?? ''} ${body.message ?? ''}`.trim(),
        retryable(response.status) ? 'retry' : 'refuse',
        response.status,
        code,
      );
    }
    // FunctionsFetchError, FunctionsRelayError: the request may or may not have arrived.
    throw new SyncCallError(`sync call failed: ${(error as Error).message}`, 'retry', null, null);
  }
  const parsed = syncResponse.safeParse(data);
  if (!parsed.success)
    throw new SyncCallError(
      `sync answered an unexpected shape: ${parsed.error.message.slice(0, 300)}`,
      'retry',
      200,
      null,
    );
  return parsed.data;
}
