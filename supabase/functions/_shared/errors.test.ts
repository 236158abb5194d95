import { describe, expect, it } from 'vitest';
import { answerFor, classifyDatabaseError, HttpError, invalidCursor, retryAfterSeconds } from './errors.ts';
import { errorResponse } from './http.ts';

const failure = (code: string) => Object.assign(new Error(`failed with ${code}`), { code });

describe('classifying database errors', () => {
  it.each([
    ['57014', 'busy'], // statement_timeout (or a cancel)
    ['55P03', 'busy'], // lock_timeout
    ['53300', 'busy'], // too many connections
    ['53200', 'busy'], // out of memory
    ['40P01', 'cancelled'],
    ['40001', 'cancelled'],
    ['57P01', 'cancelled'],
    ['08006', 'cancelled'],
    ['CONNECTION_CLOSED', 'cancelled'],
    ['22P02', 'invalid_value'],
    ['22003', 'invalid_value'],
    ['23505', undefined],
    ['42P01', undefined],
    ['XX000', undefined],
  ])('%s is %s', (code, kind) => {
    expect(classifyDatabaseError(failure(code))).toBe(kind);
  });

  it('leaves errors without a code, and HttpErrors, alone', () => {
    expect(classifyDatabaseError(new Error('plain'))).toBeUndefined();
    expect(classifyDatabaseError(null)).toBeUndefined();
    expect(classifyDatabaseError(invalidCursor())).toBeUndefined();
  });

  it('answers a statement timeout or a lock wait with a retryable 503 and Retry-After', () => {
    for (const code of ['57014', '55P03']) {
      const answer = answerFor(failure(code))!;
      expect(answer.status).toBe(503);
      expect(answer.code).toBe('service_unavailable');
      expect(answer.headers['retry-after']).toBe(String(retryAfterSeconds.busy));
    }
    expect(answerFor(failure('40P01'))!.headers['retry-after']).toBe(String(retryAfterSeconds.cancelled));
  });

  it('answers a value the database could not read as the caller says, else invalid_request', () => {
    expect(answerFor(failure('22P02'), invalidCursor)!.code).toBe('invalid_cursor');
    expect(answerFor(failure('22P02'))).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(answerFor(failure('23505'))).toBeUndefined();
  });

  it('is what errorResponse answers with: 503 and Retry-After, never a 500', async () => {
    const logged: unknown[] = [];
    const response = errorResponse(failure('57014'), (_message, error) => logged.push(error));
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe(String(retryAfterSeconds.busy));
    expect(((await response.json()) as { error: string }).error).toBe('service_unavailable');
    expect(logged).toHaveLength(1);
    expect(errorResponse(new HttpError('invalid_cursor', 'x'), () => {}).status).toBe(400);
  });
});
