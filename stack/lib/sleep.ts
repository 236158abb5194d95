/** Resolves after `ms` milliseconds: for backoff and pacing, never in place of waiting for a condition. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
