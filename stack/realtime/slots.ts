/**
 * The permanent logical replication slots the realtime server streams from (one for Postgres
 * Changes, one for Broadcast from Database): made when missing, taken over from a walsender an
 * earlier gateway left behind, made anew when the server removed their WAL, and let go of on close.
 */
import postgres from 'postgres';
import { sleep } from '../lib/sleep.ts';

/**
 * Creates the slot unless it exists. A walsender of an earlier gateway that died without closing
 * its socket is ended, so ours can take the slot. A slot whose WAL the server has already removed
 * (the cluster caps what a slot may hold back with max_slot_wal_keep_size, so a database left
 * running without the gateway cannot fill the disk) can never stream again: it is made anew, and
 * what happened in between reaches devices through sync's pull (or broadcast replay), as after any gap.
 */
export async function ensureSlot(url: string, slot: string, log: (line: string) => void): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined, connect_timeout: 5 });
  try {
    const [found] = await sql<{ active_pid: number | null; wal_status: string | null }[]>`
      select active_pid, wal_status from pg_catalog.pg_replication_slots where slot_name = ${slot}`;
    if (found?.active_pid != null) {
      await sql`select pg_catalog.pg_terminate_backend(${found.active_pid})`;
      await sleep(200);
    }
    if (found?.wal_status === 'lost') {
      await sql`select pg_catalog.pg_drop_replication_slot(${slot})`;
      log(
        `[realtime] replication slot ${slot} had lost its WAL; recreating it (devices catch up through sync's pull or replay)`,
      );
    }
    if (!found || found.wal_status === 'lost') {
      await sql`select pg_catalog.pg_create_logical_replication_slot(${slot}, 'wal2json')`;
      log(`[realtime] created replication slot ${slot}`);
    }
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/**
 * Waits (up to 2 s) until the server has let go of a slot: the walsender exits a moment after our
 * socket closes, and whoever comes next (a restarted server, a test dropping the slot) needs it free.
 */
export async function slotReleased(url: string, slot: string): Promise<void> {
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => undefined });
  try {
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline) {
      const rows =
        await sql`select 1 from pg_catalog.pg_replication_slots where slot_name = ${slot} and active_pid is not null`;
      if (rows.length === 0) return;
      await sleep(25);
    }
  } catch {
    // The database is going away: nothing holds the slot for long then.
  } finally {
    await sql.end({ timeout: 1 }).catch(() => undefined);
  }
}
