import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, envName, maxPayloadBytes, nestsDeeperThan, RateWindow, resolveLimits } from './limits.ts';

describe('resolveLimits', () => {
  it('has the self-hosted Realtime defaults', () => {
    expect(resolveLimits({})).toEqual(DEFAULT_LIMITS);
    expect(DEFAULT_LIMITS).toMatchObject({
      maxConcurrentUsers: 200,
      maxEventsPerSecond: 100,
      maxJoinsPerSecond: 100,
      maxChannelsPerClient: 100,
      maxBytesPerSecond: 100_000,
    });
    expect(maxPayloadBytes(DEFAULT_LIMITS)).toBe(3_000_500);
  });

  it('takes [realtime.limits] from config.toml, and the environment over it', () => {
    const limits = resolveLimits(
      { VIRGIL_REALTIME_MAX_EVENTS_PER_SECOND: '500' },
      { max_events_per_second: 250, max_concurrent_users: 1200 },
    );
    expect(limits.maxEventsPerSecond).toBe(500);
    expect(limits.maxConcurrentUsers).toBe(1200);
    expect(envName('maxPresenceKeys')).toBe('VIRGIL_REALTIME_MAX_PRESENCE_KEYS');
  });

  it('refuses values that are not positive integers', () => {
    expect(() => resolveLimits({ VIRGIL_REALTIME_MAX_JOINS_PER_SECOND: 'lots' })).toThrow(/positive integer/);
    expect(() => resolveLimits({}, { max_channels_per_client: 0 })).toThrow(/positive integer/);
    expect(() => resolveLimits({}, { max_channels_per_client: 1.5 })).toThrow(/positive integer/);
  });
});

describe('RateWindow', () => {
  it('admits `limit` units per window, decided and counted in one step', () => {
    let now = 0;
    const window = new RateWindow(3, 1000, () => now);
    expect([window.take(), window.take(), window.take(), window.take()]).toEqual([true, true, true, false]);
    now = 999;
    expect(window.take()).toBe(false);
    now = 1000;
    expect(window.take(3)).toBe(true);
    expect(window.take()).toBe(false);
    expect(new RateWindow(10, 1000, () => 0).take(11)).toBe(false);
  });

  it('tells whether a unit would pass without taking it', () => {
    let now = 0;
    const window = new RateWindow(2, 1000, () => now);
    expect(window.hasRoom()).toBe(true);
    expect(window.hasRoom()).toBe(true);
    window.take(2);
    expect(window.hasRoom()).toBe(false);
    now = 1000;
    expect(window.hasRoom()).toBe(true);
    expect([window.take(), window.take(), window.take()]).toEqual([true, true, false]);
  });
});

describe('nestsDeeperThan', () => {
  it('finds deep nesting without recursion', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    expect(nestsDeeperThan(deep)).toBe(true);
    expect(nestsDeeperThan({ a: [{ b: 1 }] }, 3)).toBe(false);
    expect(nestsDeeperThan({ a: [{ b: {} }] }, 3)).toBe(true);
  });
});
