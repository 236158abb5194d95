/**
 * The device client: a local store with a durable outbox, kept in step with the server through one
 * realtime channel and the `sync` function, as one stream.
 *
 *   writes     applied to the store at once and queued; rapid writes are batched into one push
 *              (after `batchDelayMs`); every push also pulls from the stored cursor, so the
 *              device gets its own rows back with their server versions in the same answer;
 *   results    applied/unchanged take the server's id and version, conflict and rejected roll the
 *              row back and are reported (`rollback` event); a failed call is retried with backoff,
 *              the same items with the same change_ids, so nothing is written twice;
 *   realtime   every subscribe and resubscribe is followed by a pull from the stored cursor
 *              (catch-up), and only then is the state `connected`; events and pulled changes are
 *              merged by table, id and version (store.ts);
 *   state      `connected | disconnected | reconnecting`, an observable value; a lost subscription
 *              is retried after 5 s, 10 s, 20 s … (capped, jittered; backoff.ts);
 *   auth       a token refresh (supabase-js onAuthStateChange, or `refreshAuth()` for clients that
 *              use the `accessToken` option) is handed to the realtime socket at once, and a
 *              subscription that was lost to an expired token is retried right away.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { findUnstorableText } from '../supabase/functions/_shared/storable-text.ts';
import { type PushResult, type SyncItem, syncItem, syncLimits } from '../supabase/functions/_shared/sync-protocol.ts';
import { backoffDelay, type BackoffOptions, defaultBackoff } from './backoff.ts';
import { Emitter } from './emitter.ts';
import { Observable } from './observable.ts';
import { fromPull } from './remote-changes.ts';
import { type ClientStorage, MemoryStorage } from './storage.ts';
import { LocalStore, type MergeOutcome, type Rollback } from './store.ts';
import { type RealtimePath, RealtimeStream } from './stream.ts';
import { SyncCallError, callSync } from './transport.ts';
import type { ConnectionState, OutboxItem, RemoteChange, SyncTable } from './types.ts';

/** A write holding text PostgreSQL cannot store (a NUL character, a lone surrogate); nothing was queued. */
export class UnstorableTextError extends Error {
  readonly code = 'unstorable_text';
  constructor(
    readonly path: (string | number)[],
    readonly problem: string,
  ) {
    super(`${path.join('.')} holds text PostgreSQL cannot store (${problem}); the write was not queued`);
    this.name = 'UnstorableTextError';
  }
}

export interface SyncClientOptions {
  supabase: SupabaseClient;
  /** The signed-in user: the realtime filter (or private topic) is theirs. */
  userId: string;
  /** Where the outbox, rows and cursor survive a restart. Default: in memory. */
  storage?: ClientStorage;
  /** The realtime path. Default `postgres_changes`. */
  realtime?: RealtimePath;
  /** Reconnect and retry schedule. Default 5 s doubling to 60 s, ±20 %. */
  backoff?: Partial<BackoffOptions>;
  /** How long writes are collected before one push. Default 20 ms. */
  batchDelayMs?: number;
  /** Items per push (at most sync's 1000). Default 500. */
  maxBatchItems?: number;
  /** Changes per pull page. Default 1000. */
  pullLimit?: number;
  /**
   * While connected, pull at least this often (ms), so the stored cursor stays recent and a
   * catch-up after a drop re-reads little of what realtime already delivered. Default 60 s.
   */
  pullEveryMs?: number;
  /** Start online (default) or offline. */
  online?: boolean;
  /** Follow the browser's `online`/`offline` events when there are any. Default true. */
  followNetwork?: boolean;
  /** Source of jitter (tests make it fixed). */
  random?: () => number;
}

export interface SyncClientEvents {
  /** A queued edit the server did not take: the row is back to the server's; `reason` says why. */
  rollback: (rollback: Rollback) => void;
  /** A change from realtime or pull, and what merging it did. */
  change: (change: RemoteChange, outcome: MergeOutcome) => void;
  /** A retry was scheduled: of the subscription (`connect`) or of a sync call (`sync`). */
  retry: (retry: { what: 'connect' | 'sync'; attempt: number; delayMs: number; reason: string }) => void;
  /** A push was answered: the items sent and sync's result for each. */
  pushed: (batch: readonly OutboxItem[], results: readonly PushResult[]) => void;
  /** Something went wrong that the client handles by retrying; for logs. */
  error: (error: Error) => void;
}

