/**
 * The keys of the opening handshake (RFC 6455 4.1 and 4.2.2): the client's
 * random Sec-WebSocket-Key and the server's Sec-WebSocket-Accept.
 */
import { sha1 } from '../sha1.js';

/** RFC 6455 1.3: the GUID concatenated with the key before hashing. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** The only protocol version (RFC 6455 4.1: "The value of this header field MUST be 13"). */
export const WEBSOCKET_VERSION = '13';

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Standard base64 with padding (RFC 4648 4). */
function toBase64(bytes: Uint8Array): string {
  let s = '';
  const n = bytes.length;
  let i = 0;
  for (; i + 3 <= n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    s += BASE64[v >>> 18]! + BASE64[(v >>> 12) & 63]! + BASE64[(v >>> 6) & 63]! + BASE64[v & 63]!;
  }
  if (i + 1 === n) {
    const v = bytes[i]! << 16;
    s += BASE64[v >>> 18]! + BASE64[(v >>> 12) & 63]! + '==';
  } else if (i + 2 === n) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    s += BASE64[v >>> 18]! + BASE64[(v >>> 12) & 63]! + BASE64[(v >>> 6) & 63]! + '=';
  }
  return s;
}

const utf8Encoder = new TextEncoder();

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
  return toBase64(bytes);
}

/** Sec-WebSocket-Accept for `key`: base64(SHA-1(key + GUID)) (RFC 6455 4.2.2). */
export function acceptKey(key: string): string {
  return toBase64(sha1(utf8Encoder.encode(key + WEBSOCKET_GUID)));
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
