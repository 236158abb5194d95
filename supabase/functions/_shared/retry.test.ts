import { describe, expect, it } from 'vitest';
import { HttpError } from './errors.ts';
import { isTransient, retryPolicy, withRetries } from './retry.ts';

const failure = (code: string) => Object.assign(new Error(code), { code });
const noPause = { sleep: async () => {} };

/** Work that fails with the given codes, in order, then answers 'done'. */
function flaky(codes: string[]) {
  let calls = 0;
  return {
    work: async () => {
      calls += 1;
      const code = codes[calls - 1];
      if (code) throw failure(code);
      return 'done';
    },
    calls: () => calls,
  };
}

describe('withRetries', () => {
  it('runs a transaction the database cancelled (deadlock, serialization, lost connection) again', async () => {
    const run = flaky(['40P01', '40001', 'CONNECTION_CLOSED', '57P01']);
    expect(await withRetries(run.work, noPause)).toBe('done');
    expect(run.calls()).toBe(5);
  });

  it('gives up after the bounded number of attempts with a 503 that says when to retry', async () => {
    const run = flaky(Array.from({ length: 10 }, () => '40P01'));
    const error = await withRetries(run.work, noPause).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).status).toBe(503);
    expect((error as HttpError).code).toBe('service_unavailable');
    expect((error as HttpError).headers['retry-after']).toBe(String(retryPolicy.retryAfterSeconds));
    expect(run.calls()).toBe(retryPolicy.attempts);
  });

  it('never retries anything else', async () => {
    const run = flaky(['23505']);
    await expect(withRetries(run.work, noPause)).rejects.toMatchObject({ code: '23505' });
    expect(run.calls()).toBe(1);
    expect(isTransient(new Error('plain'))).toBe(false);
  });
});
