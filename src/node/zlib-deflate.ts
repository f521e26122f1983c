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
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import type { DecodeResult } from '../core/extensions/extension.js';
import type { RawDeflateEngine } from '../core/extensions/permessage-deflate.js';

/** Largest output chunk of an inflate call: the most held beyond the message limit when a bomb is stopped. */
export const INFLATE_CHUNK_SIZE = 64 * 1024;

/** An output chunk sized to the input (deflate rarely expands less than 4x on text), 1 to 64 KiB. */
function chunkSizeFor(inputLength: number): number {
  let size = 1024;
  while (size < inputLength * 4 && size < INFLATE_CHUNK_SIZE) size *= 2;
  return size;
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
    try {
      out = inflateRawSync(data, {
        windowBits: o.windowBits,
        finishFlush: constants.Z_SYNC_FLUSH,
        chunkSize: chunkSizeFor(data.length),
        // zlib stops producing output past this many bytes and throws
        // ERR_BUFFER_TOO_LARGE: a deflate bomb is cut off at the limit.
        maxOutputLength: Math.max(1, o.maxBytes),
        ...(o.dictionary === null ? {} : { dictionary: o.dictionary }),
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
