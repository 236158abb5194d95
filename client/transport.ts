/**
 * One call of the `sync` edge function through supabase-js (`functions.invoke`), with the answer
 * validated by the function's own zod schema and every failure sorted into what the client does
 * next:
 *
 *   retry    the network, a relay, a 5xx, 401 (a token about to be refreshed), 408, 429: the same
 *            items are sent again later, same change_ids, so nothing is written twice;
 *   refuse   any other 4xx: the server will never take this batch as it is (its code says why).
 */
import { FunctionsHttpError, type SupabaseClient } from '@supabase/supabase-js';
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
    if (error instanceof FunctionsHttpError) {
      const response = error.context as Response;
      const body = (await response.json().catch(() => ({}))) as { code?: string; message?: string };
      const code = body.code ?? null;
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
