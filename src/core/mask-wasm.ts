/**
 * Masking with WebAssembly SIMD: 16 bytes per XOR instead of 4, about three
 * times the speed of the 32-bit word loop in JavaScript for payloads of
 * 128 bytes and more, even with the copies in and out of the module's memory.
 * Used when the runtime has WebAssembly with SIMD (Node 16+, Deno, Bun,
 * current browsers); the word loop in mask.ts is the fallback.
 *
 * The module, in its text form (the bytes below are this, assembled):
 *
 *   (module
 *     (memory (export "memory") 2)                  ;; 128 KiB
 *     (func (export "xor") (param $ptr i32) (param $len i32) (param $key i32)
 *       (local $end i32) (local $k v128)
 *       (local.set $k (i32x4.splat (local.get $key)))
 *       (local.set $end (i32.add (local.get $ptr) (local.get $len)))
 *       (block (loop
 *         (br_if 1 (i32.ge_u (local.get $ptr) (local.get $end)))
 *         ;; 64 bytes per turn: offsets 0, 16, 32, 48
 *         (v128.store offset=0 (local.get $ptr)
 *           (v128.xor (v128.load offset=0 (local.get $ptr)) (local.get $k)))
 *         ...
 *         (local.set $ptr (i32.add (local.get $ptr) (i32.const 64)))
 *         (br 0)))))
 *
 * `len` is rounded up to 64: the bytes past the payload are scratch.
 */

/** Bytes moved through the module's memory per call: 64 KiB (it has 128 KiB). */
const CHUNK = 64 * 1024;

const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const SIMD = 0xfd;
const V128_LOAD = 0x00;
const V128_STORE = 0x0b;
const I32X4_SPLAT = 0x11;
const V128_XOR = 0x51;

function section(id: number, content: number[]): number[] {
  return [id, content.length, ...content];
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  // load(ptr + off) ^ k, stored back at ptr + off (memarg: alignment 2^0, offset).
  // prettier-ignore
  const xorAt = (off: number): number[] => [
    LOCAL_GET, 0, LOCAL_GET, 0, SIMD, V128_LOAD, 0, off,
    LOCAL_GET, 4, SIMD, V128_XOR, SIMD, V128_STORE, 0, off,
  ];
  // prettier-ignore
  const body = [
    0x02, 0x01, 0x7f, 0x01, 0x7b, // locals: $end i32, $k v128
    LOCAL_GET, 2, SIMD, I32X4_SPLAT, LOCAL_SET, 4, // $k = splat($key)
    LOCAL_GET, 0, LOCAL_GET, 1, 0x6a, LOCAL_SET, 3, // $end = $ptr + $len
    0x02, 0x40, 0x03, 0x40, // block, loop
    LOCAL_GET, 0, LOCAL_GET, 3, 0x4f, 0x0d, 0x01, // br_if 1 ($ptr >= $end)
    ...xorAt(0x00), ...xorAt(0x10), ...xorAt(0x20), ...xorAt(0x30),
    LOCAL_GET, 0, 0x41, 0xc0, 0x00, 0x6a, LOCAL_SET, 0, // $ptr += 64
    0x0c, 0x00, 0x0b, 0x0b, 0x0b, // br 0, end loop, end block, end func
  ];
  // prettier-ignore
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, [0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00]), // type: (i32 i32 i32) -> ()
    ...section(3, [0x01, 0x00]), // one function of type 0
    ...section(5, [0x01, 0x00, 0x02]), // one memory, 2 pages
    ...section(7, [
      0x02,
      0x06, ...[0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79], 0x02, 0x00, // "memory"
      0x03, ...[0x78, 0x6f, 0x72], 0x00, 0x00, // "xor"
    ]),
    ...section(10, [0x01, body.length, ...body]),
  ]);
}

interface WasmMasker {
  heap: Uint8Array;
  xor: (ptr: number, len: number, key: number) => void;
}

/** undefined: not tried yet; null: not available. */
let masker: WasmMasker | null | undefined;
let enabled = true;

function load(): WasmMasker | null {
  try {
    // A module this small may be compiled synchronously everywhere.
    const instance = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes()));
    const exports = instance.exports as { memory: WebAssembly.Memory; xor: WasmMasker['xor'] };
    return { heap: new Uint8Array(exports.memory.buffer), xor: exports.xor };
  } catch {
    // No WebAssembly, or no SIMD.
    return null;
  }
}

/**
 * @internal Turns the WebAssembly path off or on (tests run both paths).
 * Returns whether it is available.
 */
export function setWasmMasking(on: boolean): boolean {
  enabled = on;
  masker ??= load();
  return masker !== null;
}

/**
 * Writes `src[srcStart..srcEnd)` XOR the key into `dst` at `dstStart` (the
 * two may be the same bytes). `keyWord` is the key as a little-endian
 * 32-bit word (key byte 0 in the low byte), already rotated to the key
 * position of `src[srcStart]`. Returns false, having done nothing, when
 * WebAssembly SIMD is not available.
 */
export function xorWithWasm(
  dst: Uint8Array,
  dstStart: number,
  src: Uint8Array,
  srcStart: number,
  srcEnd: number,
  keyWord: number,
): boolean {
  if (!enabled) return false;
  masker ??= load();
  if (masker === null) return false;
  const { heap, xor } = masker;
  for (let from = srcStart; from < srcEnd;) {
    const to = Math.min(srcEnd, from + CHUNK);
    const n = to - from;
    heap.set(from === 0 && to === src.length ? src : src.subarray(from, to), 0);
    // Chunks are multiples of 4 bytes, so the key position carries over.
    xor(0, (n + 63) & ~63, keyWord);
    dst.set(heap.subarray(0, n), dstStart + (from - srcStart));
    from = to;
  }
  return true;
}
