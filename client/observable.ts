/**
 * A value that can be read now and watched: the connection state, the store's revision. Its shape
 * (`get` + `subscribe` returning an unsubscribe) is what React's useSyncExternalStore takes.
 */
export class Observable<T> {
  private readonly listeners = new Set<(value: T) => void>();

  constructor(private value: T) {}

  get = (): T => this.value;

  set(value: T): void {
    if (Object.is(value, this.value)) return;
    this.value = value;
    for (const listener of [...this.listeners]) listener(value);
  }

  subscribe = (listener: (value: T) => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** How many listeners are attached (tests check that nothing is left behind). */
  get listenerCount(): number {
    return this.listeners.size;
  }
}