/** What the app gives for a write: the item without the bookkeeping the client adds. */
export type WriteInput = Omit<SyncItem, 'change_id' | 'client_updated_at' | 'base_version'> & {
  base_version?: number | null;
};

/** Rough byte budget per push, well under sync's 4 MiB limit. */
const maxBatchBytes = 3 * 1024 * 1024;

export class SyncClient {
  readonly store: LocalStore;
  readonly state = new Observable<ConnectionState>('disconnected');
  readonly events = new Emitter<SyncClientEvents>();
  readonly supabase: SupabaseClient;
  readonly userId: string;
  /** Answered sync calls and the items they pushed (how well rapid writes were batched). */
  readonly stats = { requests: 0, pushes: 0, pushedItems: 0 };

  private readonly stream: RealtimeStream;
  private readonly backoff: BackoffOptions;
  private readonly random: () => number;
  private running = false;
  private loaded = false;
  /** Set by supabase-js SIGNED_OUT (or another user signing in); cleared when this user is back. */
  private signedOut = false;
  private onlineValue: boolean;
  private connectAttempt = 0;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped at every SUBSCRIBED: a catch-up counts only if its pull started after the last one. */
  private subscription = 0;
  private caughtUp = -1;
  private syncing = false;
  /** The sync call loop while it runs (stop() waits for it, so its answer is stored). */
  private inflight: Promise<void> = Promise.resolve();
  private syncAgain = false;
  private pullWanted = true;
  private syncAttempt = 0;
  private syncTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly cleanups: (() => void)[] = [];
  private lifecycle: Promise<void> = Promise.resolve();

  constructor(private readonly options: SyncClientOptions) {
    this.supabase = options.supabase;
    this.userId = options.userId;
    this.store = new LocalStore(options.storage ?? new MemoryStorage(), options.userId);
    this.backoff = { ...defaultBackoff, ...options.backoff };
    this.random = options.random ?? Math.random;
    this.onlineValue = options.online ?? true;
    this.stream = new RealtimeStream(options.supabase, options.userId, options.realtime ?? 'postgres_changes', {
      change: (change) => this.events.emit('change', change, this.store.merge(change)),
      subscribed: () => this.onSubscribed(),
      lost: (reason) => this.onLost(reason),
    });
  }

  get online(): boolean {
    return this.onlineValue;
  }

  /** Loads the stored outbox and rows, then connects (when online) and pushes what is queued. */
  start(): Promise<void> {
    // Starts and stops run one after the other (a React effect may start, stop and start again at once).
    this.lifecycle = this.lifecycle.catch(() => undefined).then(() => this.startNow());
    return this.lifecycle;
  }

  /** Leaves the channel, stops every timer and listener, and waits until storage is written. */
  stop(): Promise<void> {
    this.lifecycle = this.lifecycle.catch(() => undefined).then(() => this.stopNow());
    return this.lifecycle;
  }

  private async startNow(): Promise<void> {
    if (this.running) return;
    if (!this.loaded) {
      this.loaded = true;
      await this.store.load();
    }
    this.running = true;
    this.listenForAuth();
    this.listenForNetwork();
    if (this.onlineValue) await this.goOnline();
  }

  private async stopNow(): Promise<void> {
    this.running = false;
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    this.clearTimers();
    this.state.set('disconnected');
    await this.stream.close();
    await this.inflight;
    await this.store.persisted();
    this.releaseIdle();
  }

  /** Offline: writes stay local and queued, no socket. Online: connect, catch up, push. */
  async setOnline(online: boolean): Promise<void> {
    if (online === this.onlineValue) return;
    this.onlineValue = online;
    if (!this.running) return;
    if (online) await this.goOnline();
    else await this.goOffline();
  }

  /** Hands a new token to the realtime socket and retries a lost subscription now. */
  async refreshAuth(token?: string): Promise<void> {
    await this.supabase.realtime.setAuth(token ?? null);
    if (!this.running || !this.onlineValue) return;
    if (this.state.get() !== 'connected' && !this.stream.subscribed) {
      this.connectAttempt = 0;
      this.connectNow();
    }
    if (this.syncTimer) this.requestSync(0, true);
  }

