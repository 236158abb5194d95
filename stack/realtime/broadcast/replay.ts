/**
 * Broadcast Replay (`config.broadcast.replay: { since, limit }`), as the platform serves it
 * (supabase/realtime lib/realtime/messages.ex and realtime_channel.ex): on a private channel whose
 * subscriber may read broadcasts, the newest `limit` private broadcasts of the topic inserted at or
 * after `since` (Unix milliseconds) and at most a minute ahead, oldest first. `limit` defaults to
 * 25 and is clamped to 1..25; `since` is required. Each is pushed after the join reply as a JSON
 * broadcast with `meta: { replayed: true, id }`, and the same ids arriving live are not sent again.
 * Binary messages are replayed only to vsn 2.0.0 sockets, as on the platform.
 */
import type { Sql } from 'postgres';
import { realtimeError } from '../errors.ts';

export const REPLAY_HARD_LIMIT = 25;

export interface ReplayRequest {
  since: number;
  limit: number;
}

export interface ReplayedMessage {
  id: string;
  event: string;
  payload: unknown;
  binary?: Uint8Array;
}

/** The replay asked for in the join config, if any; throws the platform's join errors. */
export function replayRequest(
  config: { broadcast?: { replay?: unknown } },
  isPrivate: boolean,
): ReplayRequest | undefined {
  const replay = config.broadcast?.replay;
  if (replay === undefined) return undefined;
  if (!isPrivate) throw realtimeError('UnableToReplayMessages', 'Replay is not allowed for public channels');
  const { since, limit } = (typeof replay === 'object' && replay !== null ? replay : {}) as {
    since?: unknown;
    limit?: unknown;
  };
  const requested = limit ?? REPLAY_HARD_LIMIT;
  if (!Number.isInteger(since) || !Number.isInteger(requested) || (since as number) < 0) {
    throw realtimeError('UnableToReplayMessages', 'Replay params are not valid');
  }
  return { since: since as number, limit: Math.max(Math.min(requested as number, REPLAY_HARD_LIMIT), 1) };
}

export async function fetchReplay(sql: Sql, topic: string, request: ReplayRequest): Promise<ReplayedMessage[]> {
  try {
    const rows = await sql<{ id: string; event: string | null; payload: unknown; binary_payload: Buffer | null }[]>`
      select id, event, payload, binary_payload
        from realtime.messages
       where topic = ${topic} and private is true and extension = 'broadcast'
         and inserted_at >= (to_timestamp(${request.since / 1000}) at time zone 'utc')
         and inserted_at < (now() at time zone 'utc') + interval '1 minute'
       order by inserted_at desc
       limit ${request.limit}`;
    return rows.reverse().map((row) => {
      const message: ReplayedMessage = { id: row.id, event: row.event ?? '', payload: row.payload };
      if (row.binary_payload) message.binary = new Uint8Array(row.binary_payload);
      return message;
    });
  } catch {
    throw realtimeError('UnableToReplayMessages', 'Realtime was unable to replay messages');
  }
}
