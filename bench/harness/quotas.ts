/**
 * The realtime quotas a harness run needs (stack/realtime/limits.ts). The crowd opens one socket
 * per user, past the default of 200 concurrent users, so it raises `max_concurrent_users`
 * explicitly: on the local stack the gateway is restarted with VIRGIL_REALTIME_MAX_CONCURRENT_USERS
 * when the running server enforces less. The values in force are printed either way, so that every
 * report says what it ran with.
 */
import { startStack, stopServices } from '../../stack/stack.ts';
import { describeLimits, envName, publishedLimits, type RealtimeLimits } from '../../stack/realtime/limits.ts';
import type { HarnessOptions } from './options.ts';

/** The quotas the run needs beyond the defaults: the crowd's sockets plus the three devices and slack. */
export function neededQuotas(options: HarnessOptions): Partial<RealtimeLimits> {
  return options.sockets > 0 ? { maxConcurrentUsers: options.sockets + 64 } : {};
}

export async function ensureQuotas(
  options: HarnessOptions,
  log: (line: string) => void,
): Promise<RealtimeLimits | undefined> {
  const needed = neededQuotas(options);
  const short = (limits: RealtimeLimits | undefined) =>
    (Object.entries(needed) as [keyof RealtimeLimits, number][]).filter(
      ([name, value]) => limits === undefined || limits[name] < value,
    );
  let running = options.mode === 'local' ? publishedLimits(options.config.stackDir) : undefined;
  if (options.mode === 'local' && short(running).length > 0) {
    for (const [name, value] of short(running)) process.env[envName(name)] = String(value);
    log(
      `raising realtime quotas for this run: ${short(running)
        .map(([name, value]) => `${envName(name)}=${value}`)
        .join(' ')} (gateway restart)`,
    );
    await stopServices(options.config);
    await startStack(options.config, log);
    running = publishedLimits(options.config.stackDir);
  }
  if (running) log(`realtime quotas in force: ${describeLimits(running)}`);
  else log(`realtime quotas of the remote server are unknown here; this run needs ${JSON.stringify(needed)}`);
  return running;
}
