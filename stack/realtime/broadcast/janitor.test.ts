import { describe, expect, it } from 'vitest';
import { partitionName, plan } from './janitor.ts';

describe('janitor plan', () => {
  it('keeps partitions from yesterday to three days ahead, and days within the last 72 hours', () => {
    const now = Date.parse('2026-11-30T10:00:00Z');
    expect(plan(now)).toEqual({
      create: ['2026-11-29', '2026-11-30', '2026-12-01', '2026-12-02', '2026-12-03'],
      keepFrom: '2026-11-27',
    });
    expect(partitionName('2026-12-01')).toBe('messages_2026_12_01');
  });
});
