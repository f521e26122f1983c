/**
 * Raw RFC 6455 bytes for the scripted peer, written independently of the
 * implementation under test: a frame writer that can set any bit, length form
 * or mask (so it can send what no correct library would), and a tolerant frame
 * reader for what the implementation sends back.
 */

/** Opcodes of RFC 6455 5.2 (3-7 and 11-15 are reserved). */
export const Op = {
  CONT: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** How a frame is written. Everything a correct sender would never do is allowed. */
export interface FrameSpec {
  opcode: number;
  payload?: Uint8Array;
  /** FIN bit; default true. */
  fin?: boolean;
  /** RSV1-3 as a 3-bit number (4 = RSV1, 2 = RSV2, 1 = RSV3); default 0. */
  rsv?: number;
  /** Masking key; null sends the frame unmasked. */
  mask: Uint8Array | null;
  /** Force the length form: 7-bit, 16-bit or 64-bit; default the shortest. */
  lengthForm?: 7 | 16 | 64;
  /** Declare this payload length instead of the real one (a lie, for truncation and 2^63 cases). */
  declaredLength?: bigint;
}

const encoder = new TextEncoder();

/** UTF-8 bytes of `text`. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Bytes from a list of numbers. */
export function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

/** Concatenation of byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Writes one frame exactly as specified. */
export function writeFrame(spec: FrameSpec): Uint8Array {
  const payload = spec.payload ?? new Uint8Array(0);
  const length = spec.declaredLength ?? BigInt(payload.length);
  const form = spec.lengthForm ?? (length < 126n ? 7 : length < 0x10000n ? 16 : 64);
  const head: number[] = [
    (spec.fin === false ? 0 : 0x80) | ((spec.rsv ?? 0) << 4) | (spec.opcode & 0x0f),
  ];
  const maskBit = spec.mask === null ? 0 : 0x80;
  if (form === 7) {
    head.push(maskBit | Number(length));
  } else if (form === 16) {
    head.push(maskBit | 126, Number(length >> 8n) & 0xff, Number(length) & 0xff);
  } else {
    head.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) head.push(Number((length >> shift) & 0xffn));
  }
  if (spec.mask !== null) head.push(...spec.mask);
  const out = new Uint8Array(head.length + payload.length);
  out.set(head, 0);
  out.set(payload, head.length);
  if (spec.mask !== null) {
    const key = spec.mask;
    for (let i = 0; i < payload.length; i++) out[head.length + i]! ^= key[i & 3]!;
  }
  return out;
}

/** A Close payload: code (2 bytes, big-endian) then the reason bytes. */
export function closePayload(code: number, reason: Uint8Array | string = ''): Uint8Array {
  const r = typeof reason === 'string' ? utf8(reason) : reason;
  const out = new Uint8Array(2 + r.length);
  out[0] = (code >> 8) & 0xff;
  out[1] = code & 0xff;
  out.set(r, 2);
  return out;
}

/** A frame as read from the implementation. */
export interface WireFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  /** The payload, unmasked. */
  payload: Uint8Array;
}

/** The code of a Close frame payload (1005 when empty, -1 when 1 byte). */
export function closeCodeOf(payload: Uint8Array): number {
  if (payload.length === 0) return 1005;
  if (payload.length === 1) return -1;
  return (payload[0]! << 8) | payload[1]!;
}

/**
 * Collects bytes from the implementation and cuts them into frames. Chunks
 * are kept as they arrive and copied once into each payload, so echoes of
 * many MiB are cheap to read.
 */
export class WireReader {
  #chunks: Uint8Array[] = [];
  /** Index of the first chunk still in use (chunks before it are consumed; compacted now and then). */
  #first = 0;
  #head = 0;
  #length = 0;
  /** Total bytes received. */
  received = 0;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
    this.received += chunk.length;
  }

  /** Bytes buffered and not yet cut into frames. */
  get buffered(): number {
    return this.#length;
  }

  #peek(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    let offset = this.#head;
    for (let i = this.#first; i < this.#chunks.length; i++) {
      const c = this.#chunks[i]!;
      const take = Math.min(c.length - offset, n - at);
      out.set(c.subarray(offset, offset + take), at);
      at += take;
      offset = 0;
      if (at === n) break;
    }
    return out;
  }

  #take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.#chunks[this.#first]!;
      const take = Math.min(c.length - this.#head, n - at);
      out.set(c.subarray(this.#head, this.#head + take), at);
      at += take;
      this.#head += take;
      if (this.#head === c.length) {
        this.#first++;
        this.#head = 0;
      }
    }
    if (this.#first > 1024 && this.#first * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#first);
      this.#first = 0;
    }
    this.#length -= n;
    return out;
  }

  /** The next complete frame, or null if more bytes are needed. */
  next(): WireFrame | null {
    if (this.#length < 2) return null;
    const h = this.#peek(Math.min(this.#length, 14));
    const b0 = h[0]!;
    const b1 = h[1]!;
    const masked = (b1 & 0x80) !== 0;
    let len = b1 & 0x7f;
    let at = 2;
    if (len === 126) {
      if (h.length < 4) return null;
      len = (h[2]! << 8) | h[3]!;
      at = 4;
    } else if (len === 127) {
      if (h.length < 10) return null;
      len = 0;
      for (let i = 2; i < 10; i++) len = len * 256 + h[i]!;
      at = 10;
    }
    const keyAt = at;
    if (masked) at += 4;
    if (this.#length < at + len) return null;
    const key = masked ? h.slice(keyAt, keyAt + 4) : null;
    this.#take(at);
    const payload = this.#take(len);
    if (key !== null) for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
    return { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload };
  }
}

/** Whether two byte arrays are equal. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(
    Buffer.from(b.buffer, b.byteOffset, b.length),
  );
}

/** Short printable description of bytes for failure messages. */
export function describe(data: Uint8Array): string {
  const hex = Buffer.from(data.subarray(0, 24)).toString('hex');
  return `${data.length} bytes${data.length > 0 ? ` (${hex}${data.length > 24 ? '...' : ''})` : ''}`;
}

/** A deterministic PRNG (xorshift32) so generated payloads are reproducible. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** `n` pseudo-random bytes from `seed`. */
export function randomBytes(n: number, seed = 1): Uint8Array {
  const next = prng(seed);
  const out = new Uint8Array(n);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = next();
    out[i] = v & 0xff;
    out[i + 1] = (v >>> 8) & 0xff;
    out[i + 2] = (v >>> 16) & 0xff;
    out[i + 3] = v >>> 24;
  }
  for (; i < n; i++) out[i] = next() & 0xff;
  return out;
}

/** `n` bytes of printable ASCII (valid UTF-8 text) from `seed`. */
export function randomText(n: number, seed = 1): Uint8Array {
  const out = randomBytes(n, seed);
  for (let i = 0; i < n; i++) out[i] = 0x20 + (out[i]! % 95);
  return out;
}
