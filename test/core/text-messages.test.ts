/**
 * Text messages through a Connection: validated as their bytes arrive (so an
 * invalid one fails as soon as its invalid prefix is here), decoded in one
 * pass once whole, compressed or not; every failure is INVALID_UTF8 (1007).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, deflateRawSync } from 'node:zlib';
import { Connection, type ConnectionEvent, type Role } from '../../src/core/connection.js';
import { encodeFrame } from '../../src/core/frame.js';
import { acceptOffer } from '../../src/core/extensions/deflate-negotiation.js';
import { PerMessageDeflate } from '../../src/core/extensions/permessage-deflate.js';
import { nodeDeflateEngine } from '../../src/node/zlib-deflate.js';
import {
  assertFailed,
  concat,
  cutAt,
  feed,
  frameFrom,
  makeConnection,
  peerOf,
  utf8,
  type RawFrame,
} from './helpers.js';

const ROLES: Role[] = ['client', 'server'];

/** A frame the peer of `role` sends to it (masked when `role` is a server). */
function toward(role: Role, f: Omit<RawFrame, 'mask'>): Uint8Array {
  return frameFrom(peerOf(role), f);
}

/** Header length of an unfragmented frame of `n` payload bytes sent to `role`. */
function headerLength(role: Role, n: number): number {
  return (n < 126 ? 2 : n < 65536 ? 4 : 10) + (role === 'server' ? 4 : 0);
}

/** The index of the byte at which a streaming fatal TextDecoder first throws, or null. */
function firstRejected(bytes: Uint8Array): number | null {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (let i = 0; i < bytes.length; i++) {
    try {
      decoder.decode(bytes.subarray(i, i + 1), { stream: true });
    } catch {
      return i;
    }
  }
  return null;
}

const texts = (events: ConnectionEvent[]): string[] =>
  events.map((e) => {
    assert.equal(e.type, 'text', `unexpected ${e.type} event`);
    return (e as { data: string }).data;
  });

/** Invalid sequences, each placed into runs of ASCII below. */
const INVALID: Array<[string, number[]]> = [
  ['a stray continuation byte', [0x80]],
  ['an FF byte', [0xff]],
  ['an overlong 2-byte form', [0xc0, 0xaf]],
  ['an overlong 3-byte form', [0xe0, 0x80, 0xaf]],
  ['a surrogate', [0xed, 0xa0, 0x80]],
  ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ['a lead byte followed by ASCII', [0xe2, 0x28, 0xa1]],
];

/**
 * Positions of the invalid sequence in a 200-byte message: the first byte,
 * around the 4-byte words and the 64-byte run the validator scans word-wise,
 * and the last bytes.
 */
const POSITIONS = [0, 1, 3, 4, 5, 7, 8, 63, 64, 65, 66, 67, 68, 127, 128, 131, 196];

function withInvalid(size: number, at: number, seq: number[]): Uint8Array {
  const bytes = utf8('x'.repeat(size));
  bytes.set(seq.slice(0, size - at), at);
  return bytes;
}

