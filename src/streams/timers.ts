/**
 * The two timers of a session: the close timer, which ends a closing
 * handshake the peer never completes, and the keepalive, which pings an idle
 * peer and drops it when nothing at all comes back.
 */

/** Default of {@link CloseTimer}'s timeout (`closeTimeout`): 10 s. */
export const DEFAULT_CLOSE_TIMEOUT = 10_000;

/**
 * Ends a closing handshake that takes too long: once armed, calls `expire`
 * after `timeout` ms unless cleared first. Arming twice keeps the first deadline.
 */
export class CloseTimer {
  readonly timeout: number;
  readonly #expire: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(timeout: number, expire: () => void) {
    this.timeout = timeout;
    this.#expire = expire;
  }

  /** Starts the countdown (once; never after {@link stop}). */
  arm(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#stopped = true;
      this.#expire();
    }, this.timeout);
  }

  /** Stops the countdown for good (the connection is over). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** What the keepalive asks of the session around it. */
export interface KeepaliveHooks {
  /** Bytes read from the peer so far (any byte counts as liveness). */
  bytesRead(): number;
  /** Whether reading is paused by backpressure (then nothing can be read, which proves nothing). */
  paused(): boolean;
  /**
   * How many times reading was paused or resumed so far: a change since the
   * Ping means reading was paused for part of the wait, which proves nothing
   * either (bytes the kernel holds are read only in a later turn).
   */
  pauseChanges(): number;
  /** Whether a Ping may still be sent (false once the closing handshake started). */
  canPing(): boolean;
  /** Send a Ping. */
  ping(): void;
  /** No byte came within the timeout of a Ping: drop the connection. */
  dead(message: string): void;
}

/**
 * Keepalive: after `interval` ms a Ping is sent; if not a single byte was
 * read within `timeout` ms of it (while reading was not paused), the peer is
 * taken for dead. `interval` 0 disables it.
 */
export class Keepalive {
  readonly #interval: number;
  readonly #timeout: number;
  readonly #hooks: KeepaliveHooks;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Bytes read when the outstanding Ping was sent; -1 when none is outstanding. */
  #bytesAtPing = -1;
  /** {@link KeepaliveHooks.pauseChanges} when the wait for an answer began. */
  #pauseChangesAtWait = 0;

  constructor(interval: number, timeout: number, hooks: KeepaliveHooks) {
    this.#interval = interval;
    this.#timeout = timeout;
    this.#hooks = hooks;
  }

  /** Starts the first interval (does nothing when keepalive is disabled). */
  start(): void {
    if (this.#interval <= 0) return;
    this.#timer = setTimeout(this.#tick, this.#interval);
  }

  /** Stops for good. */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  readonly #tick = (): void => {
    this.#timer = undefined;
    const hooks = this.#hooks;
    if (!hooks.canPing()) return;
    const read = hooks.bytesRead();
    if (this.#bytesAtPing >= 0) {
      // A Ping is outstanding: any byte read since counts as liveness. While we
      // are (or were, during the wait) paused by backpressure nothing could be
      // read, so that is no evidence: the Ping stays outstanding (another one
      // could not be answered either, and its Pong would only pile up at the
      // peer) and the peer gets a whole timeout with reading running.
      if (read === this.#bytesAtPing) {
        const changes = hooks.pauseChanges();
        if (hooks.paused() || changes !== this.#pauseChangesAtWait) {
          this.#pauseChangesAtWait = changes;
          this.#timer = setTimeout(this.#tick, this.#timeout);
          return;
        }
        hooks.dead(`No data from the peer within ${this.#timeout} ms of a ping`);
        return;
      }
      this.#bytesAtPing = -1;
      this.#timer = setTimeout(this.#tick, Math.max(0, this.#interval - this.#timeout));
      return;
    }
    this.#bytesAtPing = read;
    this.#pauseChangesAtWait = hooks.pauseChanges();
    hooks.ping();
    this.#timer = setTimeout(this.#tick, this.#timeout);
  };
}
