/**
 * The raw DEFLATE engine of permessage-deflate on node:zlib: one synchronous,
 * one-shot call per message, with the LZ77 history passed as a preset
 * dictionary (see src/core/extensions/permessage-deflate.ts).
 *
 * Why synchronous: measured on Node 20 (a 4 KiB JSON-like message compressed
 * and inflated with context takeover, window 15), the one-shot calls cost
 * about 160 µs of CPU per message against 190-270 µs for zlib streams on the
 * thread pool, and they keep no native zlib state between messages, so an
 * idle connection holds no zlib memory at all. Async zlib streams are what
 * fragmented memory in ws #1202 / node #8871 and made ws add a concurrency
 * limit of 10; nothing here runs concurrently. The cost is that one message
 * is inflated on the main thread: bounded by `maxMessageSize`.
 */
import { constants as bufferConstants } from 'node:buffer';
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import type { DecodeResult } from '../core/extensions/extension.js';
import type { RawDeflateEngine } from '../core/extensions/permessage-deflate.js';

/** The largest `maxOutputLength` zlib accepts: the runtime's largest buffer. */
const MAX_OUTPUT = bufferConstants.MAX_LENGTH;

/** Largest output chunk of an inflate call: the most held beyond the message limit when a bomb is stopped. */
export const INFLATE_CHUNK_SIZE = 64 * 1024;

/** An output chunk sized to the input (deflate rarely expands less than 4x on text), 1 to 64 KiB. */
function chunkSizeFor(inputLength: number): number {
  let size = 1024;
  while (size < inputLength * 4 && size < INFLATE_CHUNK_SIZE) size *= 2;
  return size;
}

/**
 * A message deflated against the preset dictionary `hello, hello, ` that
 * refers back into it: "hello, hello, hello!" (made with Node's zlib).
 */
const DICTIONARY_PROBE = Uint8Array.of(0xc2, 0x42, 0x29, 0x02, 0x00, 0x00, 0x00, 0xff, 0xff);

/**
 * Whether this runtime's `inflateRawSync` honours `dictionary`. Deno 2.9's
 * node:zlib ignores it (a peer's back-reference into the previous message
 * then fails with "invalid distance too far back"); Node and Bun honour it.
 * Checked once, on the first message that needs the history.
 */
let inflateTakesDictionary: boolean | undefined;

function probeInflateDictionary(): boolean {
  try {
    const out = inflateRawSync(DICTIONARY_PROBE, {
      finishFlush: constants.Z_SYNC_FLUSH,
      dictionary: Buffer.from('hello, hello, ', 'latin1'),
    });
    return out.toString('latin1') === 'hello, hello, hello!';
  } catch {
    return false;
  }
}

/**
 * @internal For tests: `false` makes the engine carry the history as on a
 * runtime that ignores `dictionary`, `undefined` probes the runtime again.
 */
export function setInflateTakesDictionary(value: boolean | undefined): void {
  inflateTakesDictionary = value;
}

/** Largest payload of one stored DEFLATE block (RFC 1951 3.2.4): 65,535 bytes. */
const STORED_MAX = 0xffff;

/**
 * `history` as non-final stored DEFLATE blocks (RFC 1951 3.2.4), followed
 * by `data`. Inflated without a dictionary, this gives `history` then the
 * message, so the message's back-references into the history resolve as
 * with a preset dictionary. A stored block ends on a byte boundary, where
 * the message's DEFLATE data starts. The history is at most the window (32
 * KiB), so there is one block in practice.
 */
function withStoredHistory(history: Uint8Array, data: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(history.length / STORED_MAX));
  const out = new Uint8Array(blocks * 5 + history.length + data.length);
  let at = 0;
  for (let from = 0; from < history.length || at === 0; from += STORED_MAX) {
    const n = Math.min(STORED_MAX, history.length - from);
    // BFINAL 0, BTYPE 00 (stored); then LEN and its one's complement, little-endian.
    out[at] = 0x00;
    out[at + 1] = n & 0xff;
    out[at + 2] = n >>> 8;
    out[at + 3] = ~n & 0xff;
    out[at + 4] = (~n >>> 8) & 0xff;
    out.set(history.subarray(from, from + n), at + 5);
    at += 5 + n;
  }
  out.set(data, at);
  return out;
}

/** The engine on node:zlib; stateless, shared by every connection. */
export const nodeDeflateEngine: RawDeflateEngine = {
  deflate(data, o) {
    return deflateRawSync(data, {
      windowBits: o.windowBits,
      memLevel: o.memLevel,
      level: o.level,
      finishFlush: constants.Z_SYNC_FLUSH,
      ...(o.dictionary === null ? {} : { dictionary: o.dictionary }),
    });
  },
  inflate(data, o): DecodeResult {
    let out: Buffer;
    // Where `dictionary` is ignored, the history goes in front of the data
    // as stored blocks instead, and is cut off the output again.
    let skip = 0;
    let input = data;
    let dictionary = o.dictionary;
    if (dictionary !== null && !(inflateTakesDictionary ??= probeInflateDictionary())) {
      input = withStoredHistory(dictionary, data);
      skip = dictionary.length;
      dictionary = null;
    }
    try {
      out = inflateRawSync(input, {
        windowBits: o.windowBits,
        finishFlush: constants.Z_SYNC_FLUSH,
        chunkSize: chunkSizeFor(data.length),
        // zlib stops producing output past this many bytes and throws
        // ERR_BUFFER_TOO_LARGE: a deflate bomb is cut off at the limit.
        // Capped at the largest buffer the runtime makes (2^32 on Node 20),
        // which zlib refuses to be given: a larger maxMessageSize is checked
        // below instead.
        maxOutputLength: Math.min(Math.max(1, o.maxBytes + skip), MAX_OUTPUT),
        ...(dictionary === null ? {} : { dictionary }),
      });
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE')
        return { ok: false, reason: 'too-big' };
      return {
        ok: false,
        reason: 'invalid',
        message: `Invalid compressed data: ${(error as Error).message}`,
      };
    }
    if (skip > 0) out = out.subarray(skip);
    if (out.length > o.maxBytes) return { ok: false, reason: 'too-big' };
    // A single output chunk comes back as a view of zlib's larger buffer: copy it,
    // so the message owns exactly its bytes and pins nothing else.
    const owned =
      out.byteOffset === 0 && out.buffer.byteLength === out.length
        ? new Uint8Array(out.buffer, 0, out.length)
        : new Uint8Array(out);
    return { ok: true, data: owned };
  },
};
