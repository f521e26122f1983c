/**
 * Masking (RFC 6455 5.3): payload byte i is XORed with key byte i mod 4.
 * Payloads of 128 bytes and more go through WebAssembly SIMD when the
 * runtime has it (mask-wasm.ts), else through 32-bit words with only the
 * unaligned head and the tail done byte by byte; smaller ones are a byte loop.
 */
import { xorWithWasm } from './mask-wasm.js';

const keyBytes = new Uint8Array(4);
const keyWord = new Uint32Array(keyBytes.buffer);

/**
 * Below this many bytes a plain byte loop beats creating a word view: 128.
 * A word view needs the array's ArrayBuffer, and asking for the buffer of a
 * small array V8 keeps on its heap (64 bytes or less) moves it off the heap
 * first, which costs several times the masking itself.
 */
const WORD_THRESHOLD = 128;

/**
 * XORs `data[start..end)` with `key`, in place. `keyOffset` is the position in
 * the key cycle of `data[start]` (the payload offset of that byte, mod 4), so a
 * payload split across several chunks can be unmasked piece by piece.
 */
export function maskInPlace(
  data: Uint8Array,
  start: number,
  end: number,
  key: Uint8Array,
  keyOffset: number,
): void {
  let i = start;
  let k = keyOffset & 3;
  if (
    end - start >= WORD_THRESHOLD &&
    xorWithWasm(data, start, data, start, end, keyWordLE(key, k))
  ) {
    return;
  }
  if (end - start >= WORD_THRESHOLD) {
    const base = data.byteOffset;
    while (((base + i) & 3) !== 0) {
      data[i] = data[i]! ^ key[k]!;
      i++;
      k = (k + 1) & 3;
    }
    const words = (end - i) >>> 2;
    keyBytes[0] = key[k]!;
    keyBytes[1] = key[(k + 1) & 3]!;
    keyBytes[2] = key[(k + 2) & 3]!;
    keyBytes[3] = key[(k + 3) & 3]!;
    const kw = keyWord[0]!;
    const view = new Uint32Array(data.buffer, base + i, words);
    for (let w = 0; w < words; w++) view[w] = view[w]! ^ kw;
    i += words << 2;
  }
  for (; i < end; i++) {
    data[i] = data[i]! ^ key[k]!;
    k = (k + 1) & 3;
  }
}

/**
 * Copies `src[srcStart..srcEnd)` to `dst` at `dstStart` and unmasks the copy.
 * The source is left untouched (it may be a transport's reused read buffer).
 */
export function copyUnmasked(
  dst: Uint8Array,
  dstStart: number,
  src: Uint8Array,
  srcStart: number,
  srcEnd: number,
  key: Uint8Array,
  keyOffset: number,
): void {
  if (srcEnd - srcStart < WORD_THRESHOLD) {
    // Small payloads: one pass, four bytes a turn, no view to allocate.
    const k = keyOffset & 3;
    const k0 = key[k]!;
    const k1 = key[(k + 1) & 3]!;
    const k2 = key[(k + 2) & 3]!;
    const k3 = key[(k + 3) & 3]!;
    let i = srcStart;
    let j = dstStart;
    for (; i + 4 <= srcEnd; i += 4, j += 4) {
      dst[j] = src[i]! ^ k0;
      dst[j + 1] = src[i + 1]! ^ k1;
      dst[j + 2] = src[i + 2]! ^ k2;
      dst[j + 3] = src[i + 3]! ^ k3;
    }
    for (let r = 0; i < srcEnd; i++, j++, r++) dst[j] = src[i]! ^ key[(k + r) & 3]!;
    return;
  }
  if (xorWithWasm(dst, dstStart, src, srcStart, srcEnd, keyWordLE(key, keyOffset & 3))) return;
  dst.set(src.subarray(srcStart, srcEnd), dstStart);
  maskInPlace(dst, dstStart, dstStart + (srcEnd - srcStart), key, keyOffset);
}

