/**
 * Helpers shared by the core tests: an independent frame writer (so the
 * encoder is checked against something we did not derive from it), a parser
 * recorder that unmasks byte by byte, "feed every split" generators, and
 * shortcuts to drive a {@link Connection} and decode what it queued.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { concat as concatList, writeFrame } from '../../conformance/wire.js';
import {
  Connection,
  type ConnectionEvent,
  type ConnectionOptions,
  type Role,
} from '../../src/core/connection.js';
import { ProtocolError, type ProtocolErrorCode } from '../../src/core/errors.js';
import type { FrameHeader } from '../../src/core/frame.js';
import { FrameParser, type FrameHandler } from '../../src/core/parser.js';

// ---- bytes -----------------------------------------------------------------

export { utf8 } from '../../conformance/wire.js';

/** Concatenation of `parts` into a fresh buffer. */
/** base64(SHA-1(text)) from node:crypto: what the I/O layer hands the handshake. */
export function sha1Base64(text: string): string {
  return createHash('sha1').update(text, 'latin1').digest('base64');
}

/** The kind of the connection's state, read afresh (no narrowing across calls). */
export function stateKind(conn: Connection): string {
  return conn.state.kind;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return concatList(parts);
}

/** Whether two byte arrays hold the same bytes (fast on large arrays). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(
    Buffer.from(b.buffer, b.byteOffset, b.length),
  );
}

/** Asserts equal bytes; small arrays are compared with deepEqual for a readable diff. */
export function assertBytes(actual: Uint8Array, expected: Uint8Array, message?: string): void {
  if (actual.length === expected.length && sameBytes(actual, expected)) return;
  if (actual.length <= 256 && expected.length <= 256) {
    assert.deepEqual(Array.from(actual), Array.from(expected), message);
  } else {
    assert.equal(actual.length, expected.length, message ?? 'byte lengths differ');
    assert.ok(sameBytes(actual, expected), message ?? 'bytes differ');
  }
}

/** A deterministic PRNG (xorshift32), so random tests are reproducible. */
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

/** `n` pseudo-random bytes from `next`. */
export function randomBytes(next: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = next() & 0xff;
  return out;
}

/** A payload of `n` bytes where byte i is `(i * 7 + 3) & 0xff`: position-dependent, so misplaced bytes show. */
export function patternBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + 3) & 0xff;
  return out;
}

// ---- splits ------------------------------------------------------------------

/**
 * `data` cut at the given ascending positions. The chunks are views of `data`
 * (at arbitrary byte offsets, as a transport's reads would be).
 */
export function cutAt(data: Uint8Array, points: readonly number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    chunks.push(data.subarray(prev, p));
    prev = p;
  }
  chunks.push(data.subarray(prev));
  return chunks;
}

/** Every way to cut `data` into two chunks (including an empty first or last chunk). */
export function* everySplit(data: Uint8Array): Generator<Uint8Array[]> {
  for (let i = 0; i <= data.length; i++) yield cutAt(data, [i]);
}

/** Every way to cut `data` into three chunks (cut points i <= j). */
export function* everyPairOfSplits(data: Uint8Array): Generator<Uint8Array[]> {
  for (let i = 0; i <= data.length; i++) {
    for (let j = i; j <= data.length; j++) yield cutAt(data, [i, j]);
  }
}

