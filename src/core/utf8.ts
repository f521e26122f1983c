/**
 * Incremental UTF-8 validation (RFC 3629), as RFC 6455 8.1 requires: "When an
 * endpoint is to interpret a byte stream as UTF-8 but finds that the byte
 * stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the
 * WebSocket Connection_."
 *
 * The validator fails on the first byte that cannot continue a valid sequence
 * (overlongs, surrogates and code points above U+10FFFF are caught at their
 * second byte), so a message is rejected as soon as its invalid prefix arrives,
 * not when it completes. It agrees with `new TextDecoder('utf-8', {fatal: true})`.
 */

/** Validation state between chunks: how many continuation bytes are still due and the allowed range of the next. */
export class Utf8Validator {
  /** Continuation bytes still expected by the current sequence. */
  #need = 0;
  /** Bounds for the next continuation byte (tightened after E0, ED, F0, F4). */
  #lower = 0x80;
  #upper = 0xbf;

  /** Resets the validator for a new message. */
  reset(): void {
    this.#need = 0;
    this.#lower = 0x80;
    this.#upper = 0xbf;
  }

  /** Whether the bytes seen so far end on a code point boundary. */
  get complete(): boolean {
    return this.#need === 0;
  }

  /**
   * Validates `data[start..end)` as the continuation of the stream so far.
   * Returns false as soon as the stream can no longer be valid UTF-8.
   */
  update(data: Uint8Array, start = 0, end = data.length): boolean {
    let need = this.#need;
    let lower = this.#lower;
    let upper = this.#upper;
    let i = start;
    /** The aligned 4-byte words of `data[start..end)`, from index `wordsFrom` on (made on first use). */
    let words: Uint32Array | null = null;
    let wordsFrom = 0;
    // Blocks of at most BLOCK bytes: each starts, on a code point boundary with
    // WORD_SCAN_MIN or more bytes left, with a word-at-a-time scan over the
    // ASCII there, then checks bytes up to the block's end. Mixed text pays one
    // short scan per block instead of a length check per ASCII run; a long ASCII
    // run is scanned by words from the next block on.
    while (i < end) {
      if (need === 0 && end - i >= WORD_SCAN_MIN) {
        if (words === null) {
          const misaligned = (data.byteOffset + start) % 4;
          wordsFrom = misaligned === 0 ? start : start + 4 - misaligned;
          words = new Uint32Array(
            data.buffer,
            data.byteOffset + wordsFrom,
            (end - wordsFrom) >>> 2,
          );
        }
        i = asciiRunEnd(data, words, wordsFrom, i, end);
        if (i === end) break;
      }
      const blockEnd = end - i > BLOCK ? i + BLOCK : end;
      while (i < blockEnd) {
        if (need === 0) {
          let b = data[i]!;
          while (b < 0x80) {
            if (++i === blockEnd) break;
            b = data[i]!;
          }
          // (A labelled continue here made short ASCII input a third slower on Node 20.)
          if (i === blockEnd) break;
          // A sequence that ends within this chunk is checked whole; one cut off
          // by the chunk's end goes through the state kept between chunks.
          if (b >= 0xc2 && b <= 0xdf) {
            if (i + 1 < end) {
              if ((data[i + 1]! & 0xc0) !== 0x80) return this.#failed();
              i += 2;
              continue;
            }
            need = 1;
          } else if (b >= 0xe0 && b <= 0xef) {
            if (b === 0xe0)
              lower = 0xa0; // overlong three-byte forms
            else if (b === 0xed) upper = 0x9f; // UTF-16 surrogates
            if (i + 2 < end) {
              const c = data[i + 1]!;
              if (c < lower || c > upper || (data[i + 2]! & 0xc0) !== 0x80) return this.#failed();
              lower = 0x80;
              upper = 0xbf;
              i += 3;
              continue;
            }
            need = 2;
          } else if (b >= 0xf0 && b <= 0xf4) {
            if (b === 0xf0)
              lower = 0x90; // overlong four-byte forms
            else if (b === 0xf4) upper = 0x8f; // above U+10FFFF
            if (i + 3 < end) {
              const c = data[i + 1]!;
              if (
                c < lower ||
                c > upper ||
                (data[i + 2]! & 0xc0) !== 0x80 ||
                (data[i + 3]! & 0xc0) !== 0x80
              ) {
                return this.#failed();
              }
              lower = 0x80;
              upper = 0xbf;
              i += 4;
              continue;
            }
            need = 3;
          } else {
            return this.#failed();
          }
          i++;
        } else {
          const b = data[i]!;
          if (b < lower || b > upper) return this.#failed();
          lower = 0x80;
          upper = 0xbf;
          need--;
          i++;
        }
      }
    }
    // With no sequence open, lower and upper hold their defaults: saving them
    // also clears bounds a lead byte (E0, ED, F0, F4) at the end of the
    // previous chunk tightened.
    this.#need = need;
    this.#lower = lower;
    this.#upper = upper;
    return true;
  }

