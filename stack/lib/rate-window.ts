/**
 * A fixed window of `limit` units per `windowMs`, decided and counted in one step, so a burst cannot
 * pass it (nothing awaits between the check and the count).
 */
export class RateWindow {
  private windowStart = 0;
  private used = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  take(units = 1): boolean {
    this.roll();
    if (this.used + units > this.limit) return false;
    this.used += units;
    return true;
  }

  /** Whether one more unit would pass now, without taking it: lets a refusal come before any work. */
  hasRoom(): boolean {
    this.roll();
    return this.used < this.limit;
  }

  private roll(): void {
    const now = this.now();
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.used = 0;
    }
  }
}

/** One window per key (e.g. per client IP); idle keys are forgotten once their window has passed. */
export class KeyedRateWindows {
  private readonly windows = new Map<string, { window: RateWindow; touched: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  take(key: string): boolean {
    const now = this.now();
    if (this.windows.size > 10_000) {
      for (const [k, entry] of this.windows) if (now - entry.touched >= this.windowMs) this.windows.delete(k);
    }
    let entry = this.windows.get(key);
    if (!entry)
      this.windows.set(key, (entry = { window: new RateWindow(this.limit, this.windowMs, this.now), touched: now }));
    entry.touched = now;
    return entry.window.take();
  }
}
