/**
 * The realtime half of the client: ONE channel on the client's one socket, carrying the user's
 * changes of the three tables, over either path (the option `realtime`):
 *
 *   postgres_changes  `virgil-sync-<user>` with one binding per table, `user_id=eq.<user>`
 *                     (what works on every project today);
 *   broadcast         the private per-user topic `virgil-sync-<user>` that `realtime.broadcast_changes`
 *                     feeds, events INSERT/UPDATE/DELETE (the platform's recommended path).
 *
 * The stream only reports: each change, each successful (re)subscribe, and each loss of the
 * subscription. Retrying with backoff and catching up are the client's (sync-client.ts).
 * Callbacks of a channel that has been replaced are ignored, so a late CLOSED of an old channel
 * never tears down the new one.
 */
import type { RealtimeChannel, SupabaseClient } from '@supabase/supabase-js';
import { fromBroadcast, fromPostgresChanges } from './remote-changes.ts';
import { type RemoteChange, syncTableNames } from './types.ts';

export type RealtimePath = 'postgres_changes' | 'broadcast';

export interface StreamHandlers {
  change(change: RemoteChange): void;
  subscribed(): void;
  lost(reason: string): void;
}

const leaveTimeoutMs = 2000;

export const userTopic = (userId: string) => `virgil-sync-${userId}`;

export class RealtimeStream {
  private channel: RealtimeChannel | undefined;
  private generation = 0;
  private removing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly supabase: SupabaseClient,
    private readonly userId: string,
    private readonly path: RealtimePath,
    private readonly handlers: StreamHandlers,
  ) {}

  get subscribed(): boolean {
    return this.channel?.state === 'joined';
  }

  /** Subscribes a fresh channel (after the previous one, if any, is fully removed). */
  async open(): Promise<void> {
    const generation = ++this.generation;
    await this.close(false);
    if (generation !== this.generation) return;
    const topic = userTopic(this.userId);
    let channel: RealtimeChannel;
    if (this.path === 'broadcast') {
      channel = this.supabase
        .channel(topic, { config: { private: true } })
        .on('broadcast', { event: '*' }, (message) => this.deliver(generation, fromBroadcast(message)));
    } else {
      channel = this.supabase.channel(topic);
      for (const table of syncTableNames) {
        channel = channel.on(
          'postgres_changes',
          { event: '*', schema: 'public', table, filter: `user_id=eq.${this.userId}` },
          (payload) => this.deliver(generation, fromPostgresChanges(payload as never)),
        );
      }
    }
    this.channel = channel;
    channel.subscribe((status, error) => {
      if (generation !== this.generation) return;
      if (status === 'SUBSCRIBED') this.handlers.subscribed();
      else this.handlers.lost(`${status}${error ? `: ${error.message}` : ''}`);
    });
  }

  /** Removes the channel; with `invalidate`, callbacks still in flight are ignored from now on. */
  async close(invalidate = true): Promise<void> {
    if (invalidate) this.generation++;
    const channel = this.channel;
    this.channel = undefined;
    // Leave with a short timeout (a channel the server refused may never be answered); phoenix
    // closes the channel on the reply or the timeout, which takes it off the client's list.
    if (channel) {
      this.removing = this.removing.then(async () => {
        await channel.unsubscribe(leaveTimeoutMs).catch(() => undefined);
        channel.teardown();
      });
    }
    await this.removing;
  }

  private deliver(generation: number, change: RemoteChange | undefined): void {
    if (generation !== this.generation || change === undefined) return;
    this.handlers.change(change);
  }
}
