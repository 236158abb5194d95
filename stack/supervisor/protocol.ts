/**
 * What the supervisor and its children say to each other (over Node's IPC channel) and what it
 * records in `<stack folder>/supervisor.json` for `stack:status`, `stack:stop` and the gateway.
 */

/**
 * starting: spawned, not answering yet; running: answering; restarting: exited, started again after
 * its backoff; failed: exited before answering too many times in a row, not started again;
 * stopped: ended by `stack:stop`.
 */
export type ServiceState = 'starting' | 'running' | 'restarting' | 'failed' | 'stopped';

export interface ExitRecord {
  code: number | null;
  signal: string | null;
  /** ISO time of the exit. */
  at: string;
}

export interface ServiceStatus {
  name: string;
  kind: 'gateway' | 'service';
  state: ServiceState;
  /** The process (and process group) id of the current run. */
  pid?: number;
  /** The path prefix the service owns, known once it answered. */
  prefix?: string;
  /** The internal loopback port it listens on (the gateway: the public API port). */
  port?: number;
  /** Times it was started again after an exit. */
  restarts: number;
  lastExit?: ExitRecord;
  /** Lines for `stack:status`, e.g. `{ 'Functions URL': … }`. */
  describe?: Record<string, string>;
}

export interface SupervisorState {
  pid: number;
  startedAt: string;
  services: ServiceStatus[];
}

/** Child → supervisor: listening and ready for requests. */
export interface ReadyMessage {
  type: 'ready';
  name: string;
  prefix: string;
  port: number;
  describe?: Record<string, string>;
}

/** Supervisor → gateway: where every service is and whether it answers. */
export interface RoutesMessage {
  type: 'routes';
  services: ServiceStatus[];
}

export const isReadyMessage = (value: unknown): value is ReadyMessage =>
  typeof value === 'object' &&
  value !== null &&
  (value as ReadyMessage).type === 'ready' &&
  Number.isInteger((value as ReadyMessage).port);

export const isRoutesMessage = (value: unknown): value is RoutesMessage =>
  typeof value === 'object' &&
  value !== null &&
  (value as RoutesMessage).type === 'routes' &&
  Array.isArray((value as RoutesMessage).services);
