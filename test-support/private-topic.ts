/**
 * Helpers of the private channel tests: the sync topic of a user, the reason a join is refused
 * with, the system message a channel is closed with, and a broadcast collector.
 */
import type { RealtimeChannel } from '@supabase/supabase-js';
import WebSocket from 'ws';
import type { LocalUser } from './users.ts';
import { env } from './realtime.ts';

export const syncTopic = (user: LocalUser) => `virgil-sync-${user.id}`;

/** Subscribes and resolves with the join error's reason (rejects if the join succeeds). */
export function joinError(channel: RealtimeChannel, deadlineMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${channel.topic}: no join error within ${deadlineMs} ms`)),
      deadlineMs,
    );
    channel.subscribe((status, error) => {
      if (status === 'SUBSCRIBED') {
        clearTimeout(timer);
        reject(new Error(`${channel.topic} was joined`));
      } else if (status === 'CHANNEL_ERROR') {
        clearTimeout(timer);
        void channel.unsubscribe();
        resolve(error?.message ?? '');
      }
    });
  });
}

/** Resolves with the message of the server's `system` error that ends the channel, or 'still open'. */
export function closedWith(channel: RealtimeChannel, deadlineMs = 10_000): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('still open'), deadlineMs);
    channel.on('system', {}, (payload: { status?: string; message?: string }) => {
      if (payload.status === 'error') {
        clearTimeout(timer);
        resolve(payload.message ?? '');
      }
    });
  });
}

export interface Received {
  event: string;
  payload: Record<string, unknown>;
  meta?: { id?: string; replayed?: boolean };
}

/**
 * Joins over a raw socket (vsn 2.0.0) and resolves with the `phx_reply` payload: for what the real
 * client refuses to send itself (e.g. replay on a public channel).
 */
export async function rawJoin(
  topic: string,
  payload: Record<string, unknown>,
): Promise<{ status: string; response: { reason?: string } }> {
  const ws = new WebSocket(
    `${env.apiUrl().replace(/^http/, 'ws')}/realtime/v1/websocket?apikey=${env.anonKey()}&vsn=2.0.0`,
  );
  try {
    await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
    const reply = new Promise<{ status: string; response: { reason?: string } }>((resolve) =>
      ws.on('message', (data) => {
        const [, ref, , event, body] = JSON.parse(data.toString()) as [
          string,
          string,
          string,
          string,
          { status: string; response: { reason?: string } },
        ];
        if (event === 'phx_reply' && ref === '1') resolve(body);
      }),
    );
    ws.send(JSON.stringify(['1', '1', `realtime:${topic}`, 'phx_join', payload]));
    return await reply;
  } finally {
    ws.close();
  }
}
