/**
 * The current connection of a reconnecting client, for the readable and
 * writable that span connections: `next()` waits while there is none.
 */
export class Gate<T> {
  current: T | null = null;
  #ended = false;
  #failure: { error: unknown } | null = null;
  #waiters: Array<{ resolve: (v: T | null) => void; reject: (e: unknown) => void }> = [];
  #shutWaiters: Array<() => void> = [];

  /** A connection is open: the waiting reads and writes go on with it. */
  open(value: T): void {
    this.current = value;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.resolve(value);
  }

  /** The connection is gone; reads and writes wait for the next. */
  shut(): void {
    this.current = null;
    const waiters = this.#shutWaiters;
    this.#shutWaiters = [];
    for (const w of waiters) w();
  }

  /** No more connections: `next()` gives null. */
  end(): void {
    this.shut();
    this.#ended = true;
    for (const w of this.#waiters.splice(0)) w.resolve(null);
  }

  /** Gave up: `next()` rejects with `error`. */
  fail(error: unknown): void {
    this.shut();
    this.#failure = { error };
    for (const w of this.#waiters.splice(0)) w.reject(error);
  }

  /** The open connection, once there is one; null once ended. */
  next(): Promise<T | null> {
    // The error as given (an abort signal's reason may be any value), as the streams pass it on.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    if (this.#failure !== null) return Promise.reject(this.#failure.error);
    if (this.#ended) return Promise.resolve(null);
    if (this.current !== null) return Promise.resolve(this.current);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Resolves once `value` is no longer the current connection. */
  settled(value: T): Promise<void> {
    if (this.current !== value) return Promise.resolve();
    return new Promise((resolve) => this.#shutWaiters.push(resolve));
  }
}
