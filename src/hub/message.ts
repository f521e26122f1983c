/**
 * What the hub carries: one WebSocket message, text as a `string` and binary
 * as a `Uint8Array`, so that a message keeps its type from the publisher to
 * every subscriber, in this process or another one.
 */

/** One message: a `string` is sent as a text message, bytes as a binary message. */
export type HubMessage = string | Uint8Array;

/** What `publish()` and `send()` accept: a string, or any ArrayBuffer or view of one. */
export type HubMessageInput = string | ArrayBufferView | ArrayBuffer;

/** Normalizes a message: strings stay strings, any BufferSource becomes a Uint8Array view (no copy). */
export function toHubMessage(message: HubMessageInput): HubMessage {
  if (typeof message === 'string') return message;
  if (message instanceof Uint8Array) return message;
  if (ArrayBuffer.isView(message)) {
    return new Uint8Array(message.buffer, message.byteOffset, message.byteLength);
  }
  if (message instanceof ArrayBuffer) return new Uint8Array(message);
  throw new TypeError('a hub message is a string or an ArrayBuffer or a view of one');
}

/**
 * A copy of `bytes` in a plain Uint8Array of its own. Not `bytes.slice()`:
 * a Node `Buffer`'s slice() is a view of the same memory, not a copy.
 */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/**
 * What a message counts for in a subscriber's queue: the bytes it takes on
 * the wire (UTF-8 for text), and at least one. An empty message is not free
 * to hold: counted as nothing, any number of them could be queued for a
 * subscriber that does not read.
 */
export function messageSize(message: HubMessage): number {
  const bytes =
    typeof message === 'string' ? Buffer.byteLength(message, 'utf8') : message.byteLength;
  return bytes > 0 ? bytes : 1;
}
