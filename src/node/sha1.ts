/**
 * The SHA-1 the core's handshake needs for Sec-WebSocket-Accept, from
 * node:crypto (which Deno and Bun provide too): the one-shot `hash()` where
 * the runtime has it (Node 20.12+, Deno, Bun; about 2.5 times as fast as a
 * Hash object, which stays the fallback).
 */
import * as crypto from 'node:crypto';
import type { Sha1Base64 } from '../core/handshake/index.js';

type OneShot = (algorithm: string, data: string, encoding: 'base64') => string;
const oneShot = (crypto as { hash?: OneShot }).hash;

/** base64(SHA-1(text)) of an ASCII `text` (RFC 6455 4.2.2's key and GUID). */
export const sha1Base64: Sha1Base64 =
  typeof oneShot === 'function'
    ? (text) => oneShot('sha1', text, 'base64')
    : (text) => crypto.createHash('sha1').update(text, 'latin1').digest('base64');
