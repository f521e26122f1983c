/**
 * The permessage-deflate transform (RFC 7692 7.2), sans I/O: framing of the
 * compressed payload, the compression threshold and the LZ77 context carried
 * between messages live here; the raw DEFLATE calls are injected
 * ({@link RawDeflateEngine}, implemented on node:zlib by the Node layer).
 *
 * Context takeover is kept as the last 2^windowBits bytes of each
 * direction's uncompressed history, handed to the next one-shot call as a
 * preset dictionary. Nothing native lives between messages: an idle
 * connection costs at most those two byte arrays (see docs/compression.md).
 */
import type { DecodeResult, MessageTransform } from './extension.js';
import {
  DEFAULT_CLIENT_MEM_LEVEL,
  DEFAULT_DEFLATE_THRESHOLD,
  DEFAULT_SERVER_MEM_LEVEL,
  type DeflateParams,
  type PerMessageDeflateOptions,
} from './deflate-negotiation.js';

/** One-shot raw DEFLATE calls (RFC 1951), supplied by the runtime layer. */
export interface RawDeflateEngine {
  /**
   * Compresses `data` as raw DEFLATE ending in a sync flush (so the output
   * ends with `00 00 ff ff`), with `dictionary` as preset history if given.
   */
  deflate(
    data: Uint8Array,
    options: { windowBits: number; memLevel: number; level: number; dictionary: Uint8Array | null },
  ): Uint8Array;
  /**
   * Inflates raw DEFLATE data (not necessarily final), with `dictionary` as
   * preset history if given. Stops as soon as the output would pass
   * `maxBytes` and reports 'too-big', having held at most `maxBytes` plus one
   * output chunk; reports 'invalid' for data that is not DEFLATE.
   */
  inflate(
    data: Uint8Array,
    options: { windowBits: number; dictionary: Uint8Array | null; maxBytes: number },
  ): DecodeResult;
}

/** RFC 7692 7.2.1: the four octets a sync flush ends with, removed before sending. */
const TAIL = Uint8Array.of(0x00, 0x00, 0xff, 0xff);

/** Appends `next` to `history`, keeping its last `size` bytes (a fresh array). */
function slide(history: Uint8Array | null, next: Uint8Array, size: number): Uint8Array {
  if (next.length >= size) return next.slice(next.length - size);
  const keep = history === null ? 0 : Math.min(history.length, size - next.length);
  const out = new Uint8Array(keep + next.length);
  if (keep > 0) out.set(history!.subarray(history!.length - keep), 0);
  out.set(next, keep);
  return out;
}

/** permessage-deflate for one connection, as one end of it. */
export class PerMessageDeflate implements MessageTransform {
  readonly header: string;
  readonly params: DeflateParams;
  readonly #engine: RawDeflateEngine;
  readonly #sendBits: number;
  readonly #sendTakeover: boolean;
  readonly #receiveBits: number;
  readonly #receiveTakeover: boolean;
  readonly #memLevel: number;
  readonly #level: number;
  readonly threshold: number;
  #sendHistory: Uint8Array | null = null;
  #receiveHistory: Uint8Array | null = null;

  constructor(
    role: 'client' | 'server',
    negotiated: { params: DeflateParams; header: string },
    engine: RawDeflateEngine,
    options: PerMessageDeflateOptions = {},
  ) {
    const p = negotiated.params;
    this.header = negotiated.header;
    this.params = p;
    this.#engine = engine;
    const client = role === 'client';
    this.#sendBits = client ? p.clientMaxWindowBits : p.serverMaxWindowBits;
    this.#sendTakeover = !(client ? p.clientNoContextTakeover : p.serverNoContextTakeover);
    this.#receiveBits = client ? p.serverMaxWindowBits : p.clientMaxWindowBits;
    this.#receiveTakeover = !(client ? p.serverNoContextTakeover : p.clientNoContextTakeover);
    this.#memLevel =
      options.memLevel ?? (client ? DEFAULT_CLIENT_MEM_LEVEL : DEFAULT_SERVER_MEM_LEVEL);
    this.#level = options.level ?? 6;
    this.threshold = options.threshold ?? DEFAULT_DEFLATE_THRESHOLD;
  }

  /** Bytes of LZ77 history held between messages (both directions). */
  get heldBytes(): number {
    return (this.#sendHistory?.length ?? 0) + (this.#receiveHistory?.length ?? 0);
  }

  encode(payload: Uint8Array): Uint8Array | null {
    if (payload.length === 0 || payload.length < this.threshold) return null;
    const out = this.#engine.deflate(payload, {
      // zlib makes no raw DEFLATE with a 256-byte window (Node turns 8 into 9),
      // but at 9 it never reaches back further than 2^9 - 262 = 250 bytes
      // (MAX_DIST): a window of 8 agreed with the peer is kept by compressing
      // with 9, as ws does. The history handed over stays 2^8 bytes.
      windowBits: Math.max(9, this.#sendBits),
      memLevel: this.#memLevel,
      level: this.#level,
      dictionary: this.#sendHistory,
    });
    if (this.#sendTakeover)
      this.#sendHistory = slide(this.#sendHistory, payload, 1 << this.#sendBits);
    // RFC 7692 7.2.1: "Remove 4 octets (that are 0x00 0x00 0xff 0xff) from the
    // tail end" of the compressed data. The engine always ends with them.
    return out.subarray(0, out.length - TAIL.length);
  }

  /** Room for the tail appended before inflating. */
  readonly decodeSlack = TAIL.length;

  decode(payload: Uint8Array, maxBytes: number, slack = 0): DecodeResult {
    // RFC 7692 7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of
    // the payload of the message" and decompress.
    let input: Uint8Array;
    if (slack >= TAIL.length) {
      input = new Uint8Array(payload.buffer, payload.byteOffset, payload.length + TAIL.length);
    } else {
      input = new Uint8Array(payload.length + TAIL.length);
      input.set(payload, 0);
    }
    input.set(TAIL, payload.length);
    const result = this.#engine.inflate(input, {
      // Inflating with the largest window accepts every window the peer may use.
      windowBits: 15,
      dictionary: this.#receiveHistory,
      maxBytes,
    });
    if (result.ok && this.#receiveTakeover) {
      this.#receiveHistory = slide(this.#receiveHistory, result.data, 1 << this.#receiveBits);
    }
    return result;
  }
}
