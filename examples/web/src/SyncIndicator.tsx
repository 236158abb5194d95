/** The design document's sync indicator: `🔄 SYNC` while connected, `⚠️ SYNC` offline or reconnecting. */
import type { ConnectionState } from '@virgil/sync-client';

const described: Record<ConnectionState, string> = {
  connected: 'Connected: edits sync at once',
  reconnecting: 'Reconnecting: edits are kept on this device',
  disconnected: 'Offline: edits are kept on this device',
};

export function SyncIndicator({ state, waiting }: { state: ConnectionState; waiting: number }) {
  return (
    <span className={`sync sync-${state}`} data-testid="sync-indicator" data-state={state} title={described[state]}>
      {state === 'connected' ? '🔄 SYNC' : '⚠️ SYNC'}
      {waiting > 0 && <small data-testid="waiting"> {waiting} waiting</small>}
    </span>
  );
}
