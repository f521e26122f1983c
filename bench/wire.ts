/**
 * Just enough RFC 6455 for the benchmark's own reference server and
 * reference client: the accept key, frame headers, and an incremental frame
 * reader that can skip payloads without copying them. Written for speed and
 * kept apart from src/ so the reference is not the code under test.
 */
import { createHash } from 'node:crypto';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Sec-WebSocket-Accept for `key` (RFC 6455 4.2.2). */
export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

/** A frame header for a payload of `length` bytes; masked when `mask` is given. */
export function frameHeader(opcode: number, length: number, mask?: Uint8Array): Buffer {
  const base = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
  const h = Buffer.alloc(base + (mask === undefined ? 0 : 4));
  h[0] = 0x80 | opcode;
  const m = mask === undefined ? 0 : 0x80;
  if (length < 126) {
    h[1] = m | length;
  } else if (length < 0x10000) {
    h[1] = m | 126;
    h.writeUInt16BE(length, 2);
  } else {
    h[1] = m | 127;
    h.writeUInt32BE(Math.floor(length / 0x100000000), 2);
    h.writeUInt32BE(length >>> 0, 6);
  }
  if (mask !== undefined) h.set(mask, base);
  return h;
}

/** One whole frame: header and payload in one buffer, the payload masked with `mask` if given. */
export function frame(opcode: number, payload: Uint8Array, mask?: Uint8Array): Buffer {
  const h = frameHeader(opcode, payload.length, mask);
  const out = Buffer.allocUnsafe(h.length + payload.length);
  h.copy(out, 0);
  out.set(payload, h.length);
  if (mask !== undefined) {
    for (let i = 0; i < payload.length; i++) out[h.length + i]! ^= mask[i & 3]!;
  }
  return out;
}

/** `count` back-to-back copies of `one`, in one buffer. */
export function repeat(one: Buffer, count: number): Buffer {
  const out = Buffer.allocUnsafe(one.length * count);
  for (let i = 0; i < count; i++) one.copy(out, i * one.length);
  return out;
}

/** Receives what {@link FrameReader} finds. */
export interface FrameSink {
  /** A whole frame, payload unmasked; only called when the reader collects payloads. */
  frame(opcode: number, payload: Buffer): void;
  /** Payload bytes of a data frame went past (skipping readers). */
  skipped?(bytes: number): void;
  /** A control frame (collected even by skipping readers). */
  control?(opcode: number, payload: Buffer): void;
}

/**
 * Incremental frame reader. `collect` true hands every frame's unmasked
 * payload to the sink; false only counts data payloads (no copy) and still
 * collects control frames.
 */
export class FrameReader {
  #pending: Buffer | null = null;
  #skip = 0;
  readonly #collect: boolean;
  readonly #sink: FrameSink;

  constructor(sink: FrameSink, collect: boolean) {
    this.#sink = sink;
    this.#collect = collect;
  }

  push(chunk: Buffer): void {
    let data = chunk;
    let i = 0;
    if (this.#skip > 0) {
      const take = Math.min(this.#skip, data.length);
      this.#skip -= take;
      this.#sink.skipped?.(take);
      i = take;
      if (i === data.length) return;
    }
    if (this.#pending !== null) {
      data = Buffer.concat([this.#pending, data.subarray(i)]);
      this.#pending = null;
      i = 0;
    }
    const n = data.length;
    while (i < n) {
      if (n - i < 2) break;
      const b0 = data[i]!;
      const b1 = data[i + 1]!;
      const opcode = b0 & 0x0f;
      const masked = (b1 & 0x80) !== 0;
      let len = b1 & 0x7f;
      let p = i + 2;
      if (len === 126) {
        if (n - p < 2) break;
        len = data.readUInt16BE(p);
        p += 2;
      } else if (len === 127) {
        if (n - p < 8) break;
        len = data.readUInt32BE(p) * 0x100000000 + data.readUInt32BE(p + 4);
        p += 8;
      }
      let key = 0;
      if (masked) {
        if (n - p < 4) break;
        key = p;
        p += 4;
      }
      const control = (opcode & 0x8) !== 0;
      if (!this.#collect && !control) {
        const take = Math.min(len, n - p);
        this.#sink.skipped?.(take);
        this.#skip = len - take;
        i = p + take;
        continue;
      }
      if (n - p < len) break;
      const payload = Buffer.allocUnsafe(len);
      data.copy(payload, 0, p, p + len);
      if (masked) {
        const k0 = data[key]!;
        const k1 = data[key + 1]!;
        const k2 = data[key + 2]!;
        const k3 = data[key + 3]!;
        let j = 0;
        for (; j + 4 <= len; j += 4) {
          payload[j]! ^= k0;
          payload[j + 1]! ^= k1;
          payload[j + 2]! ^= k2;
          payload[j + 3]! ^= k3;
        }
        for (; j < len; j++) payload[j]! ^= data[key + (j & 3)]!;
      }
      i = p + len;
      if (control && this.#sink.control !== undefined) this.#sink.control(opcode, payload);
      else this.#sink.frame(opcode, payload);
    }
    if (i < n) this.#pending = Buffer.from(data.subarray(i));
  }
}

/** Reads an HTTP head (up to the blank line) from `chunk` plus what came before. */
export function readHead(
  prior: Buffer | null,
  chunk: Buffer,
): { head: string; rest: Buffer } | { partial: Buffer } {
  const all = prior === null ? chunk : Buffer.concat([prior, chunk]);
  const end = all.indexOf('\r\n\r\n');
  if (end < 0) return { partial: all };
  return { head: all.toString('latin1', 0, end), rest: all.subarray(end + 4) };
}

/** Marks a message line a client writes to stdout when it has no IPC channel (Deno, Bun). */
export const MESSAGE_PREFIX = '\u0000bench ';
