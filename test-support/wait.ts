/** Polls `condition` until it holds, or fails after `timeoutMs` naming what was awaited. */
import { sleep } from '../stack/lib/sleep.ts';

export async function waitFor(
  condition: () => Promise<boolean> | boolean,
  options: { timeoutMs: number; what: string; everyMs?: number },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}`);
    await sleep(options.everyMs ?? 50);
  }
}
