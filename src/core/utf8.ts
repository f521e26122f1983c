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
    while (i < end) {
      if (need === 0) {
        // Fast path: runs of ASCII.
        let b = data[i]!;
        while (b < 0x80) {
          if (++i === end) {
            // Save the bounds too: the stored ones may still be those a lead byte
            // (E0, ED, F0, F4) at the end of the previous chunk tightened.
            this.#need = 0;
            this.#lower = 0x80;
            this.#upper = 0xbf;
            return true;
          }
          b = data[i]!;
        }
        if (b >= 0xc2 && b <= 0xdf) {
          need = 1;
        } else if (b >= 0xe0 && b <= 0xef) {
          need = 2;
          if (b === 0xe0)
            lower = 0xa0; // overlong three-byte forms
          else if (b === 0xed) upper = 0x9f; // UTF-16 surrogates
        } else if (b >= 0xf0 && b <= 0xf4) {
          need = 3;
          if (b === 0xf0)
            lower = 0x90; // overlong four-byte forms
          else if (b === 0xf4) upper = 0x8f; // above U+10FFFF
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

/** Whether `data` is, as a whole, valid UTF-8. */
export function isValidUtf8(data: Uint8Array): boolean {
  const v = new Utf8Validator();
  return v.update(data) && v.complete;
}
