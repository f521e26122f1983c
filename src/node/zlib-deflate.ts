/**
 * The raw DEFLATE engine of permessage-deflate on node:zlib: synchronous
 * calls for each message, with the LZ77 history passed as a preset
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
 *
 * Inflating drives zlib's native handle the way node's own `inflateRawSync`
 * does, but with output buffers of its choosing: `inflateRawSync` collects
 * its output in chunks and joins them, so a message of N bytes held 2N. A
 * large message is inflated twice instead: once to learn its size, reusing
 * one chunk, then into a buffer of exactly that size. Where the runtime's
 * node:zlib has no such handle, the one-shot call stays.
 */
import { constants as bufferConstants } from 'node:buffer';
import {
  constants,
  createInflateRaw,
  deflateRawSync,
  inflateRawSync,
  type InflateRaw,
} from 'node:zlib';
import { allocate } from '../core/allocate.js';
import type { DecodeResult } from '../core/extensions/extension.js';
import type { RawDeflateEngine } from '../core/extensions/permessage-deflate.js';

/** The largest `maxOutputLength` zlib accepts: the runtime's largest buffer. */
const MAX_OUTPUT = bufferConstants.MAX_LENGTH;

/** Largest output chunk of an inflate call: the most inflated beyond the message limit when a bomb is stopped. */
export const INFLATE_CHUNK_SIZE = 64 * 1024;

/**
 * Output kept in chunks while a message inflates, 1 MiB: a message that ends
 * within it is joined into one buffer (it held at most twice this), a longer
 * one is only counted past it and inflated again into a buffer of its size.
 * The second pass costs CPU (25-40 % more for 1 to 8 MiB of JSON-like text,
 * Node 20), but on very large messages less than the allocations and the
 * copy of joining did: 64 MiB of repetitive JSON took 80-110 ms against
 * 200-480 ms for `inflateRawSync`.
 */
export const INFLATE_KEPT_OUTPUT = 1024 * 1024;

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
    // Capped at the largest buffer the runtime makes (2^32 on Node 20): a
    // larger maxMessageSize ("no limit") allows any message that fits one.
    const maxBytes = Math.min(o.maxBytes, MAX_OUTPUT);
    return ((handleInflate ??= probeHandleInflate()) ? inflateOnHandle : inflateOneShot)(
      input,
      o.windowBits,
      dictionary,
      skip,
      maxBytes,
      chunkSizeFor(data.length),
    );
  },
};

/** The part of node:zlib's native handle that node's own sync calls use. */
interface ZlibHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOffset: number,
    inLength: number,
    output: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void;
  close(): void;
  /** Called by the handle, during writeSync, when the data is not DEFLATE. */
  onerror?: (message: string, errno: number, code?: string) => void;
}

/** What node's zlib objects keep of their handle: the handle, and where it reports what is left after each write. */
interface HandleHolder {
  _handle?: ZlibHandle | null;
  /** [output bytes left, input bytes left] after the last write. */
  _writeState?: Uint32Array;
}

/** Whether this runtime's node:zlib lets output go into buffers of the caller's choosing. */
let handleInflate: boolean | undefined;

function probeHandleInflate(): boolean {
  const holder = createInflateRaw() as unknown as HandleHolder;
  const ok =
    typeof holder._handle?.writeSync === 'function' && holder._writeState instanceof Uint32Array;
  (holder as unknown as InflateRaw).close();
  return ok;
}

/** @internal For tests: `false` makes the engine inflate with one-shot calls, `undefined` probes the runtime again. */
export function setHandleInflate(value: boolean | undefined): void {
  handleInflate = value;
}

function ignore(): void {}

/**
 * One raw DEFLATE stream inflated synchronously, its output going wherever
 * each {@link write} says: the whole input is given at once.
 */
class Inflater {
  readonly #zlib: InflateRaw;
  readonly #handle: ZlibHandle;
  readonly #state: Uint32Array;
  readonly #input: Uint8Array;
  #inOffset = 0;
  #inLeft: number;
  /** What the handle reported during the last write: the data is not DEFLATE. */
  #error: Error | null = null;
  /** zlib stopped with room left in the output: every byte it can make from the input is out. */
  ended = false;

  constructor(input: Uint8Array, windowBits: number, dictionary: Uint8Array | null) {
    // The smallest chunk size: the stream's own output buffer is never used.
    this.#zlib = createInflateRaw({
      windowBits,
      chunkSize: constants.Z_MIN_CHUNK,
      ...(dictionary === null ? {} : { dictionary }),
    });
    // The handle reports invalid data to its `onerror` during writeSync.
    // node:zlib's own handler destroys the stream (Node and Bun at once,
    // Deno only a tick later, leaving `destroyed` false and the write
    // looking like the end of the data) and emits 'error': the error is
    // taken here instead, and the handle closed by close().
    this.#zlib.on('error', ignore);
    const holder = this.#zlib as unknown as HandleHolder;
    this.#handle = holder._handle!;
    this.#handle.onerror = (message) => {
      this.#error ??= new Error(message);
    };
    this.#state = holder._writeState!;
    this.#input = input;
    this.#inLeft = input.length;
  }

  /** Inflates into `out[from, to)`; returns the bytes written, or an Error for data that is not DEFLATE. */
  write(out: Uint8Array, from: number, to: number): number | Error {
    this.#handle.writeSync(
      constants.Z_SYNC_FLUSH,
      this.#input,
      this.#inOffset,
      this.#inLeft,
      out,
      from,
      to - from,
    );
    if (this.#error !== null) return this.#error;
    if (this.#zlib.destroyed) return this.#zlib.errored ?? new Error('zlib failed');
    const outLeft = this.#state[0]!;
    const inLeft = this.#state[1]!;
    this.#inOffset += this.#inLeft - inLeft;
    this.#inLeft = inLeft;
    if (outLeft > 0) this.ended = true;
    return to - from - outLeft;
  }

  /** Frees zlib's state now, as node's one-shot calls do; the stream object is dropped unused. */
  close(): void {
    const holder = this.#zlib as unknown as HandleHolder;
    // An error has closed it already.
    if (holder._handle == null) return;
    holder._handle.close();
    holder._handle = null;
  }
}

