/**
 * callSync sorts failures by their shape and status, never by class: an app's own copy of
 * supabase-js (another install, another version) makes error objects of classes this package has
 * never seen. The server's error code is read from `{ error, message }`.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { describe, expect, it } from 'vitest';
import { callSync, SyncCallError } from './transport.ts';

/** An error as another copy of supabase-js makes it: same name and fields, a class of its own. */
class ForeignFunctionsError extends Error {
  constructor(
    name: string,
    readonly context: unknown,
  ) {
    super(`${name} from another copy`);
    this.name = name;
  }
}

const answering = (error: unknown) =>
  ({ functions: { invoke: async () => ({ data: null, error, response: undefined }) } }) as unknown as SupabaseClient;

const jsonResponse = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

async function failure(error: unknown): Promise<SyncCallError> {
  const thrown = await callSync(answering(error), { pull: { cursor: null } }).catch((caught: unknown) => caught);
  expect(thrown).toBeInstanceOf(SyncCallError);
  return thrown as SyncCallError;
}

describe('callSync', () => {
  it("refuses a 400 of another copy's FunctionsHttpError and reads the server's code", async () => {
    const error = await failure(
      new ForeignFunctionsError(
        'FunctionsHttpError',
        jsonResponse(400, { error: 'invalid_cursor', message: 'the cursor is not one this server gave out' }),
      ),
    );
    expect([error.kind, error.status, error.code]).toEqual(['refuse', 400, 'invalid_cursor']);
  });

  it('retries a 503 with the code, a 401 and a 429', async () => {
    for (const status of [503, 401, 429]) {
      const error = await failure(
        new ForeignFunctionsError(
          'FunctionsHttpError',
          jsonResponse(status, { error: 'service_unavailable', message: 'busy' }),
        ),
      );
      expect([error.kind, error.status]).toEqual(['retry', status]);
    }
  });

  it('retries a relay or fetch error, which may never have reached the function', async () => {
    for (const name of ['FunctionsRelayError', 'FunctionsFetchError']) {
      const error = await failure(new ForeignFunctionsError(name, jsonResponse(400, { error: 'invalid_request' })));
      expect([error.kind, error.code]).toEqual(['retry', null]);
    }
  });
});
