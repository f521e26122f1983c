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

/**
 * The bytes of a BufferSource chunk (not copied: the encoder copies them into
 * the frame), or null for anything that is sent as text. Shared and resizable
 * buffers are refused with TypeError.
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
  if (chunk instanceof ArrayBuffer) {
    checkBuffer(chunk, false);
    return new Uint8Array(chunk);
  }
  if (ArrayBuffer.isView(chunk)) {
    checkBuffer(chunk.buffer, true);
    return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  if (typeof SharedArrayBuffer !== 'undefined' && chunk instanceof SharedArrayBuffer) {
    throw new TypeError('Cannot send a SharedArrayBuffer');
  }
  return null;
}

function checkBuffer(buffer: ArrayBufferLike, view: boolean): void {
  if (!(buffer instanceof ArrayBuffer)) {
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
