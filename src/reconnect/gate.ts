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
  /** Connections opened whose messages the reader has not finished, oldest first. */
  #unread: T[] = [];
  #changeWaiters: Array<() => void> = [];

  /** A connection is open: the waiting reads and writes go on with it. */
  open(value: T): void {
    this.current = value;
    this.#unread.push(value);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.resolve(value);
    this.#changed();
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
    this.#changed();
  }

  /** Gave up: `next()` rejects with `error`. */
  fail(error: unknown): void {
    this.shut();
    this.#failure = { error };
    for (const w of this.#waiters.splice(0)) w.reject(error);
    this.#changed();
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

  /**
   * The oldest connection whose messages the reader has not finished
   * (it may have closed since: what it received is still to be read), once
   * there is one; then null once ended, or the error once failed.
   */
  async unread(): Promise<T | null> {
    for (;;) {
      if (this.#unread.length > 0) return this.#unread[0]!;
      // The error as given (an abort signal's reason may be any value), as the streams pass it on.
      if (this.#failure !== null) throw this.#failure.error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#changeWaiters.push(resolve));
    }
  }

  /** The reader is done with `value` (read to its end, or nobody will read it). */
  doneReading(value: T): void {
    const at = this.#unread.indexOf(value);
    if (at !== -1) this.#unread.splice(at, 1);
  }

  /** Nobody reads: every connection but the current one is dropped from the unread; returns them. */
  dropEnded(): T[] {
    const current = this.current;
    const dropped = this.#unread.filter((value) => value !== current);
    this.#unread = current === null || !this.#unread.includes(current) ? [] : [current];
    return dropped;
  }

  /** Whether a connection's messages may still be read. */
  get hasUnread(): boolean {
    return this.#unread.length > 0;
  }

  #changed(): void {
    for (const w of this.#changeWaiters.splice(0)) w();
  }
}
