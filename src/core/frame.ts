/**
 * Frame-level vocabulary of RFC 6455 section 5.2 and the frame encoder.
 *
 * The encoder writes one contiguous buffer per frame (header then payload) so
 * a transport can hand it to the operating system in a single write. The
 * payload starts at a 16-byte aligned offset of a fresh ArrayBuffer, which lets
 * masking run on 32-bit words.
 */
import { allocateFrameStorage } from './allocate.js';
import { copyMasked, maskInPlace } from './mask.js';

/** Frame opcodes (RFC 6455 5.2). 3-7 and 11-15 are reserved. */
export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** RFC 6455 5.5: "All control frames MUST have a payload length of 125 bytes or less". */
export const MAX_CONTROL_PAYLOAD = 125;

/** Control frames have the most significant bit of the opcode set (RFC 6455 5.5). */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** Whether `opcode` is one RFC 6455 defines (everything else is reserved). */
export function isKnownOpcode(opcode: number): boolean {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
}

/** A decoded frame header. The parser reuses one instance; copy what you keep. */
export interface FrameHeader {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  /** Payload length in bytes (always below 2^53: larger lengths are rejected before this is set). */
  length: number;
  /** The 4-byte masking key, valid while the frame's payload is being delivered. */
  maskKey: Uint8Array;
}

/** Length of the header for a payload of `length` bytes. */
export function headerLength(length: number, masked: boolean): number {
  const base = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
  return masked ? base + 4 : base;
}

const PAYLOAD_OFFSET = 16;

/** Options of {@link encodeFrame}. */
export interface EncodeOptions {
  /** FIN bit; default true. */
  fin?: boolean;
  /** RSV1 bit (set by a negotiated extension such as permessage-deflate); default false. */
  rsv1?: boolean;
  /**
   * The masking key, or null for an unmasked frame. RFC 6455 5.3: a client
   * "MUST mask all frames that it sends to the server"; a server "MUST NOT mask".
   */
  maskKey: Uint8Array | null;
}

/**
 * Frames of at most this many bytes (header area included) are carved from a
 * shared slab instead of getting an ArrayBuffer each: 4 KiB. Allocating a
 * backing store per small frame cost more than encoding it.
 */
const SLAB_FRAME_LIMIT = 4096;
/** Size of one slab: 64 KiB. */
const SLAB_SIZE = 64 * 1024;
let slab: Uint8Array = new Uint8Array(0);
let slabOffset = 0;
/** Buffers of slabs: never handed back for reuse by {@link releaseFrame}. */
const slabBuffers = new WeakSet<ArrayBufferLike>();

/**
 * Largest frame buffer kept for reuse by {@link releaseFrame}: 1 MiB (plus
 * the header area). Bounds the memory a session that once sent a big message
 * keeps.
 */
const SPARE_LIMIT = 1 << 20;
/** Most frame buffers kept for reuse: 2. */
const MAX_SPARES = 2;
const spares: Uint8Array[] = [];

/**
 * Hands back a frame from {@link encodeFrame} or {@link encodeTextFrame} once
 * nothing will read it again (the transport handed its bytes to the operating
 * system): its buffer may then be reused for a later frame of a similar size,
 * which spares the allocation and the page faults of fresh memory for every
 * large frame. Slab frames are ignored. Never call it for a frame anyone still holds.
 *
 * @internal Used by wsstream's own sender; not part of the published types.
 */
export function releaseFrame(frame: Uint8Array): void {
  const buffer = frame.buffer;
  if (
    spares.length >= MAX_SPARES ||
    buffer.byteLength <= SLAB_FRAME_LIMIT ||
    buffer.byteLength > PAYLOAD_OFFSET + SPARE_LIMIT ||
    slabBuffers.has(buffer)
  ) {
    return;
  }
  spares.push(new Uint8Array(buffer));
}

/**
 * A buffer whose payload area starts at the 16-byte aligned
 * {@link PAYLOAD_OFFSET}: its own for large frames, a slice of the current
 * slab for small ones. A slab is never rewound: each slice stays valid (and
 * keeps its slab alive) for as long as anyone holds the frame, and a new slab
 * is started when the current one is full. Frames go to the transport only,
 * never to applications, so sharing the ArrayBuffer exposes nothing.
 */
