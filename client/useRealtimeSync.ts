/**
 * `useRealtimeSync`: the React face of a sync client. It starts the client when the component
 * mounts and stops it on unmount (no channel, timer or listener is left behind), and returns the
 * connection state and the store, re-rendering when either changes.
 *
 * React is an optional peer dependency: only this file imports it; the rest of `client/` runs
 * anywhere.
 *
 *   const { state, store } = useRealtimeSync(client);
 *   const memories = store.list('memories');
 */
import { useEffect, useSyncExternalStore } from 'react';
import type { LocalStore } from './store.ts';
import type { SyncClient } from './sync-client.ts';
import type { ConnectionState } from './types.ts';

export interface RealtimeSync {
  state: ConnectionState;
  store: LocalStore;
  /** Increases with every change of the store (use it as a dependency). */
  revision: number;
  client: SyncClient;
}

export function useRealtimeSync(client: SyncClient): RealtimeSync {
  const state = useSyncExternalStore(client.state.subscribe, client.state.get, client.state.get);
  const revision = useSyncExternalStore(
    client.store.revision.subscribe,
    client.store.revision.get,
    client.store.revision.get,
  );
  useEffect(() => {
    // The client runs starts and stops in order, so a quick mount/unmount/mount is safe.
    client.start().catch((error: Error) => client.events.emit('error', error));
    return () => {
      client.stop().catch((error: Error) => client.events.emit('error', error));
    };
  }, [client]);
  return { state, store: client.store, revision, client };
}
