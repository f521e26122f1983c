/**
 * The wire envelope of a message between hubs, binary-safe so that any
 * broker that carries bytes (Redis pub/sub, IPC) carries it unchanged:
 *
 * ```
 * byte 0      kind: 0x00 text (payload is UTF-8), 0x01 binary
 * bytes 1-16  the publishing node's id (16 random bytes per hub process)
 * bytes 17-   the payload
 * ```
 *
 * The node id lets a node recognise its own messages when the broker hands
 * them back (Redis delivers a publish to every subscriber of the channel,
 * the publishing connection's process included) and ignore them: it already
 * delivered them locally.
 */
import { randomBytes } from 'node:crypto';
import type { HubMessage } from './message.js';

/** Envelope kinds. */
export const EnvelopeKind = { TEXT: 0x00, BINARY: 0x01 } as const;

/** Bytes before the payload. */
export const ENVELOPE_HEADER_SIZE = 17;

/** A fresh node id: 16 random bytes. */
export function newNodeId(): Buffer {
  return randomBytes(16);
}

/** Wraps `message` with its kind and `nodeId`. */
export function encodeEnvelope(nodeId: Buffer, message: HubMessage): Buffer {
  if (typeof message === 'string') {
    const size = Buffer.byteLength(message, 'utf8');
    const out = Buffer.allocUnsafe(ENVELOPE_HEADER_SIZE + size);
    out[0] = EnvelopeKind.TEXT;
    nodeId.copy(out, 1, 0, 16);
    out.write(message, ENVELOPE_HEADER_SIZE, 'utf8');
    return out;
  }
  const out = Buffer.allocUnsafe(ENVELOPE_HEADER_SIZE + message.byteLength);
  out[0] = EnvelopeKind.BINARY;
  nodeId.copy(out, 1, 0, 16);
  out.set(message, ENVELOPE_HEADER_SIZE);
  return out;
}

/** A decoded envelope, or null when `data` is not one (too short, unknown kind). */
export function decodeEnvelope(data: Uint8Array): { nodeId: Buffer; message: HubMessage } | null {
  if (data.byteLength < ENVELOPE_HEADER_SIZE) return null;
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const nodeId = buf.subarray(1, ENVELOPE_HEADER_SIZE);
  const payload = buf.subarray(ENVELOPE_HEADER_SIZE);
  if (buf[0] === EnvelopeKind.TEXT) return { nodeId, message: payload.toString('utf8') };
  if (buf[0] === EnvelopeKind.BINARY) return { nodeId, message: payload };
  return null;
}