function allocateFrame(capacity: number): Uint8Array {
  // Only the header and the payload written after it are ever sent.
  const size = PAYLOAD_OFFSET + capacity;
  if (size > SLAB_FRAME_LIMIT) {
    for (let i = 0; i < spares.length; i++) {
      const spare = spares[i]!;
      // Reuse a spare that fits without wasting more than half of it.
      if (spare.length >= size && spare.length <= size * 2) {
        spares[i] = spares[spares.length - 1]!;
        spares.pop();
        return spare;
      }
    }
    return allocateFrameStorage(size);
  }
  if (slabOffset + size > slab.length) {
    slab = allocateFrameStorage(SLAB_SIZE);
    slabBuffers.add(slab.buffer);
    slabOffset = 0;
  }
  const frame = slab.subarray(slabOffset, slabOffset + size);
  // Keep every slice 16-byte aligned (allocations start aligned).
  slabOffset = (slabOffset + size + 15) & ~15;
  return frame;
}

function writeHeader(
  storage: Uint8Array,
  opcode: number,
  payloadLength: number,
  options: EncodeOptions,
): number {
  const masked = options.maskKey !== null;
  const hlen = headerLength(payloadLength, masked);
  let p = PAYLOAD_OFFSET - hlen;
  const start = p;
  storage[p++] = (options.fin === false ? 0 : 0x80) | (options.rsv1 === true ? 0x40 : 0) | opcode;
  const maskBit = masked ? 0x80 : 0;
  if (payloadLength < 126) {
    storage[p++] = maskBit | payloadLength;
  } else if (payloadLength < 0x10000) {
    storage[p++] = maskBit | 126;
    storage[p++] = payloadLength >>> 8;
    storage[p++] = payloadLength & 0xff;
  } else {
    storage[p++] = maskBit | 127;
    const hi = Math.floor(payloadLength / 0x100000000);
    const lo = payloadLength >>> 0;
    storage[p++] = (hi >>> 24) & 0xff;
    storage[p++] = (hi >>> 16) & 0xff;
    storage[p++] = (hi >>> 8) & 0xff;
    storage[p++] = hi & 0xff;
    storage[p++] = lo >>> 24;
    storage[p++] = (lo >>> 16) & 0xff;
    storage[p++] = (lo >>> 8) & 0xff;
    storage[p++] = lo & 0xff;
  }
  if (options.maskKey !== null) {
    const key = options.maskKey;
    storage[p++] = key[0]!;
    storage[p++] = key[1]!;
    storage[p++] = key[2]!;
    storage[p++] = key[3]!;
  }
  return start;
}

/**
 * Encodes one frame whose payload is a copy of `payload` (masked when
 * `options.maskKey` is set). Returns a view of a fresh buffer holding header
 * and payload back to back.
 */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  options: EncodeOptions,
): Uint8Array {
  const length = payload.byteLength;
  const storage = allocateFrame(length);
  if (options.maskKey === null) {
    storage.set(payload, PAYLOAD_OFFSET);
    return finishFrame(storage, opcode, length, options);
  }
  // Copy and mask in one pass into the aligned payload area.
  copyMasked(storage, PAYLOAD_OFFSET, payload, options.maskKey);
  const start = writeHeader(storage, opcode, length, options);
  return storage.subarray(start, PAYLOAD_OFFSET + length);
}

const encoder = new TextEncoder();

/** Strings up to this many UTF-16 units are encoded straight into the frame (3 bytes per unit at worst). */
const DIRECT_TEXT_LIMIT = 1 << 20;

/** Encodes a text frame carrying the UTF-8 encoding of `text`. */
export function encodeTextFrame(opcode: number, text: string, options: EncodeOptions): Uint8Array {
  if (text.length > DIRECT_TEXT_LIMIT) {
    return encodeFrame(opcode, encoder.encode(text), options);
  }
  const storage = allocateFrame(text.length * 3);
  const { written } = encoder.encodeInto(text, storage.subarray(PAYLOAD_OFFSET));
  return finishFrame(storage, opcode, written, options);
}

function finishFrame(
  storage: Uint8Array,
  opcode: number,
  length: number,
  options: EncodeOptions,
): Uint8Array {
  const start = writeHeader(storage, opcode, length, options);
  if (options.maskKey !== null && length > 0) {
    maskInPlace(storage, PAYLOAD_OFFSET, PAYLOAD_OFFSET + length, options.maskKey, 0);
  }
  return storage.subarray(start, PAYLOAD_OFFSET + length);
}
