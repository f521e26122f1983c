/**
 * Where a session's next socket read goes: into the message being received
 * (no copy) or into the transport's shared read buffer, and how much of it.
 */
import type { Connection } from '../core/connection.js';

/**
 * Frames with at least this many payload bytes still to come are read
 * straight into their message's buffer when the transport allows it: 32 KiB.
 * Below it, the copy from a shared read buffer costs less than the extra read
 * that reading a header on its own takes.
 */
const DIRECT_READ_MIN = 32 * 1024;

/**
 * After a data frame of at least this many payload bytes, the next read
 * takes just a frame header, so that the payload of the next (likely as
 * large) frame is read in place: 256 KiB. For smaller frames, one large
 * read that brings several of them costs less than two reads per frame.
 */
const HEADER_READ_AFTER = 256 * 1024;

/** The longest frame header (RFC 6455 5.2: 2 + 8 length bytes + 4 mask bytes). */
const MAX_HEADER_SIZE = 14;

/**
 * Where the transport's next read should go: straight into the message
 * being received when at least {@link DIRECT_READ_MIN} bytes of its frame
 * are still to come (no copy); after a large frame, just the next header
 * (another large frame is likely, and its payload can then be read in
 * place); else as much as the transport reads at once (Infinity).
 */
export function nextRead(conn: Connection): Uint8Array | number {
  const target = conn.payloadTarget(DIRECT_READ_MIN);
  if (target !== null) return target;
  return conn.lastDataFrameLength >= HEADER_READ_AFTER ? MAX_HEADER_SIZE : Infinity;
}