describe('text messages: invalid UTF-8 fails with 1007', () => {
  for (const role of ROLES) {
    test(`${role}: at every position class, in one read`, () => {
      for (const [name, seq] of INVALID) {
        for (const at of POSITIONS) {
          const payload = withInvalid(200, at, seq);
          const conn = makeConnection(role);
          const events = feed(conn, toward(role, { opcode: 0x1, payload }));
          assert.ok(events.length > 0, `${name} at ${at}`);
          assertFailed(conn, events, 'INVALID_UTF8', 1007);
        }
      }
    });

    test(`${role}: split over two reads, failing in the read that holds the first rejected byte`, () => {
      for (const [name, seq] of INVALID) {
        for (const at of [0, 5, 64, 131, 196]) {
          const payload = withInvalid(200, at, seq);
          const bad = firstRejected(payload)!;
          const frame = toward(role, { opcode: 0x1, payload });
          const h = headerLength(role, payload.length);
          for (const cut of [at - 1, at, at + 1, bad, bad + 1, 150, 199]) {
            if (cut <= 0 || cut >= payload.length) continue;
            const [first, second] = cutAt(frame, [h + cut]);
            const conn = makeConnection(role);
            const early = feed(conn, first!);
            if (bad < cut) {
              // The rejected byte is in the first read: no waiting for the rest.
              assertFailed(conn, early, 'INVALID_UTF8', 1007);
            } else {
              assert.deepEqual(early, [], `${name} at ${at}, cut at ${cut}`);
              assertFailed(conn, feed(conn, second!), 'INVALID_UTF8', 1007);
            }
          }
        }
      }
    });

    test(`${role}: in fragments, failing in the fragment that holds the first rejected byte`, () => {
      for (const [, seq] of INVALID) {
        for (const at of [0, 64, 99, 100, 196]) {
          const payload = withInvalid(200, at, seq);
          const bad = firstRejected(payload)!;
          const conn = makeConnection(role);
          const first = feed(
            conn,
            toward(role, { opcode: 0x1, payload: payload.subarray(0, 100), fin: false }),
          );
          if (bad < 100) {
            assertFailed(conn, first, 'INVALID_UTF8', 1007);
            continue;
          }
          assert.deepEqual(first, []);
          assertFailed(
            conn,
            feed(conn, toward(role, { opcode: 0x0, payload: payload.subarray(100) })),
            'INVALID_UTF8',
            1007,
          );
        }
      }
    });

    test(`${role}: a sequence cut off by the end of the message, in one read, in two, in fragments`, () => {
      for (const tail of [[0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98]]) {
        const payload = concat(utf8('y'.repeat(150)), Uint8Array.from(tail));
        const frame = toward(role, { opcode: 0x1, payload });
        let conn = makeConnection(role);
        assertFailed(conn, feed(conn, frame), 'INVALID_UTF8', 1007);
        conn = makeConnection(role);
        const [a, b] = cutAt(frame, [frame.length - 1]);
        assert.deepEqual(feed(conn, a!), []);
        assertFailed(conn, feed(conn, b!), 'INVALID_UTF8', 1007);
        conn = makeConnection(role);
        const events = feed(
          conn,
          toward(role, { opcode: 0x1, payload, fin: false }),
          toward(role, { opcode: 0x0, payload: new Uint8Array(0) }),
        );
        assertFailed(conn, events, 'INVALID_UTF8', 1007);
      }
    });
  }
});

describe("text messages: long ones, past the validator's block ends", () => {
  // A two-byte character first, so that the validator checks bytes one by one
  // from there to the end of its first 512-byte block and scans words from
  // then on while 128 or more bytes of the read are left: an invalid byte on
  // either side of the block end (512) or of that cut-off (1372 in a first read
  // of 1500 bytes) fails in the first read; the valid message arrives whole.
  const positions = [
    ...Array.from({ length: 24 }, (_, k) => 500 + k),
    ...Array.from({ length: 24 }, (_, k) => 1360 + k),
    1495,
    1499,
  ];
  for (const role of ROLES) {
    test(`${role}: an invalid byte near a block end fails in the read that holds it`, () => {
      for (const at of positions) {
        const payload = concat(utf8('é'), utf8('a'.repeat(2400)));
        payload[at] = 0xff;
        const frame = toward(role, { opcode: 0x1, payload });
        const h = headerLength(role, payload.length);
        const [first] = cutAt(frame, [h + 1500]);
        const conn = makeConnection(role);
        assertFailed(conn, feed(conn, first!), 'INVALID_UTF8', 1007);
      }
    });

    test(`${role}: valid long text, in two reads cut at every byte near a block end`, () => {
      const text = `é${'a'.repeat(1000)}€${'b'.repeat(1400)}\u{1F600}`;
      const payload = utf8(text);
      const frame = toward(role, { opcode: 0x1, payload });
      const h = headerLength(role, payload.length);
      for (const cut of [...positions, 1001, 1002, 1003, 1004, 1005]) {
        const events = feed(makeConnection(role), ...cutAt(frame, [h + cut]));
        assert.deepEqual(texts(events), [text], `cut at ${cut}`);
      }
    });
  }
});

