import { describe, expect, it } from 'vitest';
import { backoffDelay, defaultBackoff } from './backoff.ts';

describe('backoffDelay', () => {
  it("doubles from the design document's 5 s, capped at the maximum", () => {
    const middle = () => 0.5; // no jitter either way
    expect([1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffDelay(attempt, defaultBackoff, middle))).toEqual([
      5000, 10_000, 20_000, 40_000, 60_000, 60_000, 60_000,
    ]);
  });

  it('spreads each delay by the jitter, both ways', () => {
    const options = { baseMs: 1000, maxMs: 10_000, jitter: 0.2 };
    expect(backoffDelay(1, options, () => 0)).toBe(800);
    expect(backoffDelay(1, options, () => 0.999999)).toBe(1200);
    expect(backoffDelay(4, options, () => 0)).toBe(6400);
    expect(backoffDelay(9, options, () => 0.999999)).toBe(12_000);
  });
});