/** The key as a little-endian 32-bit word, starting at key byte `k`. */
function keyWordLE(key: Uint8Array, k: number): number {
  return key[k]! | (key[(k + 1) & 3]! << 8) | (key[(k + 2) & 3]! << 16) | (key[(k + 3) & 3]! << 24);
}

const fusedKeyBytes = new Uint8Array(4);
const fusedKeyWord = new Int32Array(fusedKeyBytes.buffer);

/**
 * Copies `src` to `dst` at `dstStart`, masked with `key` from key offset 0,
 * in one pass: when both sides are 4-byte aligned the copy reads and writes
 * 32-bit words (about twice as fast as copying and then masking in place).
 * The source is left untouched.
 */
export function copyMasked(
  dst: Uint8Array,
  dstStart: number,
  src: Uint8Array,
  key: Uint8Array,
): void {
  const n = src.length;
  if (n >= WORD_THRESHOLD && xorWithWasm(dst, dstStart, src, 0, n, keyWordLE(key, 0))) return;
  if (n < WORD_THRESHOLD) {
    // One pass, four bytes a turn with the key bytes in locals.
    const k0 = key[0]!;
    const k1 = key[1]!;
    const k2 = key[2]!;
    const k3 = key[3]!;
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const j = dstStart + i;
      dst[j] = src[i]! ^ k0;
      dst[j + 1] = src[i + 1]! ^ k1;
      dst[j + 2] = src[i + 2]! ^ k2;
      dst[j + 3] = src[i + 3]! ^ k3;
    }
    for (; i < n; i++) dst[dstStart + i] = src[i]! ^ key[i & 3]!;
    return;
  }
  if (((dst.byteOffset + dstStart) & 3) !== 0 || (src.byteOffset & 3) !== 0) {
    dst.set(src, dstStart);
    maskInPlace(dst, dstStart, dstStart + n, key, 0);
    return;
  }
  fusedKeyBytes[0] = key[0]!;
  fusedKeyBytes[1] = key[1]!;
  fusedKeyBytes[2] = key[2]!;
  fusedKeyBytes[3] = key[3]!;
  const kw = fusedKeyWord[0]!;
  const words = n >>> 2;
  const s = new Int32Array(src.buffer, src.byteOffset, words);
  const d = new Int32Array(dst.buffer, dst.byteOffset + dstStart, words);
  let w = 0;
  for (; w + 4 <= words; w += 4) {
    d[w] = s[w]! ^ kw;
    d[w + 1] = s[w + 1]! ^ kw;
    d[w + 2] = s[w + 2]! ^ kw;
    d[w + 3] = s[w + 3]! ^ kw;
  }
  for (; w < words; w++) d[w] = s[w]! ^ kw;
  for (let i = words << 2; i < n; i++) dst[dstStart + i] = src[i]! ^ key[i & 3]!;
}

/** Bytes of randomness fetched at once; 4 per key, so one refill serves 2048 frames. */
const POOL_SIZE = 8192;

/**
 * Fresh masking keys from the platform's CSPRNG, fetched in bulk.
 * RFC 6455 5.3: "The masking key MUST be derived from a strong source of
 * entropy, and the masking key for a given frame MUST NOT make it simple for a
 * server or other third party to predict the masking key for a subsequent frame."
 */
export class MaskKeyPool {
  #pool = new Uint8Array(POOL_SIZE);
  #offset = POOL_SIZE;
  /** The key handed out: one array, overwritten by every call. */
  readonly #key = new Uint8Array(4);

  /** A 4-byte key, valid until the next call (the encoder copies it into the frame). */
  next(): Uint8Array {
    if (this.#offset === POOL_SIZE) {
      globalThis.crypto.getRandomValues(this.#pool);
      this.#offset = 0;
    }
    const pool = this.#pool;
    const key = this.#key;
    const at = this.#offset;
    key[0] = pool[at]!;
    key[1] = pool[at + 1]!;
    key[2] = pool[at + 2]!;
    key[3] = pool[at + 3]!;
    this.#offset = at + 4;
    return key;
  }
}
