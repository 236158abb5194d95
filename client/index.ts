/**
 * The device side of Virgil sync (docs/device-client.md). The React hook lives in
 * `./useRealtimeSync.ts`, outside this entry point, so apps without React never load React.
 */
export { backoffDelay, type BackoffOptions, defaultBackoff } from './backoff.ts';
export { IndexedDbStorage } from './indexeddb-storage.ts';
export { Observable } from './observable.ts';
export { fromBroadcast, fromPostgresChanges, fromPull } from './remote-changes.ts';
export { type ClientStorage, MemoryStorage, type StoredState, type StorageWrite } from './storage.ts';
export { LocalStore, type MergeOutcome, type Rollback } from './store.ts';
export { type RealtimePath, userTopic } from './stream.ts';
export {
  SupabaseMemoryService,
  type Conversation,
  type Memory,
  type Message,
  type NewMemory,
  type NewMessage,
} from './SupabaseMemoryService.ts';
export {
  SyncClient,
  type SyncClientEvents,
  type SyncClientOptions,
  UnstorableTextError,
  type WriteInput,
} from './sync-client.ts';
export { SyncCallError } from './transport.ts';
export type { ConnectionState, LocalRow, OutboxItem, RemoteChange, SyncTable } from './types.ts';