  #failed(): false {
    this.reset();
    return false;
  }
}

/**
 * Below this many bytes left in a chunk, ASCII is checked byte by byte: the
 * word view costs an allocation per call, more than it saves on short input.
 */
const WORD_SCAN_MIN = 128;

/**
 * Bytes checked one by one before the next word scan is tried. Measured with
 * bench/utf8.ts on Node 20 and 24, Deno 2 and Bun: a per-run length check (the
 * earlier design) made mixed text 10 to 30% slower than a plain byte loop; with
 * one scan per 512 bytes it validates as fast as that loop or faster (within
 * about 5% of a validator with no word scan at all), and long ASCII runs four
 * to five times as fast.
 */
const BLOCK = 512;

/**
 * The index of the first byte at or after `i` that is not ASCII, or `end`:
 * byte by byte up to a word boundary, then through `words` (the aligned words
 * of `data` from index `wordsFrom` on; the high-bit mask is the same in either
 * byte order), then byte by byte to the end.
 */
function asciiRunEnd(
  data: Uint8Array,
  words: Uint32Array,
  wordsFrom: number,
  i: number,
  end: number,
): number {
  while (i < end && (i < wordsFrom || (i - wordsFrom) % 4 !== 0)) {
    if (data[i]! >= 0x80) return i;
    i++;
  }
  if (i < end) {
    const n = words.length;
    let k = (i - wordsFrom) >>> 2;
    for (; k + 4 <= n; k += 4) {
      if (((words[k]! | words[k + 1]! | words[k + 2]! | words[k + 3]!) & 0x80808080) !== 0) break;
    }
    for (; k < n; k++) if ((words[k]! & 0x80808080) !== 0) break;
    if (k > (i - wordsFrom) >>> 2) i = wordsFrom + k * 4;
  }
  while (i < end && data[i]! < 0x80) i++;
  return i;
}

/** Whether `data` is, as a whole, valid UTF-8. */
export function isValidUtf8(data: Uint8Array): boolean {
  const v = new Utf8Validator();
  return v.update(data) && v.complete;
}

/**
 * Whether a one-shot fatal `TextDecoder` is about as fast as a lenient one, so
 * that validating and decoding in one call beats this module's validator
 * followed by a decode. Measured on Node 20 to 26 and Bun (where it is, several
 * times over for long ASCII text) and on Deno 2 (where it is not: its fatal
 * decoder takes a generic path, slower than the validator plus its lenient
 * decode). Browsers' decoders (encoding_rs, Blink's and WebKit's codecs) check
 * validity in the same loop either way.
 */
export const fatalDecodeIsFast: boolean =
  typeof (globalThis as { Deno?: unknown }).Deno === 'undefined';

// ignoreBOM: a leading U+FEFF is part of the message's text, not a byte order mark to drop.
const fatalDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenientDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * Decodes `data` as UTF-8 that is already known to be valid (a leading BOM is
 * kept as U+FEFF).
 */
export function decodeValidUtf8(data: Uint8Array): string {
  return data.length === 0 ? '' : lenientDecoder.decode(data);
}

/**
 * Validates and decodes `data` as a whole in one pass where the runtime allows
 * (see {@link fatalDecodeIsFast}), else validates, then decodes. Returns null
 * if `data` is not valid UTF-8. A leading BOM is kept as U+FEFF.
 */
export function decodeUtf8(data: Uint8Array): string | null {
  if (data.length === 0) return '';
  if (fatalDecodeIsFast) {
    try {
      return fatalDecoder.decode(data);
    } catch (error) {
      // TypeError: the encoding spec's failure of a fatal decode. Anything else (a
      // string longer than the runtime allows) is not about the bytes: thrown on.
      if (error instanceof TypeError) return null;
      throw error;
    }
  }
  return isValidUtf8(data) ? lenientDecoder.decode(data) : null;
}