/**
 * One way to inflate a message: `input`, whose first `skip` bytes of output
 * are dropped (the history put in front where `dictionary` is ignored),
 * refusing more than `maxBytes` of the rest.
 */
type Inflate = (
  input: Uint8Array,
  windowBits: number,
  dictionary: Uint8Array | null,
  skip: number,
  maxBytes: number,
  chunkSize: number,
) => DecodeResult;

function invalid(error: Error): DecodeResult {
  return { ok: false, reason: 'invalid', message: `Invalid compressed data: ${error.message}` };
}

/**
 * Inflates `input`, whose first `skip` bytes of output are dropped, into a
 * buffer holding exactly the rest, refusing more than `maxBytes` of it. The
 * output is kept in chunks of `chunkSize` up to {@link INFLATE_KEPT_OUTPUT},
 * then only counted, in one reused chunk: a deflate bomb is stopped having
 * inflated at most one chunk past the limit, holding no more than
 * INFLATE_KEPT_OUTPUT and a chunk. A message longer than that is inflated
 * again, straight into a buffer of its size, so that it is held once.
 */
const inflateOnHandle: Inflate = (
  input,
  windowBits,
  dictionary,
  skip,
  maxBytes,
  chunkSize,
): DecodeResult => {
  const limit = maxBytes + skip;
  let chunks: Buffer[] | null = [];
  let chunk = Buffer.allocUnsafe(chunkSize);
  let at = 0;
  let total = 0;
  const first = new Inflater(input, windowBits, dictionary);
  try {
    for (;;) {
      const n = first.write(chunk, at, chunkSize);
      if (typeof n !== 'number') return invalid(n);
      total += n;
      if (total > limit) return { ok: false, reason: 'too-big' };
      if (first.ended) {
        at += n;
        break;
      }
      // The chunk is full.
      if (chunks === null) continue;
      chunks.push(chunk);
      if (chunks.length * chunkSize >= INFLATE_KEPT_OUTPUT) chunks = null;
      else chunk = Buffer.allocUnsafe(chunkSize);
      at = 0;
    }
  } finally {
    first.close();
  }
  const length = total - skip;
  if (chunks !== null && at > 0) chunks.push(chunk.subarray(0, at));
  if (chunks !== null && skip === 0 && chunks.length === 1) {
    // One chunk of the message's exact size over its own memory (a Buffer
    // this large is not a slice of the pool): it is the message already.
    const only = chunks[0]!;
    if (only.byteOffset === 0 && only.buffer.byteLength === length)
      return { ok: true, data: new Uint8Array(only.buffer, 0, length) };
  }
  // The size is known: the message gets exactly its bytes, and pins nothing else.
  let out: Uint8Array;
  try {
    out = allocate(length);
  } catch {
    return { ok: false, reason: 'too-big' };
  }
  if (chunks !== null) {
    let from = skip;
    let to = 0;
    for (const c of chunks) {
      if (from >= c.length) {
        from -= c.length;
        continue;
      }
      out.set(from === 0 ? c : c.subarray(from), to);
      to += c.length - from;
      from = 0;
    }
    return { ok: true, data: out };
  }
  const second = new Inflater(input, windowBits, dictionary);
  try {
    // The history in front of the message goes to the chunk, now scratch.
    for (let left = skip; left > 0;) {
      const n = second.write(chunk, 0, Math.min(left, chunkSize));
      if (typeof n !== 'number') return invalid(n);
      if (n === 0) break;
      left -= n;
    }
    let written = 0;
    while (written < length) {
      const n = second.write(out, written, length);
      if (typeof n !== 'number') return invalid(n);
      if (n === 0) break;
      written += n;
    }
    // The same input inflates to the same output: anything else is zlib failing.
    if (written !== length) return invalid(new Error('the message inflated differently twice'));
  } finally {
    second.close();
  }
  return { ok: true, data: out };
};

/** The one-shot call, for runtimes whose node:zlib keeps its handle to itself. */
const inflateOneShot: Inflate = (
  input,
  windowBits,
  dictionary,
  skip,
  maxBytes,
  chunkSize,
): DecodeResult => {
  let out: Buffer;
  try {
    out = inflateRawSync(input, {
      windowBits,
      finishFlush: constants.Z_SYNC_FLUSH,
      chunkSize,
      // zlib stops producing output past this many bytes and throws
      // ERR_BUFFER_TOO_LARGE: a deflate bomb is cut off at the limit.
      maxOutputLength: Math.min(Math.max(1, maxBytes + skip), MAX_OUTPUT),
      ...(dictionary === null ? {} : { dictionary }),
    });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE')
      return { ok: false, reason: 'too-big' };
    return invalid(error as Error);
  }
  if (skip > 0) out = out.subarray(skip);
  if (out.length > maxBytes) return { ok: false, reason: 'too-big' };
  // A single output chunk comes back as a view of zlib's larger buffer: copy it,
  // so the message owns exactly its bytes and pins nothing else.
  const owned =
    out.byteOffset === 0 && out.buffer.byteLength === out.length
      ? new Uint8Array(out.buffer, 0, out.length)
      : new Uint8Array(out);
  return { ok: true, data: owned };
};
