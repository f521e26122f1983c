/**
 * Options of a session: the non-standard extensions of WebSocketStream that
 * client and server connections share.
 */
import { DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_MESSAGE_SIZE } from '../core/connection.js';
import {
  resolveDeflateOption,
  type PerMessageDeflateOption,
} from '../core/extensions/deflate-negotiation.js';
import type { WebSocketMessage } from './receive-flow.js';

export { DEFAULT_MAX_PENDING_PONGS } from './sender.js';
export { DEFAULT_CLOSE_TIMEOUT } from './timers.js';

/**
 * The options client and server connections share (wsstream extensions),
 * defined and validated once: `new WebSocketStream()`, `upgrade()` and
 * `serve()` all take them and refuse the same bad values with the same errors.
 */
export interface SessionOptions {
  /**
   * Largest message accepted, in bytes; default 64 MiB
   * ({@link DEFAULT_MAX_MESSAGE_SIZE}). Checked against each frame's declared
   * length before any memory is allocated for it, and against the running
   * total of a fragmented message (and, where compression was negotiated,
   * against the decompressed size while inflating). Stops a peer from making
   * us allocate without bound: exceeding it fails the connection with 1009.
   */
  maxMessageSize?: number | undefined;
  /**
   * Most frames one message may be split into; see
   * {@link DEFAULT_MAX_FRAGMENTS} for the default and why it is what it is.
   * Exceeding it fails the connection with 1009.
   */
  maxFragments?: number | undefined;
  /**
   * Send messages longer than this many bytes as several frames of at most
   * this many payload bytes; default 0, never fragment. Lets a peer with small
   * buffers (or an intermediary) process a large message as it arrives. Text
   * is split between bytes, so a fragment may end inside a UTF-8 sequence, as
   * RFC 6455 5.4 allows.
   */
  fragmentSize?: number | undefined;
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
  /**
   * Send a keepalive Ping every this many milliseconds (whether or not data
   * flows); 0 (default) disables keepalive. While reading is paused by
   * backpressure the Ping sent stays outstanding and no other is sent.
   */
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
   * Send small messages written in one turn of the event loop together, in
   * one system call at the end of the turn (extension); default true. After
   * the first message of a turn (written at once), a write() of a message up
   * to 16 KiB made while the socket has nothing pending resolves once its
   * frame joined the turn's batch, which is handed to the operating system
   * before any I/O or timer runs (as Chrome's write() resolves once the
   * message reached its network process). Backpressure still reaches TCP:
   * while a batch waits for the kernel, and for larger messages, writes
   * resolve only once the operating system took their frames, and a batch
   * holds at most 64 KiB of frames, so that is the most a resolved write()
   * may leave in user space. `false`: every write() resolves only once the
   * operating system took its frame, at the cost of one system call per
   * message (measured in bench/RESULTS.md).
   */
  batchWrites?: boolean | undefined;
  /**
   * permessage-deflate, RFC 7692; default on. A client offers
   * `permessage-deflate; client_max_window_bits`, as browsers do, and
   * `extensions` in `opened` shows what the server agreed to; a server
   * accepts the first offer it can with memory-frugal parameters (window bits
   * 12, memLevel 5). `false` turns it off; an object tunes it (see
   * docs/compression.md). Messages under 1 KiB are sent uncompressed;
   * `maxMessageSize` bounds the decompressed size of each message received,
   * so a deflate bomb fails with 1009.
   */
  perMessageDeflate?: PerMessageDeflateOption | undefined;
}

/** Validates {@link SessionOptions.batchWrites}. */
export function readBatchWrites(value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'boolean') throw new TypeError('batchWrites must be a boolean');
  return value;
}

/** A non-negative whole number of bytes, frames or frames pending. */
function readCount(value: unknown, name: string, min: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number`);
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`${name} must be a whole number of at least ${min}, not ${value}`);
  }
}

/**
 * A duration in milliseconds: a finite number above 0 (or at least 0 where
 * `zeroAllowed`, for "disabled"). Returns `fallback` for undefined.
 */
/**
 * The longest delay a timer takes: 2^31 - 1 ms (about 24.8 days). Node
 * (like browsers) fires a longer timeout after 1 ms instead, so a longer
 * option would end every handshake or close at once: it is refused.
 */
export const MAX_TIMER_MS = 0x7fffffff;

export function readMilliseconds(
  value: unknown,
  name: string,
  fallback: number,
  zeroAllowed = false,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number of milliseconds`);
  if (!Number.isFinite(value) || value < 0 || (value === 0 && !zeroAllowed)) {
    throw new RangeError(
      `${name} must be a ${zeroAllowed ? 'non-negative' : 'positive'} number of milliseconds, not ${value}`,
    );
  }
  if (value > MAX_TIMER_MS) {
    throw new RangeError(
      `${name} must be at most ${MAX_TIMER_MS} milliseconds (about 24.8 days), not ${value}`,
    );
  }
  return value;
}

function readStrategy(value: unknown, name: string): void {
  if (value === undefined) return;
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`${name} must be a queuing strategy object`);
  }
  const { size, highWaterMark } = value as { size?: unknown; highWaterMark?: unknown };
  if (size !== undefined && typeof size !== 'function') {
    throw new TypeError(`${name}.size must be a function`);
  }
  if (highWaterMark !== undefined && !(typeof highWaterMark === 'number' && highWaterMark >= 0)) {
    throw new RangeError(`${name}.highWaterMark must be a non-negative number`);
  }
}

/**
 * Reads the shared options once and validates them before anything is
 * connected (client) or answered (server): TypeError for a value of the wrong
 * type, RangeError for one out of range, the same on both sides. Returns what
 * was read: the session uses that, so an options object changed (or a getter
 * answering otherwise) after the call changes nothing (WebIDL converts a
 * dictionary once, when it is passed).
 */
export function readSessionOptions(options: SessionOptions): SessionOptions {
  const read: SessionOptions = {
    maxMessageSize: options.maxMessageSize,
    maxFragments: options.maxFragments,
    fragmentSize: options.fragmentSize,
    readableStrategy: options.readableStrategy,
    writableStrategy: options.writableStrategy,
    closeTimeout: options.closeTimeout,
    pingInterval: options.pingInterval,
    pingTimeout: options.pingTimeout,
    maxPendingPongs: options.maxPendingPongs,
    batchWrites: options.batchWrites,
    perMessageDeflate: options.perMessageDeflate,
  };
  readCount(read.maxMessageSize, 'maxMessageSize', 0);
  readCount(read.maxFragments, 'maxFragments', 1);
  readCount(read.fragmentSize, 'fragmentSize', 0);
  readCount(read.maxPendingPongs, 'maxPendingPongs', 0);
  readMilliseconds(read.closeTimeout, 'closeTimeout', 0);
  readMilliseconds(read.pingInterval, 'pingInterval', 0, true);
  readMilliseconds(read.pingTimeout, 'pingTimeout', 0);
  readStrategy(read.readableStrategy, 'readableStrategy');
  readStrategy(read.writableStrategy, 'writableStrategy');
  readBatchWrites(read.batchWrites);
  // What was read of an object is kept, not the caller's object.
  read.perMessageDeflate = resolveDeflateOption(read.perMessageDeflate) ?? false;
  return read;
}

export { DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_MESSAGE_SIZE };