  /**
   * Applies an edit locally at once and queues it. Throws (and changes nothing) when the item is
   * not one the sync function would accept in shape. `persisted` resolves once the outbox holds it.
   */
  write(input: WriteInput): { item: OutboxItem; persisted: Promise<void> } {
    const base = input.base_version ?? this.store.serverVersion(input.table, input.local_id);
    const candidate = {
      ...input,
      change_id: crypto.randomUUID(),
      client_updated_at: new Date().toISOString(),
      ...(base !== null && base !== undefined ? { base_version: base } : {}),
    };
    const parsed = syncItem.parse(candidate);
    // What sync would refuse for this item alone (400 unstorable_text) is refused here, by the same
    // rule, before it is queued: queued, it would make its whole batch fail.
    const unstorable = findUnstorableText(parsed);
    if (unstorable) throw new UnstorableTextError(unstorable.path, unstorable.problem);
    const item = this.store.enqueue(parsed);
    this.requestSync(this.options.batchDelayMs ?? 20);
    return { item, persisted: this.store.persisted() };
  }

  /** Resolves when nothing is queued and no call is in flight (or the client stops). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Asks for a pull now (e.g. when the app comes to the foreground). */
  pull(): void {
    this.pullWanted = true;
    this.requestSync(0, true);
  }

  // Connection ------------------------------------------------------------------------------------

  private async goOnline(): Promise<void> {
    this.pullWanted = true;
    this.connectAttempt = 0;
    this.connectNow();
    this.requestSync(0, true);
  }

  private async goOffline(): Promise<void> {
    this.clearTimers();
    this.state.set('disconnected');
    await this.stream.close();
    // The socket itself goes too: offline means no connection at all.
    if (this.supabase.realtime.getChannels().length === 0) await this.supabase.realtime.disconnect();
  }

