/**
 * The SHA-1 the core's handshake needs for Sec-WebSocket-Accept, from
 * node:crypto (which Deno and Bun provide too): about twice as fast as the
 * hand-written one it replaced (see bench/RESULTS.md).
 */
import { createHash } from 'node:crypto';
import type { Sha1Base64 } from '../core/handshake/index.js';

/** base64(SHA-1(text)) of an ASCII `text` (RFC 6455 4.2.2's key and GUID). */
export const sha1Base64: Sha1Base64 = (text) =>
  createHash('sha1').update(text, 'latin1').digest('base64');
