/**
 * Device A's writes, each one transaction, each identified by a sequence number carried in the row
 * (`content = h:<run>:<seq>`, `local_id = h-<run>-<seq>`):
 *
 *   SQL   as the user (role authenticated with the user's claims, exactly what PostgREST does)
 *         through postgres.js; one round trip per write (a multi-statement simple query is one
 *         implicit transaction). The commit time is taken right after COMMIT returns to the writer:
 *         the latest moment the commit can have happened, so the measured delay is never flattered
 *         (a receipt that arrives before the writer has seen its COMMIT reply counts as 0 ms, and
 *         those are counted).
 *   sync  through the `sync` function (push of one upsert). Its COMMIT happens inside the function,
 *         so the delay is measured from the payload's `commit_timestamp` (Postgres' commit time,
 *         millisecond precision) against the receipt's wall clock.
 */
import postgres, { type Sql } from 'postgres';
import type { HarnessUser } from './devices.ts';
import { isAnswer } from '../../stack/lib/pg-errors.ts';
import { literal } from '../../stack/lib/postgres.ts';

export interface Write {
  seq: number;
  localId: string;
  content: string;
  writer: number;
  startedAt: number;
  /** An UPDATE of an earlier row (its content becomes this write's marker). */
  isUpdate?: boolean;
  committedAt?: number;
  failed?: string;
  /** A failure after which the commit may or may not have happened (resolved later by lookup). */
  ambiguous?: boolean;
}

export class SqlWriter {
  private readonly pools: Sql[];
  private next = 0;

  constructor(
    dbUrl: string,
    private readonly user: HarnessUser,
    connections: number,
  ) {
    this.pools = Array.from({ length: connections }, () =>
      postgres(dbUrl, { max: 1, onnotice: () => undefined, connect_timeout: 5 }),
    );
  }

  /** Inserts (or, with `updateOf`, updates) one memory as the user. */
  async write(write: Write, run: string, updateOf?: string): Promise<void> {
    const writer = this.next++ % this.pools.length;
    write.writer = writer;
    const claims = JSON.stringify({
      sub: this.user.id,
      role: 'authenticated',
      aud: 'authenticated',
      email: this.user.email,
    });
    const change = updateOf
      ? `update public.memories set content = ${literal(write.content)} where local_id = ${literal(updateOf)} returning 1`
      : `insert into public.memories (content, context, local_id) values (${literal(write.content)}, ${literal(run)}, ${literal(write.localId)}) returning 1`;
    const statement = `with changed as (${change}) select count(*)::int as changed from changed`;
    write.startedAt = performance.now();
    try {
      const results = (await this.pools[writer]!.unsafe(
        `select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${literal(claims)}, true); ${statement}`,
      )) as unknown as unknown[];
      const at = performance.now();
      const rows = results.flat() as { changed?: number }[];
      if (rows.find((row) => row.changed !== undefined)?.changed !== 1) {
        write.failed = 'the statement changed no row';
        return;
      }
      write.committedAt = at;
    } catch (error) {
      write.failed = (error as Error).message;
      // PostgreSQL refused the statement: nothing was written. A lost connection may have lost the
      // COMMIT reply, not the commit.
      write.ambiguous = !isAnswer(error);
    }
  }

  /** Inserts one memory per write in ONE transaction (throughput phases: many changes per commit). */
  async writeBatch(writes: Write[], run: string): Promise<void> {
    const writer = this.next++ % this.pools.length;
    const claims = JSON.stringify({
      sub: this.user.id,
      role: 'authenticated',
      aud: 'authenticated',
      email: this.user.email,
    });
    const values = writes
      .map((write) => `(${literal(write.content)}, ${literal(run)}, ${literal(write.localId)})`)
      .join(', ');
    const startedAt = performance.now();
    for (const write of writes) {
      write.writer = writer;
      write.startedAt = startedAt;
    }
    try {
      await this.pools[writer]!.unsafe(
        `select set_config('role', 'authenticated', true), set_config('request.jwt.claims', ${literal(claims)}, true); ` +
          `insert into public.memories (content, context, local_id) values ${values}`,
      );
      const at = performance.now();
      for (const write of writes) write.committedAt = at;
    } catch (error) {
      for (const write of writes) write.failed = (error as Error).message;
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((pool) => pool.end({ timeout: 2 })));
  }
}

/** The sync function, called as the user: push one memory, or pull changes since a cursor. */
export class SyncClient {
  constructor(
    private readonly url: string,
    private readonly anonKey: string,
    private readonly user: HarnessUser,
  ) {}

  private async call(body: unknown): Promise<Record<string, any>> {
    const response = await fetch(`${this.url}/functions/v1/sync`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.user.token}`, apikey: this.anonKey, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`sync answered ${response.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as Record<string, any>;
  }

  /** Whether the function is deployed here. */
  async available(): Promise<boolean> {
    try {
      await this.call({ pull: { limit: 1 } });
      return true;
    } catch {
      return false;
    }
  }

  async push(write: Write): Promise<void> {
    write.startedAt = performance.now();
    try {
      const answer = await this.call({
        push: [
          {
            table: 'memories',
            op: 'upsert',
            local_id: write.localId,
            change_id: crypto.randomUUID(),
            client_updated_at: new Date().toISOString(),
            fields: { content: write.content },
          },
        ],
      });
      const status = answer.push?.results?.[0]?.status;
      if (status !== 'applied') throw new Error(`push was ${status}: ${JSON.stringify(answer.push?.results?.[0])}`);
      write.committedAt = performance.now();
    } catch (error) {
      write.failed = (error as Error).message;
    }
  }

  /** Pulls every change after `cursor` (all pages); returns the rows and the new cursor. */
  async pullAll(cursor: string | null): Promise<{
    rows: { table: string; op: string; row: Record<string, unknown> | null; local_id: string | null }[];
    cursor: string | null;
  }> {
    const rows: { table: string; op: string; row: Record<string, unknown> | null; local_id: string | null }[] = [];
    let next = cursor;
    for (;;) {
      const answer = await this.call({ pull: { cursor: next, limit: 1000 } });
      rows.push(...(answer.pull.changes as typeof rows));
      next = answer.pull.cursor as string;
      if (!answer.pull.has_more) return { rows, cursor: next };
    }
  }
}