  private connectNow(): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    if (!this.running || !this.onlineValue || this.signedOut) return;
    this.state.set('reconnecting');
    this.stream.open().catch((error: Error) => this.onLost(error.message));
  }

  private onSubscribed(): void {
    this.subscription++;
    this.pullWanted = true;
    this.requestSync(0, true);
  }

  private onLost(reason: string): void {
    if (!this.running || !this.onlineValue) return;
    this.state.set('reconnecting');
    void this.stream.close();
    this.connectAttempt++;
    const delayMs = backoffDelay(this.connectAttempt, this.backoff, this.random);
    this.events.emit('retry', { what: 'connect', attempt: this.connectAttempt, delayMs, reason });
    clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(() => this.connectNow(), delayMs);
  }

  private listenForAuth(): void {
    let auth: SupabaseClient['auth'];
    try {
      // With supabase-js's `accessToken` option, `auth` is unavailable and throws when touched.
      auth = this.supabase.auth;
      const { data } = auth.onAuthStateChange((event, session) => {
        if (event !== 'SIGNED_OUT' && event !== 'TOKEN_REFRESHED' && event !== 'SIGNED_IN') return;
        // Signed out, or someone else signed in: this user's outbox waits (it is kept) until they are back.
        const otherUser = session?.user?.id !== undefined && session.user.id !== this.userId;
        if (event === 'SIGNED_OUT' || !session || otherUser) {
          this.signedOut = true;
          void this.goOffline();
          return;
        }
        this.signedOut = false;
        void this.refreshAuth(session.access_token).then(() => this.requestSync(0, true));
      });
      this.cleanups.push(() => data.subscription.unsubscribe());
    } catch {
      // accessToken mode: the app calls refreshAuth() when its token changes.
    }
  }

  private listenForNetwork(): void {
    const target = globalThis as unknown as {
      addEventListener?: (name: string, fn: () => void) => void;
      removeEventListener?: (name: string, fn: () => void) => void;
    };
    if (
      this.options.followNetwork === false ||
      typeof target.addEventListener !== 'function' ||
      typeof target.removeEventListener !== 'function'
    )
      return;
    const online = () => void this.setOnline(true);
    const offline = () => void this.setOnline(false);
    target.addEventListener('online', online);
    target.addEventListener('offline', offline);
    this.cleanups.push(() => {
      target.removeEventListener!('online', online);
      target.removeEventListener!('offline', offline);
    });
  }

  // Push and pull ---------------------------------------------------------------------------------

  private requestSync(delayMs: number, now = false): void {
    if (!this.running || !this.onlineValue || this.signedOut) return;
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    if (this.syncTimer && !now) return;
    clearTimeout(this.syncTimer);
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      this.launchSync();
    }, delayMs);
  }

  private nextBatch(): OutboxItem[] {
    const limit = Math.min(this.options.maxBatchItems ?? 500, syncLimits.maxItems);
    const batch: OutboxItem[] = [];
    let bytes = 0;
    for (const item of this.store.queued) {
      bytes += JSON.stringify(item).length;
      if (batch.length >= limit || (batch.length > 0 && bytes > maxBatchBytes)) break;
      batch.push(item);
    }
    return batch;
  }

  private launchSync(): void {
    this.inflight = this.runSync().catch((error: Error) => this.events.emit('error', error));
  }

  private async runSync(): Promise<void> {
    if (this.syncing) return;
    this.syncing = true;
    try {
      for (;;) {
        this.syncAgain = false;
        if (!this.running || !this.onlineValue || this.signedOut) return;
        const batch = this.nextBatch();
        if (batch.length === 0 && !this.pullWanted) return;
        this.pullWanted = false;
        const subscription = this.subscription;
        this.store.markSent(batch);
        const push = batch.map(({ seq: _seq, sent: _sent, ...item }) => item as SyncItem);
        try {
          const answer = await callSync(this.supabase, {
            ...(push.length > 0 ? { push } : {}),
            pull: { cursor: this.store.cursor, limit: this.options.pullLimit ?? 1000 },
          });
          if (push.length > 0 && answer.push?.results.length !== push.length) {
            throw new SyncCallError('sync answered without a result for every pushed item', 'retry', 200, null);
          }
          this.syncAttempt = 0;
          this.stats.requests++;
          this.stats.pushedItems += push.length;
          if (push.length > 0) this.stats.pushes++;
          if (answer.push) this.events.emit('pushed', batch, answer.push.results);
          if (answer.push)
            for (const rollback of this.store.reconcile(batch, answer.push.results))
              this.events.emit('rollback', rollback);
          if (answer.pull) {
            for (const pulled of answer.pull.changes) {
              const change = fromPull(pulled);
              this.events.emit('change', change, this.store.merge(change));
            }
            this.store.cursor = answer.pull.cursor;
            if (answer.pull.has_more) this.pullWanted = true;
            else if (this.stream.subscribed && subscription === this.subscription) this.caughtUp = subscription;
          }
          if (this.caughtUp === this.subscription && this.stream.subscribed && this.running && this.onlineValue) {
            this.connectAttempt = 0;
            this.state.set('connected');
          }
        } catch (error) {
          if (!(error instanceof SyncCallError)) throw error;
          this.events.emit('error', error);
          if (error.code === 'invalid_cursor') {
            // Not ours any more (a reset server): start over from the current rows.
            this.store.cursor = null;
            this.pullWanted = true;
            continue;
          }
          if (error.kind === 'refuse' && batch.length > 0) {
            for (const rollback of this.store.rejectAll(batch, error.code ?? 'refused', error.message))
              this.events.emit('rollback', rollback);
            this.pullWanted = true;
            continue;
          }
          this.pullWanted = true;
          this.syncAttempt++;
          const delayMs = backoffDelay(this.syncAttempt, this.backoff, this.random);
          this.events.emit('retry', { what: 'sync', attempt: this.syncAttempt, delayMs, reason: error.message });
          this.syncTimer = setTimeout(() => {
            this.syncTimer = undefined;
            this.launchSync();
          }, delayMs);
          return;
        }
      }
    } finally {
      this.syncing = false;
      if (this.syncAgain && !this.syncTimer) this.requestSync(0, true);
      if (this.isIdle()) this.releaseIdle();
      this.scheduleRefresh();
    }
  }

  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    if (!this.running || !this.onlineValue || this.syncTimer || this.syncing) return;
    this.refreshTimer = setTimeout(() => this.pull(), this.options.pullEveryMs ?? 60_000);
  }

  private isIdle(): boolean {
    return !this.running || (this.store.queued.length === 0 && !this.syncing && this.syncTimer === undefined);
  }

  private releaseIdle(): void {
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private clearTimers(): void {
    clearTimeout(this.connectTimer);
    clearTimeout(this.syncTimer);
    clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    this.connectTimer = undefined;
    this.syncTimer = undefined;
  }

  /** The row of `table` with this local id, as the app sees it. */
  row<T extends SyncTable>(table: T, localId: string) {
    return this.store.get(table, localId);
  }
}
