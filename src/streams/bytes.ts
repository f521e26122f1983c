/**
 * The bytes of a writable chunk, and the cheap way to check small arrays we
 * have seen before.
 *
 * V8 keeps typed arrays of at most 64 bytes on its own heap, with no
 * ArrayBuffer behind them. Reading `.buffer` of such an array (the only way to
 * tell a view of a SharedArrayBuffer or of a resizable ArrayBuffer, which a
 * write must refuse) makes V8 allocate an ArrayBuffer and move the bytes
 * there, which costs more than the rest of a small message's trip through
 * the session (bench/RESULTS.md, "Measurements behind the code"). An echo or a proxy writes back messages the library itself
 * received moments ago, and many senders write the same small array again
 * and again; the last few such arrays are recognised by identity instead. A
 * typed array never changes its buffer, and a buffer never becomes shared or
 * resizable, so an array that passed once passes for good (a detached one
 * has no bytes left and takes the full path).
 */

/** Messages of at most this many bytes may live on V8's heap: 64. */
const ON_HEAP_LIMIT = 64;
/** How many small arrays are remembered: 16 (a power of two). */
const RECENT_SIZE = 16;
const recent: Array<Uint8Array | null> = new Array<Uint8Array | null>(RECENT_SIZE).fill(null);
let recentNext = 0;

/**
 * Remembers a small array known to be over a non-shared, fixed-length
 * ArrayBuffer: a binary message about to be handed to an application (the
 * core allocated it), or a chunk that passed the check.
 */
export function rememberPlain(array: Uint8Array): void {
  if (array.byteLength > ON_HEAP_LIMIT) return;
  recentNext = (recentNext + 1) & (RECENT_SIZE - 1);
  recent[recentNext] = array;
}

function isRecent(chunk: Uint8Array): boolean {
  // Newest first: an echo finds its message at once.
  for (let i = 0, j = recentNext; i < RECENT_SIZE; i++, j = (j - 1) & (RECENT_SIZE - 1)) {
    if (recent[j] === chunk) return true;
  }
  return false;
}

const byteLengthOf = (proto: object): ((this: unknown) => number) =>
  // The getter is meant to be called on other objects: that is the brand check.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  Object.getOwnPropertyDescriptor(proto, 'byteLength')!.get! as (this: unknown) => number;
/** ArrayBuffer's own byteLength getter: it throws for anything but an ArrayBuffer, of any realm. */
const arrayBufferByteLength = byteLengthOf(ArrayBuffer.prototype);
const sharedByteLength =
  typeof SharedArrayBuffer === 'undefined' ? null : byteLengthOf(SharedArrayBuffer.prototype);

/**
 * Whether `value` is an ArrayBuffer (not shared): `instanceof` first, then
 * the brand check of its getter, so that a buffer made in another realm (a
 * `vm` context, a test environment) is one too, as in browsers.
 */
function isArrayBuffer(value: unknown): value is ArrayBuffer {
  if (value instanceof ArrayBuffer) return true;
  if (typeof value !== 'object' || value === null) return false;
  try {
    arrayBufferByteLength.call(value);
    return true;
  } catch {
    return false;
  }
}

function isSharedArrayBuffer(value: unknown): boolean {
  if (sharedByteLength === null || typeof value !== 'object' || value === null) return false;
  try {
    sharedByteLength.call(value);
    return true;
  } catch {
    return false;
  }
}

const EMPTY = new Uint8Array(0);

/**
 * The bytes of a BufferSource chunk (not copied: the encoder copies them into
 * the frame), or null for anything that is sent as text. Shared and resizable
 * buffers are refused with TypeError. A detached buffer, or a view of one,
 * has no bytes left: an empty binary message, as in Chrome.
 */
export function toBytes(chunk: unknown): Uint8Array | null {
  if (chunk instanceof Uint8Array) {
    // A detached message has no bytes left: it takes the full path below.
    if (chunk.byteLength !== 0 && chunk.byteLength <= ON_HEAP_LIMIT && isRecent(chunk)) {
      return chunk;
    }
    checkBuffer(chunk.buffer, true);
    rememberPlain(chunk);
    return chunk;
  }
  if (ArrayBuffer.isView(chunk)) {
    const buffer = chunk.buffer;
    checkBuffer(buffer, true);
    // A detached buffer's length is 0 (and a DataView of one throws on byteOffset).
    if (arrayBufferByteLength.call(buffer) === 0) return EMPTY;
    return new Uint8Array(buffer, chunk.byteOffset, chunk.byteLength);
  }
  if (isArrayBuffer(chunk)) {
    checkBuffer(chunk, false);
    return chunk.byteLength === 0 ? EMPTY : new Uint8Array(chunk);
  }
  if (isSharedArrayBuffer(chunk)) throw new TypeError('Cannot send a SharedArrayBuffer');
  return null;
}

function checkBuffer(buffer: ArrayBufferLike, view: boolean): void {
  if (!isArrayBuffer(buffer)) {
    throw new TypeError('Cannot send a view of a SharedArrayBuffer');
  }
  if ((buffer as { resizable?: boolean }).resizable === true) {
    throw new TypeError(
      view
        ? 'Cannot send a view of a resizable ArrayBuffer'
        : 'Cannot send a resizable ArrayBuffer',
    );
  }
}
