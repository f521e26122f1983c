/**
 * A protocol violation of the peer, held until the messages before it have
 * been read and answered: input is processed strictly in order, so reading
 * stops, those messages stay readable, the application's replies to them are
 * written, and only then is the connection failed with the violation's code.
 */
import type { ProtocolError } from '../core/errors.js';

/** What a {@link HeldViolation} needs from its session. */
export interface HeldViolationHost {
  /** Stops input (and the keepalive) while the violation is held. */
  stopInput(): void;
  /** Whether every message before the violation was read and no reply waits for the transport. */
  caughtUp(): boolean;
  /** Fails the connection for the violation (RFC 6455 7.1.7). */
  fail(error: ProtocolError): void;
}

/**
 * Holds at most one violation. Bounded: the readable's queue limits what is
 * held (nothing after the violation is processed), and `timeout` (the
 * session's `closeTimeout`) how long it waits for a reader that never reads.
 */
export class HeldViolation {
  readonly #timeout: number;
  readonly #host: HeldViolationHost;
  #error: ProtocolError | null = null;
  /** Fails for the held violation after `timeout` ms, read or not. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** A turn (setImmediate) is scheduled to see whether the violation can be acted on. */
  #checkScheduled = false;

  constructor(timeout: number, host: HeldViolationHost) {
    this.#timeout = timeout;
    this.#host = host;
  }

  /** Whether a violation is held (input stays stopped meanwhile). */
  get active(): boolean {
    return this.#error !== null;
  }

  /** Holds `error` (a second violation is ignored: nothing after the first is processed). */
  hold(error: ProtocolError): void {
    if (this.#error !== null) return;
    this.#error = error;
    this.#host.stopInput();
    this.#timer = setTimeout(() => this.fail(), this.#timeout);
    // The inbox may be empty already (a violation with nothing before it).
    this.check();
  }

  /**
   * Once the messages before the violation were all read and no reply is
   * waiting for the transport, waits one more turn (an application's reply
   * to the last message reaches the writable's sink in it), then fails.
   */
  check(): void {
    if (this.#error === null || this.#checkScheduled) return;
    this.#checkScheduled = true;
    setImmediate(() => {
      this.#checkScheduled = false;
      if (this.#error !== null && this.#host.caughtUp()) this.fail();
    });
  }

  /** Fails the connection for the held violation now (its Close code 1002/1007/1009). */
  fail(): void {
    const error = this.#error;
    if (error === null) return;
    this.#error = null;
    clearTimeout(this.#timer);
    this.#host.fail(error);
  }

  /** Stops the timer for good (the connection is over). */
  stop(): void {
    clearTimeout(this.#timer);
  }
}