/** `data` in chunks of `size` bytes (the last may be shorter). */
export function chunksOf(data: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

/**
 * Splits used for large frames: every cut inside the header and the first and
 * last bytes of the payload, a sample of cuts through the payload, the header
 * fed one byte at a time followed by the payload in one piece, and a feed in
 * pseudo-random chunk sizes.
 */
export function* largeFrameSplits(data: Uint8Array, headerLength: number): Generator<Uint8Array[]> {
  const n = data.length;
  const points = new Set<number>();
  for (let i = 0; i <= Math.min(n, headerLength + 8); i++) points.add(i);
  for (let i = Math.max(0, n - 8); i <= n; i++) points.add(i);
  for (let k = 1; k < 16; k++) points.add(Math.floor((n * k) / 16));
  for (const p of [...points].sort((a, b) => a - b)) yield cutAt(data, [p]);
  // 1-byte chunks over the header, then the payload at once.
  yield cutAt(
    data,
    Array.from({ length: headerLength }, (_, i) => i + 1),
  );
  // Pseudo-random chunk sizes (1 to 4096 bytes).
  const next = prng(n);
  const cuts: number[] = [];
  for (let at = 0; at < n;) {
    at += 1 + (next() % 4096);
    if (at < n) cuts.push(at);
  }
  yield cutAt(data, cuts);
}

// ---- an independent frame writer ------------------------------------------------

/** Fields of {@link rawFrame}; everything but `opcode` defaults to a plain final frame. */
export interface RawFrame {
  opcode: number;
  payload?: Uint8Array;
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** The masking key, or null (default) for an unmasked frame. */
  mask?: Uint8Array | null;
  /** Force a length form: 7-bit, 16-bit or 64-bit (default: the shortest). */
  lengthForm?: 7 | 16 | 64;
  /** Override the declared length (the payload is still `payload`): for lying headers. */
  declaredLength?: number;
}

/**
 * Writes a frame byte by byte straight from RFC 6455 5.2, without the
 * library's encoder. Can write frames the encoder refuses to (reserved bits,
 * reserved opcodes, lying lengths).
 */
export function rawFrame(f: RawFrame): Uint8Array {
  return writeFrame({
    opcode: f.opcode,
    payload: f.payload,
    fin: f.fin,
    rsv: (f.rsv1 === true ? 4 : 0) | (f.rsv2 === true ? 2 : 0) | (f.rsv3 === true ? 1 : 0),
    mask: f.mask ?? null,
    lengthForm: f.lengthForm,
    declaredLength: f.declaredLength === undefined ? undefined : BigInt(f.declaredLength),
  });
}

/** A raw header declaring a 64-bit length given as hi and lo 32-bit words (for lengths beyond 2^53). */
export function rawHeader64(
  opcode: number,
  hi: number,
  lo: number,
  mask: Uint8Array | null,
): Uint8Array {
  const out = [0x80 | opcode, (mask === null ? 0 : 0x80) | 127];
  out.push((hi >>> 24) & 0xff, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff);
  out.push((lo >>> 24) & 0xff, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff);
  if (mask !== null) out.push(...mask);
  return Uint8Array.from(out);
}

/** A fixed masking key whose bytes all differ. */
export const KEY = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

/**
 * A masking key source for `Connection({maskKeys})` that hands out 0x01020304,
 * 0x05060708, ... and records them, so tests know every key that was used.
 */
export function countingKeys(): { next: () => Uint8Array; used: Uint8Array[] } {
  const used: Uint8Array[] = [];
  let n = 1;
  return {
    used,
    next: () => {
      const key = Uint8Array.of(n & 0xff, (n + 1) & 0xff, (n + 2) & 0xff, (n + 3) & 0xff);
      n += 4;
      used.push(key);
      return key;
    },
  };
}

// ---- a recording frame handler ------------------------------------------------

/** A frame as the parser reported it, with its payload unmasked (by a plain byte loop). */
export interface ParsedFrame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  length: number;
  maskKey: Uint8Array | null;
  payload: Uint8Array;
}

/** Records what a {@link FrameParser} reports; can stop it after a given callback. */
export class FrameRecorder implements FrameHandler {
  readonly frames: ParsedFrame[] = [];
  error: ProtocolError | null = null;
  /** Calls in order, as "start", "payload", "end": to check the callback protocol. */
  readonly calls: string[] = [];
  #current: ParsedFrame | null = null;
  #received = 0;

  frameStart(h: FrameHeader): boolean {
    assert.equal(this.#current, null, 'frameStart inside a frame');
    this.calls.push('start');
    this.#current = {
      fin: h.fin,
      rsv1: h.rsv1,
      rsv2: h.rsv2,
      rsv3: h.rsv3,
      opcode: h.opcode,
      masked: h.masked,
      length: h.length,
      maskKey: h.masked ? h.maskKey.slice() : null,
      payload: new Uint8Array(h.length),
    };
    this.#received = 0;
    return true;
  }

