/**
 * Options of a session: the non-standard extensions of WebSocketStream that
 * client and server connections share.
 */
import type { WebSocketMessage } from './receive-flow.js';

export { DEFAULT_MAX_PENDING_PONGS } from './sender.js';
export { DEFAULT_CLOSE_TIMEOUT } from './timers.js';

/** Options of a session (the non-standard extensions of WebSocketStream). */
export interface SessionOptions {
  /** Queuing strategy of the readable; default `new CountQueuingStrategy({ highWaterMark: 1 })`. */
  readableStrategy?: QueuingStrategy<WebSocketMessage> | undefined;
  /** Queuing strategy of the writable; default `new CountQueuingStrategy({ highWaterMark: 1 })`. */
  writableStrategy?: QueuingStrategy<unknown> | undefined;
  /**
   * Milliseconds to wait for the closing handshake to finish (the peer's Close,
   * then the end of the TCP connection) before dropping the connection;
   * default 10 s. Stops a peer that never answers Close from holding a connection.
   */
  closeTimeout?: number | undefined;
  /** Send a Ping after this many idle milliseconds; 0 (default) disables keepalive. */
  pingInterval?: number | undefined;
  /**
   * Milliseconds to wait for any bytes after a keepalive Ping before dropping
   * the connection as dead (1006); default: the ping interval.
   */
  pingTimeout?: number | undefined;
  /**
   * Most automatic Pongs that may wait for the operating system to accept
   * them (their socket write has not completed) when another Ping arrives;
   * default 60. Stops a peer that floods Pings but never reads our Pongs from
   * growing our write queue without bound. Exceeding it fails the connection
   * with 1008 (Policy Violation); as that peer does not read, the Close frame
   * usually cannot be delivered, and the connection is dropped after
   * `closeTimeout`. The outcome is an unclean close with code 1008.
   */
  maxPendingPongs?: number | undefined;
  /**
   * Send the messages written in one turn of the event loop together, in one
   * system call at the end of the turn (extension); default false. Without
   * it, every message costs a system call of its own, because a write()
   * resolves only once the operating system took its frame; with it, a
   * write() resolves once its frame joined the turn's batch, which is handed
   * to the operating system before any I/O or timer runs. Backpressure still
   * reaches TCP: while a batch waits for the kernel, later writes wait for it
   * as without batching, and a batch holds at most 64 KiB of frames, so that
   * is the most a resolved write() may leave in user space. It pays for many
   * small messages (measured in bench/RESULTS.md) and changes nothing for
   * messages of 64 KiB and more.
   */
  batchWrites?: boolean | undefined;
}

/** Validates {@link SessionOptions.batchWrites}. */
export function readBatchWrites(value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new TypeError('batchWrites must be a boolean');
  return value;
}

/**
 * Checks the two queuing strategies' high-water marks now (a RangeError for
 * one that is not a non-negative number), rather than when a connection opens.
 */
export function readStrategies(options: SessionOptions): void {
  for (const name of ['readableStrategy', 'writableStrategy'] as const) {
    const strategy = options[name];
    if (strategy === undefined) continue;
    const highWaterMark = strategy.highWaterMark === undefined ? 1 : Number(strategy.highWaterMark);
    if (Number.isNaN(highWaterMark) || highWaterMark < 0)
      throw new RangeError(`${name}: highWaterMark must be a non-negative number`);
  }
}