describe('text messages: valid UTF-8 arrives as its text', () => {
  const text = `\uFEFF${'ascii '.repeat(20)}é€\u{1F44B}${'z'.repeat(70)}\u{10FFFF}ü`;
  const payload = utf8(text);

  for (const role of ROLES) {
    test(`${role}: split into two reads at every point, BOM kept`, () => {
      const frame = toward(role, { opcode: 0x1, payload });
      for (let cut = 1; cut < frame.length; cut++) {
        const conn = makeConnection(role);
        const events = feed(conn, ...cutAt(frame, [cut]));
        assert.deepEqual(texts(events), [text], `cut at ${cut}`);
      }
    });

    test(`${role}: fragmented at every point, BOM kept`, () => {
      for (let cut = 0; cut <= payload.length; cut++) {
        const events = feed(
          makeConnection(role),
          toward(role, { opcode: 0x1, payload: payload.subarray(0, cut), fin: false }),
          toward(role, { opcode: 0x0, payload: payload.subarray(cut) }),
        );
        assert.deepEqual(texts(events), [text], `fragment cut at ${cut}`);
      }
    });

    test(`${role}: empty messages, whole and fragmented`, () => {
      const events = feed(
        makeConnection(role),
        toward(role, { opcode: 0x1, payload: new Uint8Array(0) }),
        toward(role, { opcode: 0x1, payload: new Uint8Array(0), fin: false }),
        toward(role, { opcode: 0x0, payload: new Uint8Array(0), fin: false }),
        toward(role, { opcode: 0x0, payload: new Uint8Array(0) }),
        toward(role, { opcode: 0x1, payload: utf8('\uFEFF') }),
      );
      assert.deepEqual(texts(events), ['', '', '\uFEFF']);
    });
  }
});

describe('compressed text messages', () => {
  function client(): Connection {
    const agreed = acceptOffer('permessage-deflate', { serverMaxWindowBits: 15 })!;
    return new Connection({
      role: 'client',
      extension: new PerMessageDeflate('client', agreed, nodeDeflateEngine),
    });
  }

  /** A compressed text frame holding `data` (no context taken over). */
  function compressedText(data: Uint8Array, fin = true): Uint8Array {
    const out = deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH });
    return encodeFrame(0x1, out.subarray(0, out.length - 4), { rsv1: true, fin, maskKey: null });
  }

  test('valid text decodes, BOM kept, empty ones too', () => {
    const text = `\uFEFF${'{"k":"v"},'.repeat(500)}é€\u{1F44B}`;
    const events = feed(
      client(),
      compressedText(utf8(text)),
      compressedText(new Uint8Array(0)),
      compressedText(utf8('\uFEFF')),
    );
    assert.deepEqual(texts(events), [text, '', '\uFEFF']);
  });

  test('invalid text fails with 1007 wherever the invalid bytes are, and nothing is delivered', () => {
    for (const [name, seq] of INVALID) {
      for (const at of POSITIONS) {
        const conn = client();
        const events = feed(conn, compressedText(withInvalid(200, at, seq)));
        assert.ok(events.length > 0, `${name} at ${at}`);
        assertFailed(conn, events, 'INVALID_UTF8', 1007);
        assert.equal(conn.messagesReceived, 0);
      }
    }
    const conn = client();
    const cutOff = concat(utf8('y'.repeat(5000)), Uint8Array.of(0xf0, 0x9f));
    assertFailed(conn, feed(conn, compressedText(cutOff)), 'INVALID_UTF8', 1007);
  });
});
