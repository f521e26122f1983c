/**
 * The keys of the opening handshake (RFC 6455 4.1 and 4.2.2): the client's
 * random Sec-WebSocket-Key and the server's Sec-WebSocket-Accept.
 */
/**
 * SHA-1 of `text` (ASCII), base64-encoded with padding: what a
 * Sec-WebSocket-Accept value is made of. The I/O layer supplies it (Node,
 * Deno and Bun have node:crypto; a browser never computes an accept key), so
 * the core carries no hash of its own.
 */
export type Sha1Base64 = (text: string) => string;

/** RFC 6455 1.3: the GUID concatenated with the key before hashing. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** The only protocol version (RFC 6455 4.1: "The value of this header field MUST be 13"). */
export const WEBSOCKET_VERSION = '13';

/**
 * Random bytes for keys, fetched 1 KiB (64 keys) at a time: one
 * getRandomValues call costs tens of microseconds on some runtimes.
 */
const KEY_POOL_SIZE = 1024;
const keyPool = new Uint8Array(KEY_POOL_SIZE);
let keyPoolOffset = KEY_POOL_SIZE;

/**
 * A fresh Sec-WebSocket-Key: 16 random bytes, base64. RFC 6455 4.1: "The
 * nonce MUST be selected randomly for each connection."
 */
export function generateKey(): string {
  if (keyPoolOffset === KEY_POOL_SIZE) {
    globalThis.crypto.getRandomValues(keyPool);
    keyPoolOffset = 0;
  }
  const bytes = keyPool.subarray(keyPoolOffset, keyPoolOffset + 16);
  keyPoolOffset += 16;
  return btoa(String.fromCharCode.apply(null, bytes as unknown as number[]));
}

/** Sec-WebSocket-Accept for `key`: base64(SHA-1(key + GUID)) (RFC 6455 4.2.2). */
export function acceptKey(key: string, sha1Base64: Sha1Base64): string {
  return sha1Base64(key + WEBSOCKET_GUID);
}

/** RFC 6455 4.2.1: the key "when decoded, is 16 bytes in length". */
export function isValidKey(key: string): boolean {
  // 16 bytes are 22 base64 characters and "==".
  if (key.length !== 24 || !key.endsWith('==')) return false;
  for (let i = 0; i < 22; i++) {
    const c = key.charCodeAt(i);
    const ok =
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === 0x2b ||
      c === 0x2f;
    if (!ok) return false;
  }
  // The last character before the padding carries 2 bits; the rest must be zero.
  return 'AQgw'.includes(key[21]!);
}
