/**
 * The options of a {@link Connection}, their defaults and their validation.
 */
import type { Role } from './connection-state.js';
import type { MessageTransform } from './extensions/extension.js';

/** Default of {@link ConnectionOptions.maxMessageSize}: 64 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;
/**
 * Default of {@link ConnectionOptions.maxFragments}: 1,048,576 (2^20) frames
 * per message, so that a 4 MiB message in 4-byte fragments, or the default
 * 64 MiB maximum in 64-byte fragments, passes.
 *
 * Why not a few thousand, as ws's 16384: ws keeps every fragment as a buffer
 * of its own until the message ends, so for ws each fragment costs memory.
 * Here each fragment's payload is copied straight into the message being
 * assembled, so fragments cost no memory beyond the message's bytes (bounded
 * by `maxMessageSize`) and constant work per frame header: a flood of empty or
 * one-byte fragments costs what the same bytes cost as any other input, and
 * the read loop yields between reads like for any input. The count limit is
 * left as a backstop against a message that never ends.
 */
export const DEFAULT_MAX_FRAGMENTS = 1 << 20;
/** Default of {@link ConnectionOptions.maxInflatePerRead}: 1 MiB. */
export const DEFAULT_MAX_INFLATE_PER_READ = 1024 * 1024;

/** Options of {@link Connection}. */
export interface ConnectionOptions {
  role: Role;
  /**
   * Largest message accepted, in bytes; default 64 MiB. Checked against each
   * frame's declared length before any memory is allocated for it, and against
   * the running total of a fragmented message. Stops a peer from making us
   * allocate without bound. Exceeding it fails the connection with 1009.
   */
  maxMessageSize?: number;
  /**
   * Most frames one message may be split into; default 2^20
   * ({@link DEFAULT_MAX_FRAGMENTS}, which explains why fragments are bounded by
   * what they cost rather than by a small count). Exceeding it fails the
   * connection with 1009.
   */
  maxFragments?: number;
  /**
   * Outgoing messages larger than this many bytes are sent as several frames of
   * at most this size; default 0 (never fragment).
   */
  fragmentSize?: number;
  /** Source of masking keys (client only); default a pool fed by `crypto.getRandomValues`. Tests inject fixed keys. */
  maskKeys?: () => Uint8Array;
  /** Answer every Ping with a Pong automatically; default true (RFC 6455 5.5.2 requires an answer). */
  autoPong?: boolean;
  /**
   * The per-message extension the handshake agreed on (permessage-deflate),
   * or none. Only with one may a data message arrive with RSV1 set; messages
   * that do are decoded through it, within `maxMessageSize` of decoded bytes.
   */
  extension?: MessageTransform;
  /**
   * Decoded (inflated) bytes one input call may produce before the rest of
   * that input is held back until the transport asks again ({@link
   * Connection.hasPendingInput}); default 1 MiB. Stops one small read packed
   * with compressed messages from expanding into an unbounded burst of work
   * and memory: one read yields at most this plus one message.
   */
  maxInflatePerRead?: number;
}