  framePayload(data: Uint8Array, start: number, end: number, offset: number): boolean {
    const f = this.#current;
    assert.ok(f !== null, 'framePayload outside a frame');
    this.calls.push('payload');
    assert.ok(end > start, 'empty payload slice');
    assert.equal(offset, this.#received, 'payload offset is not contiguous');
    assert.ok(offset + (end - start) <= f.length, 'more payload than declared');
    const key = f.maskKey;
    for (let i = start, j = offset; i < end; i++, j++) {
      f.payload[j] = key === null ? data[i]! : data[i]! ^ key[j & 3]!;
    }
    this.#received += end - start;
    return true;
  }

  frameEnd(): boolean {
    const f = this.#current;
    assert.ok(f !== null, 'frameEnd outside a frame');
    assert.equal(this.#received, f.length, 'frame ended before its payload');
    this.calls.push('end');
    this.frames.push(f);
    this.#current = null;
    return true;
  }

  frameError(error: ProtocolError): void {
    assert.equal(this.error, null, 'two frame errors');
    this.calls.push('error');
    this.error = error;
  }
}

/** Parses `chunks` in order with a fresh parser; returns the recorder. */
export function parseChunks(
  chunks: Iterable<Uint8Array>,
  options: { expectMasked: boolean; allowRsv1?: boolean },
): FrameRecorder {
  const parser = new FrameParser(options);
  const recorder = new FrameRecorder();
  for (const chunk of chunks) {
    const consumed = parser.parse(chunk, recorder);
    if (recorder.error === null)
      assert.equal(consumed, chunk.length, 'parser left input unconsumed');
  }
  return recorder;
}

// ---- driving a Connection ----------------------------------------------------

/** A frame as `sender` would write it to its peer: masked with {@link KEY} when the sender is a client. */
export function frameFrom(sender: Role, f: Omit<RawFrame, 'mask'>): Uint8Array {
  return rawFrame({ ...f, mask: sender === 'client' ? KEY : null });
}

/** The role of the other end. */
export function peerOf(role: Role): Role {
  return role === 'client' ? 'server' : 'client';
}

/** A connection whose masking keys are deterministic. */
export function makeConnection(
  role: Role,
  options: Omit<ConnectionOptions, 'role'> = {},
): Connection {
  return new Connection({ role, maskKeys: () => KEY, ...options });
}

/** Feeds each chunk and returns the events they caused. */
export function feed(conn: Connection, ...chunks: Uint8Array[]): ConnectionEvent[] {
  for (const c of chunks) conn.receiveData(c);
  return conn.takeEvents();
}

/** Parses everything `conn` queued, as the peer would (expecting masks from a client). */
export function takeFrames(conn: Connection): ParsedFrame[] {
  const out = conn.takeOutgoing();
  const rec = parseChunks(out, { expectMasked: conn.role === 'client' });
  assert.equal(rec.error, null, `outgoing bytes do not parse: ${rec.error?.message}`);
  return rec.frames;
}

/** The code and reason of a Close payload, or `code: undefined` for an empty body. */
export function decodeClose(payload: Uint8Array): { code: number | undefined; reason: string } {
  if (payload.length === 0) return { code: undefined, reason: '' };
  assert.ok(payload.length >= 2, 'Close payload of 1 byte');
  return {
    code: (payload[0]! << 8) | payload[1]!,
    reason: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(payload.subarray(2)),
  };
}

/** Asserts that `conn` queued exactly one frame, a Close with `code`, and returns its reason. */
export function assertQueuedClose(conn: Connection, code: number | undefined): string {
  const frames = takeFrames(conn);
  assert.equal(frames.length, 1, `expected one queued Close frame, got ${frames.length} frames`);
  const f = frames[0]!;
  assert.equal(f.opcode, 0x8, 'queued frame is not a Close');
  assert.equal(f.fin, true);
  const close = decodeClose(f.payload);
  assert.equal(close.code, code, 'queued Close code');
  return close.reason;
}

/**
 * Asserts the connection was failed by the peer with `code`: exactly one
 * `fail` event carrying a ProtocolError with that code and close code, a
 * queued Close frame with the same close code, and state CLOSED.
 */
export function assertFailed(
  conn: Connection,
  events: ConnectionEvent[],
  code: ProtocolErrorCode,
  closeCode: number,
): ProtocolError {
  const violations = events.filter((e) => e.type === 'violation');
  assert.equal(
    violations.length,
    1,
    `expected one violation event, got ${JSON.stringify(events.map((e) => e.type))}`,
  );
  assert.equal(events.at(-1), violations[0], 'the violation is the last event');
  assert.ok(!events.some((e) => e.type === 'fail'), 'no fail event before fail() is called');
  const ev = violations[0]!;
  assert.equal(ev.type, 'violation');
  assert.ok(ev.error instanceof ProtocolError, 'violation error is a ProtocolError');
  assert.equal(ev.error.code, code, `error.code (message: ${ev.error.message})`);
  assert.equal(ev.error.closeCode, closeCode, 'error.closeCode');
  assert.equal(stateKind(conn), 'violated');
  assert.equal(conn.receiving, false);
  // Nothing is queued for the violation until the transport calls fail().
  assert.ok(
    !takeFrames(conn).some((f) => f.opcode === 0x8),
    'no Close is queued before fail() is called',
  );
  conn.fail(ev.error);
  assert.deepEqual(conn.takeEvents(), [{ type: 'fail', error: ev.error }]);
  assert.equal(conn.failure, ev.error);
  assert.equal(stateKind(conn), 'failed');
  // Failed, not CLOSED: the transport is still to be closed (RFC 6455 7.1.4).
  assert.equal(conn.readyState, 'CLOSING');
  assert.equal(conn.receiving, false);
  assertQueuedClose(conn, closeCode);
  return ev.error;
}
