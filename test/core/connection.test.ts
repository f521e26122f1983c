import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Connection,
  ConnectionFailure,
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_MESSAGE_SIZE,
  InvalidStateError,
  type ConnectionEvent,
  type ConnectionOptions,
  type Role,
} from '../../src/core/connection.js';
import type { ProtocolErrorCode } from '../../src/core/errors.js';
import {
  assertBytes,
  assertFailed,
  assertQueuedClose,
  chunksOf,
  concat,
  countingKeys,
  everyPairOfSplits,
  everySplit,
  feed,
  frameFrom,
  KEY,
  largeFrameSplits,
  parseChunks,
  makeConnection,
  patternBytes,
  peerOf,
  rawFrame,
  rawHeader64,
  stateKind,
  takeFrames,
  utf8,
  type RawFrame,
} from './helpers.js';

const ROLES: Role[] = ['client', 'server'];

/** Events in a comparable form (payloads as number arrays). */
function summary(events: ConnectionEvent[]): unknown[] {
  return events.map((e) => {
    switch (e.type) {
      case 'text':
        return ['text', e.data];
      case 'binary':
      case 'ping':
      case 'pong':
        return [e.type, Array.from(e.data)];
      case 'close':
        return ['close', e.code, e.reason];
      case 'fail':
        return ['fail', e.error.closeCode];
      case 'violation':
        return ['violation', e.error.closeCode];
    }
  });
}

/** A frame the peer of `role` sends to it (masked with KEY when `role` is a server). */
function toward(role: Role, f: Omit<RawFrame, 'mask'>): Uint8Array {
  return frameFrom(peerOf(role), f);
}

/** A string whose UTF-8 encoding is exactly `n` bytes, mixing 1- to 4-byte characters. */
function textOfBytes(n: number): string {
  const pieces = ['a', 'é', '€', '\u{10348}', 'Z', '\u{10FFFF}', 'ü', '\uFFFD', '\u0800'];
  let s = '';
  let bytes = 0;
  for (let i = 0; bytes < n; i++) {
    const p = pieces[i % pieces.length]!;
    const len = utf8(p).length;
    if (bytes + len > n) {
      s += 'x'.repeat(n - bytes);
      break;
    }
    s += p;
    bytes += len;
  }
  return s;
}

/** Splits for a connection-level input: every cut into two, 1-byte chunks, or a sample for big inputs. */
function* splitsOf(bytes: Uint8Array, headerLength = 14): Generator<Uint8Array[]> {
  if (bytes.length > 400) {
    yield* largeFrameSplits(bytes, headerLength);
    return;
  }
  yield* everySplit(bytes);
  yield chunksOf(bytes, 1);
}

/**
 * Feeds `bytes` to a fresh connection of `role` at every split (every pair of
 * split points for short inputs) and asserts it fails with `code`/`closeCode`.
 */
function assertViolation(
  role: Role,
  bytes: Uint8Array,
  code: ProtocolErrorCode,
  closeCode: number,
  options: Omit<ConnectionOptions, 'role'> = {},
): void {
  const splits = bytes.length <= 40 ? everyPairOfSplits(bytes) : splitsOf(bytes);
  for (const chunks of splits) {
    const conn = makeConnection(role, options);
    const events = feed(conn, ...chunks);
    assertFailed(conn, events, code, closeCode);
    assert.equal(
      events.filter((e) => e.type !== 'violation' && e.type !== 'ping').length,
      0,
      'no message delivered',
    );
  }
}

// ---- messages ------------------------------------------------------------------

describe('messages: encode → parse round trip through two connections', () => {
  const LENGTHS = [0, 1, 125, 126, 127, 65535, 65536, 300_000];
  for (const role of ROLES) {
    const sender = peerOf(role);
    for (const length of LENGTHS) {
      test(`${role} receives a ${length}-byte text message from a ${sender}, at every split`, () => {
        const text = textOfBytes(length);
        const from = makeConnection(sender);
        from.sendText(text);
        const bytes = concat(...from.takeOutgoing());
        for (const chunks of splitsOf(bytes)) {
          const conn = makeConnection(role);
          const events = feed(conn, ...chunks);
          assert.equal(events.length, 1);
          const ev = events[0]!;
          assert.equal(ev.type, 'text');
          if (ev.data !== text)
            assert.fail(`text differs (chunks ${chunks.map((c) => c.length).join('+')})`);
          assert.equal(conn.hasOutgoing, false);
        }
      });

      test(`${role} receives a ${length}-byte binary message from a ${sender}, at every split`, () => {
        const data = patternBytes(length);
        const from = makeConnection(sender);
        from.sendBinary(data);
        const bytes = concat(...from.takeOutgoing());
        for (const chunks of splitsOf(bytes)) {
          const conn = makeConnection(role);
          const events = feed(conn, ...chunks);
          assert.equal(events.length, 1);
          const ev = events[0]!;
          assert.ok(ev.type === 'binary');
          assertBytes(ev.data, data);
          assert.equal(ev.data.buffer.byteLength, length, 'buffer holds exactly the message');
        }
      });
    }
  }

  for (const role of ROLES) {
    test(`${role} reassembles a fragmented text message with a Ping between fragments, at every pair of split points`, () => {
      const text = 'hé \u{1F30D} wörld!';
      const allBytes = utf8(text);
      // Cut mid-character (inside é, inside the 4-byte globe): fragments need not hold whole characters.
      const f1 = allBytes.subarray(0, 2);
      const f2 = allBytes.subarray(2, 6);
      const f3 = allBytes.subarray(6);
      const bytes = concat(
        toward(role, { opcode: 0x1, payload: f1, fin: false }),
        toward(role, { opcode: 0x9, payload: Uint8Array.of(7) }),
        toward(role, { opcode: 0x0, payload: f2, fin: false }),
        toward(role, { opcode: 0x0, payload: new Uint8Array(0), fin: false }),
        toward(role, { opcode: 0x0, payload: f3, fin: true }),
      );
      for (const chunks of everyPairOfSplits(bytes)) {
        const conn = makeConnection(role);
        const events = feed(conn, ...chunks);
        assert.deepEqual(summary(events), [
          ['ping', [7]],
          ['text', text],
        ]);
        const out = takeFrames(conn);
        assert.deepEqual(
          out.map((f) => [f.opcode, Array.from(f.payload)]),
          [[0xa, [7]]],
        );
      }
    });
  }

  test('a text message whose 4-byte character ends a network chunk that then ends in ASCII is valid (regression)', () => {
    // The validator used to keep the bound set by F0 after such a chunk and reject EE 87 BD later.
    const text = '\u{10000}A\uE1FDok';
    for (const role of ROLES) {
      const bytes = toward(role, { opcode: 0x1, payload: utf8(text) });
      for (const chunks of everyPairOfSplits(bytes)) {
        const events = feed(makeConnection(role), ...chunks);
        assert.deepEqual(summary(events), [['text', text]]);
      }
    }
  });

  test('binary messages are fresh Uint8Arrays whose buffer is exactly the message (also fragmented)', () => {
    for (const role of ROLES) {
      const conn = makeConnection(role);
      const input = concat(
        toward(role, { opcode: 0x2, payload: patternBytes(10) }),
        toward(role, { opcode: 0x2, payload: patternBytes(100), fin: false }),
        toward(role, { opcode: 0x0, payload: patternBytes(3), fin: false }),
        toward(role, { opcode: 0x0, payload: patternBytes(50) }),
        toward(role, { opcode: 0x2, payload: patternBytes(0) }),
        toward(role, { opcode: 0x2, payload: patternBytes(0), fin: false }),
        toward(role, { opcode: 0x0, payload: patternBytes(0) }),
      );
      const events = feed(conn, input);
      // Whatever the network buffer holds later must not change delivered messages.
      input.fill(0);
      assert.equal(events.length, 4);
      const expected = [
        patternBytes(10),
        concat(patternBytes(100), patternBytes(3), patternBytes(50)),
        new Uint8Array(0),
        new Uint8Array(0),
      ];
      const buffers = new Set<ArrayBufferLike>();
      events.forEach((ev, i) => {
        assert.ok(ev.type === 'binary');
        assert.ok(ev.data instanceof Uint8Array);
        assertBytes(ev.data, expected[i]!);
        assert.equal(ev.data.byteOffset, 0);
        assert.equal(ev.data.buffer.byteLength, expected[i]!.length);
        buffers.add(ev.data.buffer);
      });
      assert.equal(buffers.size, 4, 'two messages share a buffer');
    }
  });

  test('detaching an empty message’s buffer does not break later empty messages or pings on any connection', () => {
    const a = makeConnection('client');
    const [ev] = feed(a, rawFrame({ opcode: 0x2 }));
    assert.ok(ev?.type === 'binary');
    // A consumer may transfer a message's buffer (postMessage, ArrayBuffer.transfer).
    structuredClone(ev.data.buffer, { transfer: [ev.data.buffer] });
    const b = makeConnection('client');
    assert.deepEqual(summary(feed(b, rawFrame({ opcode: 0x9 }), rawFrame({ opcode: 0x2 }))), [
      ['ping', []],
      ['binary', []],
    ]);
    const out = takeFrames(b);
    assert.deepEqual(
      out.map((f) => [f.opcode, f.length]),
      [[0xa, 0]],
    );
  });

  test('a leading U+FEFF (BOM) in a text message is preserved', () => {
    for (const role of ROLES) {
      const events = feed(
        makeConnection(role),
        toward(role, { opcode: 0x1, payload: utf8('\uFEFFhi') }),
        toward(role, { opcode: 0x1, payload: Uint8Array.of(0xef, 0xbb), fin: false }),
        toward(role, { opcode: 0x0, payload: Uint8Array.of(0xbf, 0xef, 0xbb, 0xbf) }),
      );
      assert.deepEqual(summary(events), [
        ['text', '\uFEFFhi'],
        ['text', '\uFEFF\uFEFF'],
      ]);
    }
  });

  test('an empty text message is delivered as an empty string', () => {
    for (const role of ROLES) {
      const events = feed(makeConnection(role), toward(role, { opcode: 0x1 }));
      assert.deepEqual(summary(events), [['text', '']]);
    }
  });

  test('a message of exactly maxMessageSize bytes is accepted, fragmented or not', () => {
    for (const role of ROLES) {
      const conn = makeConnection(role, { maxMessageSize: 100 });
      const events = feed(
        conn,
        toward(role, { opcode: 0x2, payload: patternBytes(100) }),
        toward(role, { opcode: 0x2, payload: patternBytes(60), fin: false }),
        toward(role, { opcode: 0x0, payload: patternBytes(40) }),
      );
      assert.deepEqual(
        events.map((e) => (e.type === 'binary' ? e.data.length : e.type)),
        [100, 100],
      );
    }
  });

  test('control frames are not counted against maxMessageSize', () => {
    const conn = makeConnection('client', { maxMessageSize: 10 });
    const events = feed(conn, rawFrame({ opcode: 0x9, payload: patternBytes(125) }));
    assert.equal(events[0]?.type, 'ping');
    assert.equal(conn.failure, null);
  });

  test('a message in exactly maxFragments frames is accepted', () => {
    const conn = makeConnection('client', { maxFragments: 3 });
    const events = feed(
      conn,
      rawFrame({ opcode: 0x1, payload: utf8('a'), fin: false }),
      rawFrame({ opcode: 0x0, payload: utf8('b'), fin: false }),
      rawFrame({ opcode: 0x0, payload: utf8('c') }),
      rawFrame({ opcode: 0x1, payload: utf8('d') }),
    );
    assert.deepEqual(summary(events), [
      ['text', 'abc'],
      ['text', 'd'],
    ]);
  });

  test('bufferedMessageBytes counts the partial message and drops to 0 when it is delivered', () => {
    const conn = makeConnection('client');
    assert.equal(conn.bufferedMessageBytes, 0);
    feed(conn, rawFrame({ opcode: 0x2, payload: patternBytes(30), fin: false }));
    assert.ok(conn.bufferedMessageBytes >= 30);
    feed(conn, rawFrame({ opcode: 0x0, payload: patternBytes(5) }));
    assert.equal(conn.bufferedMessageBytes, 0);
  });
});

// ---- violations -------------------------------------------------------------------

describe('violations: the connection fails with the close code, and queues a Close with it', () => {
  for (const role of ROLES) {
    for (const bit of ['rsv1', 'rsv2', 'rsv3'] as const) {
      test(`${role} receives a frame with ${bit.toUpperCase()} set and no extension: fails with 1002`, () => {
        assertViolation(
          role,
          toward(role, { opcode: 0x2, payload: patternBytes(3), [bit]: true }),
          'RESERVED_BITS',
          1002,
        );
      });
    }

    test(`${role} receives reserved opcodes 3-7 and 11-15: fails with 1002`, () => {
      for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
        assertViolation(
          role,
          toward(role, { opcode, payload: patternBytes(2) }),
          'RESERVED_OPCODE',
          1002,
        );
      }
    });

    test(`${role} receives a control frame longer than 125 bytes: fails with 1002`, () => {
      for (const opcode of [0x8, 0x9, 0xa]) {
        for (const length of [126, 127, 200]) {
          const bytes = toward(role, { opcode, payload: patternBytes(length) });
          // Detected from the header: the payload need not arrive.
          const conn = makeConnection(role);
          assertFailed(conn, feed(conn, bytes.subarray(0, 2)), 'CONTROL_FRAME_TOO_LONG', 1002);
          assertViolation(role, bytes, 'CONTROL_FRAME_TOO_LONG', 1002);
        }
      }
    });

    test(`${role} receives a fragmented control frame: fails with 1002`, () => {
      for (const opcode of [0x8, 0x9, 0xa]) {
        assertViolation(
          role,
          toward(role, { opcode, payload: patternBytes(2), fin: false }),
          'CONTROL_FRAME_FRAGMENTED',
          1002,
        );
      }
    });

    test(`${role} receives a continuation frame with nothing to continue: fails with 1002`, () => {
      assertViolation(
        role,
        toward(role, { opcode: 0x0, payload: utf8('x') }),
        'UNEXPECTED_CONTINUATION',
        1002,
      );
      assertViolation(
        role,
        toward(role, { opcode: 0x0, payload: utf8('x'), fin: false }),
        'UNEXPECTED_CONTINUATION',
        1002,
      );
      // Also right after a complete fragmented message.
      const conn = makeConnection(role);
      const events = feed(
        conn,
        toward(role, { opcode: 0x1, payload: utf8('a'), fin: false }),
        toward(role, { opcode: 0x0, payload: utf8('b') }),
        toward(role, { opcode: 0x0, payload: utf8('c') }),
      );
      assert.deepEqual(summary(events), [
        ['text', 'ab'],
        ['violation', 1002],
      ]);
      assertFailed(conn, events, 'UNEXPECTED_CONTINUATION', 1002);
    });

    test(`${role} receives a new data frame inside a fragmented message: fails with 1002`, () => {
      for (const [first, second] of [
        [0x1, 0x1],
        [0x1, 0x2],
        [0x2, 0x1],
        [0x2, 0x2],
      ] as const) {
        for (const secondFin of [true, false]) {
          assertViolation(
            role,
            concat(
              toward(role, { opcode: first, payload: utf8('a'), fin: false }),
              toward(role, { opcode: second, payload: utf8('b'), fin: secondFin }),
            ),
            'EXPECTED_CONTINUATION',
            1002,
          );
        }
      }
    });

    test(`${role} receives a 1-byte Close payload: fails with 1002`, () => {
      assertViolation(
        role,
        toward(role, { opcode: 0x8, payload: Uint8Array.of(0x03) }),
        'CLOSE_PAYLOAD_TOO_SHORT',
        1002,
      );
    });

    test(`${role} receives a 64-bit length with the most significant bit set: fails with 1002`, () => {
      const mask = role === 'server' ? KEY : null;
      assertViolation(role, rawHeader64(0x2, 0x80000000, 5, mask), 'INVALID_LENGTH', 1002);
      assertViolation(role, rawHeader64(0x2, 0xffffffff, 0xffffffff, mask), 'INVALID_LENGTH', 1002);
    });

    test(`${role} receives a 64-bit length of 2^53 or more: fails with 1009`, () => {
      const mask = role === 'server' ? KEY : null;
      assertViolation(role, rawHeader64(0x2, 0x200000, 0, mask), 'MESSAGE_TOO_BIG', 1009);
      assertViolation(role, rawHeader64(0x2, 0x7fffffff, 0, mask), 'MESSAGE_TOO_BIG', 1009);
    });
  }

  test('server receives an unmasked frame: fails with 1002', () => {
    for (const opcode of [0x1, 0x2, 0x8, 0x9]) {
      assertViolation(
        'server',
        rawFrame({ opcode, payload: patternBytes(2) }),
        'UNMASKED_FRAME',
        1002,
      );
    }
  });

  test('client receives a masked frame: fails with 1002', () => {
    for (const opcode of [0x1, 0x2, 0x8, 0x9]) {
      assertViolation(
        'client',
        rawFrame({ opcode, payload: patternBytes(2), mask: KEY }),
        'MASKED_FRAME',
        1002,
      );
    }
  });

  for (const role of ROLES) {
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) {
      test(`${role} receives a Close with code ${code}, which may not be sent: fails with 1002`, () => {
        const payload = Uint8Array.of(code >> 8, code & 0xff);
        assertViolation(role, toward(role, { opcode: 0x8, payload }), 'INVALID_CLOSE_CODE', 1002);
        assertViolation(
          role,
          toward(role, { opcode: 0x8, payload: concat(payload, utf8('reason')) }),
          'INVALID_CLOSE_CODE',
          1002,
        );
      });
    }
  }

  const invalidUtf8: Array<[string, number[]]> = [
    ['an overlong encoding', [0x61, 0xc0, 0xaf]],
    ['an overlong 3-byte encoding', [0xe0, 0x80, 0xaf]],
    ['a UTF-16 surrogate', [0x61, 0xed, 0xa0, 0x80]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['an F5 lead byte', [0xf5, 0x80, 0x80, 0x80]],
    ['an invalid continuation byte', [0xe2, 0x28, 0xa1]],
    ['a stray continuation byte', [0x61, 0x80]],
    ['a sequence truncated at the end of the message', [0x61, 0xe2, 0x82]],
    ['a 4-byte sequence truncated at the end of the message', [0xf0, 0x9f, 0x98]],
  ];
  for (const role of ROLES) {
    for (const [name, bytes] of invalidUtf8) {
      test(`${role} receives a text message with ${name}: fails with 1007`, () => {
        const payload = Uint8Array.from(bytes);
        assertViolation(role, toward(role, { opcode: 0x1, payload }), 'INVALID_UTF8', 1007);
        // The same bytes spread over fragments (one byte each), with an empty final fragment.
        const frames = Array.from(payload, (b, i) =>
          toward(role, { opcode: i === 0 ? 0x1 : 0x0, payload: Uint8Array.of(b), fin: false }),
        );
        frames.push(toward(role, { opcode: 0x0, payload: new Uint8Array(0) }));
        assertViolation(role, concat(...frames), 'INVALID_UTF8', 1007);
      });
    }

    test(`${role} receives a Close whose reason is not UTF-8: fails with 1007`, () => {
      for (const [, bytes] of invalidUtf8) {
        assertViolation(
          role,
          toward(role, { opcode: 0x8, payload: Uint8Array.of(0x03, 0xe8, ...bytes) }),
          'INVALID_CLOSE_REASON',
          1007,
        );
      }
    });

    test(`${role} receives an invalid UTF-8 prefix in the first fragment of a text message: fails before the rest arrives`, () => {
      for (const prefix of [
        [0x61, 0xc0],
        [0xed, 0xa0],
        [0xf4, 0x90],
        [0x61, 0x62, 0xff],
      ]) {
        const conn = makeConnection(role);
        const events = feed(
          conn,
          toward(role, { opcode: 0x1, payload: Uint8Array.from(prefix), fin: false }),
        );
        assertFailed(conn, events, 'INVALID_UTF8', 1007);
        assert.equal(conn.bufferedMessageBytes, 0, 'the partial message was dropped');
        // The rest is ignored.
        assert.deepEqual(feed(conn, toward(role, { opcode: 0x0, payload: utf8('rest') })), []);
      }
    });

    test(`${role} receives an invalid UTF-8 byte early in a long text frame: fails before the frame's end arrives`, () => {
      const payload = utf8('x'.repeat(1000));
      payload[3] = 0xff;
      const bytes = toward(role, { opcode: 0x1, payload });
      const headerLength = role === 'server' ? 8 : 4;
      const conn = makeConnection(role);
      assert.deepEqual(feed(conn, bytes.subarray(0, headerLength + 3)), []);
      assertFailed(
        conn,
        feed(conn, bytes.subarray(headerLength + 3, headerLength + 4)),
        'INVALID_UTF8',
        1007,
      );
    });

    test(`${role} receives a fragment ending inside a character that the next fragment completes: valid`, () => {
      const events = feed(
        makeConnection(role),
        toward(role, { opcode: 0x1, payload: Uint8Array.of(0x61, 0xe2, 0x82), fin: false }),
        toward(role, { opcode: 0x0, payload: Uint8Array.of(0xac) }),
      );
      assert.deepEqual(summary(events), [['text', 'a€']]);
    });

    test(`${role} receives a header declaring more than the runtime can allocate, with no message limit: fails with 1009, nothing thrown`, () => {
      for (const declared of [2 ** 40, 2 ** 53 - 1]) {
        // The header alone: 127, then the 64-bit length, then the mask key toward a server.
        const header = new Uint8Array(role === 'server' ? 14 : 10);
        header[0] = 0x82;
        header[1] = 127 | (role === 'server' ? 0x80 : 0);
        new DataView(header.buffer).setBigUint64(2, BigInt(declared));
        for (const maxMessageSize of [Number.MAX_SAFE_INTEGER, Infinity]) {
          const conn = makeConnection(role, { maxMessageSize });
          assertFailed(conn, feed(conn, header), 'MESSAGE_TOO_BIG', 1009);
          assert.equal(conn.bufferedMessageBytes, 0);
        }
      }
    });

    test(`${role} receives a message larger than maxMessageSize: fails with 1009 from the header alone`, () => {
      const payload = patternBytes(101);
      const bytes = toward(role, { opcode: 0x2, payload });
      const headerLength = role === 'server' ? 6 : 2;
      const conn = makeConnection(role, { maxMessageSize: 100 });
      assertFailed(conn, feed(conn, bytes.subarray(0, headerLength)), 'MESSAGE_TOO_BIG', 1009);
      assert.equal(conn.bufferedMessageBytes, 0);
      assertViolation(role, bytes, 'MESSAGE_TOO_BIG', 1009, { maxMessageSize: 100 });
      assertViolation(
        role,
        toward(role, { opcode: 0x1, payload: utf8('x'.repeat(101)) }),
        'MESSAGE_TOO_BIG',
        1009,
        {
          maxMessageSize: 100,
        },
      );
    });

    test(`${role} receives a frame header claiming 2^40 bytes: fails with 1009 at once, allocating nothing`, () => {
      const header = rawHeader64(0x2, 0x100, 0, role === 'server' ? KEY : null);
      for (const chunks of everySplit(header)) {
        const conn = makeConnection(role);
        assert.equal(conn.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE);
        assertFailed(conn, feed(conn, ...chunks), 'MESSAGE_TOO_BIG', 1009);
        assert.equal(conn.bufferedMessageBytes, 0);
      }
    });

    test(`${role} receives a fragmented message whose total exceeds maxMessageSize: fails with 1009 at the header of the fragment that crosses it`, () => {
      const first = toward(role, { opcode: 0x2, payload: patternBytes(60), fin: false });
      const second = toward(role, { opcode: 0x0, payload: patternBytes(41) });
      const conn = makeConnection(role, { maxMessageSize: 100 });
      assert.deepEqual(feed(conn, first), []);
      const headerLength = role === 'server' ? 6 : 2;
      assertFailed(conn, feed(conn, second.subarray(0, headerLength)), 'MESSAGE_TOO_BIG', 1009);
      assertViolation(role, concat(first, second), 'MESSAGE_TOO_BIG', 1009, {
        maxMessageSize: 100,
      });
      // Text too, with many small fragments.
      const frames = [toward(role, { opcode: 0x1, payload: utf8('x'.repeat(30)), fin: false })];
      for (let i = 0; i < 3; i++)
        frames.push(toward(role, { opcode: 0x0, payload: utf8('y'.repeat(30)), fin: i === 2 }));
      assertViolation(role, concat(...frames), 'MESSAGE_TOO_BIG', 1009, { maxMessageSize: 100 });
    });

    test(`${role} receives a message in more frames than maxFragments: fails with 1009`, () => {
      const frames = [toward(role, { opcode: 0x1, payload: utf8('a'), fin: false })];
      for (let i = 0; i < 3; i++)
        frames.push(toward(role, { opcode: 0x0, payload: utf8('b'), fin: i === 2 }));
      assertViolation(role, concat(...frames), 'TOO_MANY_FRAGMENTS', 1009, { maxFragments: 3 });
      // Empty fragments count too.
      const empties = [toward(role, { opcode: 0x2, fin: false })];
      for (let i = 0; i < 4; i++) empties.push(toward(role, { opcode: 0x0, fin: false }));
      assertViolation(role, concat(...empties), 'TOO_MANY_FRAGMENTS', 1009, { maxFragments: 4 });
    });
  }

  test('the default limits are 64 MiB and 2^20 fragments', () => {
    const conn = new Connection({ role: 'server' });
    assert.equal(conn.maxMessageSize, 64 * 1024 * 1024);
    assert.equal(conn.maxFragments, 1 << 20);
    assert.equal(DEFAULT_MAX_FRAGMENTS, 1 << 20);
  });

  test('after a failure, later input is ignored and nothing more is queued', () => {
    for (const role of ROLES) {
      const conn = makeConnection(role);
      assertFailed(conn, feed(conn, toward(role, { opcode: 0x3 })), 'RESERVED_OPCODE', 1002);
      assert.deepEqual(
        feed(
          conn,
          toward(role, { opcode: 0x9, payload: utf8('p') }),
          toward(role, { opcode: 0x1, payload: utf8('t') }),
          toward(role, { opcode: 0x8, payload: Uint8Array.of(3, 0xe8) }),
        ),
        [],
      );
      assert.equal(conn.hasOutgoing, false);
    }
  });

  test('a violation in the same chunk as earlier valid frames: those are delivered, then the violation; replies may be sent; fail() queues the Close', () => {
    const conn = makeConnection('client');
    const events = feed(
      conn,
      concat(
        rawFrame({ opcode: 0x1, payload: utf8('ok') }),
        rawFrame({ opcode: 0x9, payload: utf8('p') }),
        rawFrame({ opcode: 0x4 }),
        rawFrame({ opcode: 0x1, payload: utf8('never') }),
      ),
    );
    assert.deepEqual(summary(events), [
      ['text', 'ok'],
      ['ping', [0x70]],
      ['violation', 1002],
    ]);
    assert.equal(stateKind(conn), 'violated');
    assert.equal(conn.readyState, 'OPEN');
    assert.equal(conn.canSend, true);
    // The reply to 'ok' goes out after the Pong, before any Close.
    conn.sendText('reply');
    const violation = events[2]!;
    assert.ok(violation.type === 'violation');
    conn.fail(violation.error);
    assert.deepEqual(conn.takeEvents(), [{ type: 'fail', error: violation.error }]);
    assert.deepEqual(
      takeFrames(conn).map((f) => [f.opcode, Array.from(f.payload)]),
      [
        [0xa, [0x70]],
        [0x1, Array.from(utf8('reply'))],
        [0x8, [0x03, 0xea]],
      ],
    );
    assert.throws(() => conn.sendText('late'), InvalidStateError);
  });

  for (const role of ROLES) {
    test(`${role}: valid messages then a violation, split at every byte: the messages, then one violation, nothing after`, () => {
      const cases: Array<[string, Uint8Array, number]> = [
        ['a reserved opcode', toward(role, { opcode: 0x3 }), 1002],
        ['RSV1', toward(role, { opcode: 0x1, rsv1: true, payload: utf8('x') }), 1002],
        [
          'a continuation with nothing to continue',
          toward(role, { opcode: 0x0, payload: utf8('x') }),
          1002,
        ],
        ['invalid UTF-8', toward(role, { opcode: 0x1, payload: Uint8Array.of(0x61, 0xff) }), 1007],
        [
          'a message over maxMessageSize',
          toward(role, { opcode: 0x2, payload: new Uint8Array(65) }),
          1009,
        ],
        ['a 1-byte Close', toward(role, { opcode: 0x8, payload: Uint8Array.of(3) }), 1002],
      ];
      for (const [what, bad, closeCode] of cases) {
        const valid = concat(
          toward(role, { opcode: 0x1, payload: utf8('first') }),
          toward(role, { opcode: 0x2, payload: Uint8Array.of(1, 2), fin: false }),
          toward(role, { opcode: 0x0, payload: Uint8Array.of(3), fin: true }),
        );
        const after = toward(role, { opcode: 0x1, payload: utf8('after') });
        const bytes = concat(valid, bad, after);
        for (const chunks of everySplit(bytes)) {
          const conn = makeConnection(role, { maxMessageSize: 64 });
          const events = feed(conn, ...chunks);
          assert.deepEqual(
            summary(events),
            [
              ['text', 'first'],
              ['binary', [1, 2, 3]],
              ['violation', closeCode],
            ],
            `${what}, split ${chunks.map((c) => c.length).join('+')}`,
          );
          assert.equal(conn.hasOutgoing, false, `${what}: nothing queued before fail()`);
          conn.sendBinary(Uint8Array.of(9));
          assert.equal(takeFrames(conn).length, 1);
        }
      }
    });
  }

  test('a violation while CLOSING: reported, and fail() sends no second Close frame', () => {
    for (const role of ROLES) {
      const conn = makeConnection(role);
      conn.sendClose(1000);
      assertQueuedClose(conn, 1000);
      assert.equal(conn.readyState, 'CLOSING');
      const events = feed(conn, toward(role, { opcode: 0x0, payload: utf8('x') }));
      assert.deepEqual(summary(events), [['violation', 1002]]);
      assert.equal(conn.readyState, 'CLOSING');
      assert.equal(conn.canSend, false);
      assert.throws(() => conn.sendText('x'), InvalidStateError);
      const violation = events[0]!;
      assert.ok(violation.type === 'violation');
      conn.fail(violation.error);
      assert.deepEqual(conn.state, { kind: 'failed', error: violation.error, closeSent: true });
      assert.equal(conn.hasOutgoing, false);
      assert.equal(conn.closedCleanly, false);
    }
  });
});

// ---- control frames and the closing handshake -----------------------------------------

describe('Ping and Pong', () => {
  for (const role of ROLES) {
    test(`${role} answers each Ping with a Pong carrying the identical payload`, () => {
      const conn = makeConnection(role);
      const payloads = [new Uint8Array(0), Uint8Array.of(0), patternBytes(125), utf8('hello')];
      const events = feed(conn, ...payloads.map((p) => toward(role, { opcode: 0x9, payload: p })));
      assert.deepEqual(
        summary(events),
        payloads.map((p) => ['ping', Array.from(p)]),
      );
      const frames = takeFrames(conn);
      assert.equal(frames.length, payloads.length);
      frames.forEach((f, i) => {
        assert.equal(f.opcode, 0xa);
        assert.equal(f.fin, true);
        assert.equal(f.masked, role === 'client');
        assertBytes(f.payload, payloads[i]!);
      });
    });

    test(`${role} answers a Ping split at every byte with one Pong`, () => {
      const ping = toward(role, { opcode: 0x9, payload: patternBytes(20) });
      for (const chunks of everyPairOfSplits(ping)) {
        const conn = makeConnection(role);
        feed(conn, ...chunks);
        const frames = takeFrames(conn);
        assert.equal(frames.length, 1);
        assertBytes(frames[0]!.payload, patternBytes(20));
      }
    });

    test(`${role} with autoPong: false reports the Ping and sends nothing`, () => {
      const conn = makeConnection(role, { autoPong: false });
      assert.deepEqual(summary(feed(conn, toward(role, { opcode: 0x9, payload: utf8('x') }))), [
        ['ping', [0x78]],
      ]);
      assert.equal(conn.hasOutgoing, false);
    });

    test(`${role} sends no Pong for a Ping received after it sent Close`, () => {
      const conn = makeConnection(role);
      conn.sendClose(1000);
      conn.takeOutgoing();
      const events = feed(conn, toward(role, { opcode: 0x9, payload: utf8('late') }));
      assert.equal(events[0]?.type, 'ping');
      assert.equal(conn.hasOutgoing, false);
    });

    test(`${role} reports a Pong and sends nothing back`, () => {
      const conn = makeConnection(role);
      assert.deepEqual(summary(feed(conn, toward(role, { opcode: 0xa, payload: utf8('hb') }))), [
        ['pong', [0x68, 0x62]],
      ]);
      assert.equal(conn.hasOutgoing, false);
    });

    test(`${role}: a Ping payload event is not aliased to the input buffer`, () => {
      const conn = makeConnection(role);
      const input = toward(role, { opcode: 0x9, payload: utf8('abc') });
      const [ev] = feed(conn, input);
      input.fill(0);
      assert.ok(ev?.type === 'ping');
      assertBytes(ev.data, utf8('abc'));
    });
  }
});

describe('the closing handshake', () => {
  for (const role of ROLES) {
    for (const code of [
      1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
    ]) {
      test(`${role} receives Close ${code}: reports it and echoes the same code and reason`, () => {
        const conn = makeConnection(role);
        const events = feed(
          conn,
          toward(role, {
            opcode: 0x8,
            payload: concat(Uint8Array.of(code >> 8, code & 0xff), utf8('bye')),
          }),
        );
        assert.deepEqual(summary(events), [['close', code, 'bye']]);
        assert.equal(assertQueuedClose(conn, code), 'bye');
        assert.deepEqual(conn.state, { kind: 'acknowledged', peerClose: { code, reason: 'bye' } });
        // The closing handshake is complete; CLOSED comes with the end of the transport.
        assert.equal(conn.readyState, 'CLOSING');
        assert.equal(conn.closeReceived, true);
        assert.equal(conn.closeSent, true);
        assert.equal(conn.closedCleanly, true);
        assert.equal(conn.peerCloseCode, code);
        assert.equal(conn.peerCloseReason, 'bye');
        assert.equal(conn.failure, null);
      });
    }

    test(`${role} receives a Close with an empty body: reports 1005 and echoes an empty body`, () => {
      const conn = makeConnection(role);
      assert.deepEqual(summary(feed(conn, toward(role, { opcode: 0x8 }))), [['close', 1005, '']]);
      const frames = takeFrames(conn);
      assert.equal(frames.length, 1);
      assert.equal(frames[0]!.opcode, 0x8);
      assert.equal(frames[0]!.length, 0);
      assert.equal(conn.peerCloseCode, 1005);
      assert.equal(conn.closedCleanly, true);
    });

    test(`${role} receives a Close split at every byte: the same close and echo`, () => {
      const bytes = toward(role, {
        opcode: 0x8,
        payload: concat(Uint8Array.of(0x0f, 0xa0), utf8('réason')),
      });
      for (const chunks of everyPairOfSplits(bytes)) {
        const conn = makeConnection(role);
        assert.deepEqual(summary(feed(conn, ...chunks)), [['close', 4000, 'réason']]);
        assert.equal(assertQueuedClose(conn, 4000), 'réason');
      }
    });

    test(`${role} receives a Close with a 123-byte reason: the echo carries it byte for byte`, () => {
      const reason = 'é'.repeat(61) + 'x';
      const conn = makeConnection(role);
      const payload = concat(Uint8Array.of(0x0b, 0xb8), utf8(reason));
      assert.equal(payload.length, 125);
      assert.deepEqual(summary(feed(conn, toward(role, { opcode: 0x8, payload }))), [
        ['close', 3000, reason],
      ]);
      const frames = takeFrames(conn);
      assert.equal(frames.length, 1);
      assertBytes(frames[0]!.payload, payload);
    });

    test(`${role} starts the close: active → closedByUs → acknowledged → terminated, one Close sent`, () => {
      const conn = makeConnection(role);
      assert.equal(conn.readyState, 'OPEN');
      assert.equal(stateKind(conn), 'active');
      assert.equal(conn.closedCleanly, false);
      conn.sendClose(1000, 'done');
      assert.equal(conn.readyState, 'CLOSING');
      assert.equal(stateKind(conn), 'closedByUs');
      assert.equal(conn.closeSent, true);
      assert.equal(conn.receiving, true);
      const reason = assertQueuedClose(conn, 1000);
      assert.equal(reason, 'done');
      // Data still arrives while CLOSING.
      assert.deepEqual(summary(feed(conn, toward(role, { opcode: 0x1, payload: utf8('late') }))), [
        ['text', 'late'],
      ]);
      const events = feed(conn, toward(role, { opcode: 0x8, payload: Uint8Array.of(0x03, 0xe8) }));
      assert.deepEqual(summary(events), [['close', 1000, '']]);
      assert.equal(stateKind(conn), 'acknowledged');
      assert.equal(conn.readyState, 'CLOSING');
      assert.equal(conn.closedCleanly, true);
      assert.equal(conn.hasOutgoing, false, 'no second Close');
      assert.equal(conn.receiving, false);
      conn.receiveEof();
      assert.deepEqual(conn.state, {
        kind: 'terminated',
        from: { kind: 'acknowledged', peerClose: { code: 1000, reason: '' } },
      });
      assert.equal(conn.readyState, 'CLOSED');
      assert.equal(conn.closedCleanly, true);
    });

    test(`${role}: the peer's Close echoes; a later sendClose does nothing`, () => {
      const conn = makeConnection(role);
      feed(conn, toward(role, { opcode: 0x8, payload: Uint8Array.of(0x03, 0xe9) }));
      assertQueuedClose(conn, 1001);
      conn.sendClose(1000);
      assert.equal(conn.hasOutgoing, false);
      assert.equal(stateKind(conn), 'acknowledged');
    });

    test(`${role} ignores data after a received Close, in the same chunk or later`, () => {
      const conn = makeConnection(role);
      const events = feed(
        conn,
        concat(
          toward(role, { opcode: 0x8, payload: Uint8Array.of(0x03, 0xe8) }),
          toward(role, { opcode: 0x1, payload: utf8('after') }),
          toward(role, { opcode: 0x9, payload: utf8('p') }),
        ),
        toward(role, { opcode: 0x2, payload: utf8('later') }),
        Uint8Array.of(0xff, 0xff, 0xff),
      );
      assert.deepEqual(summary(events), [['close', 1000, '']]);
      assertQueuedClose(conn, 1000);
      assert.equal(conn.failure, null);
    });

    test(`${role}: sendText and sendBinary after sendClose throw InvalidStateError`, () => {
      const conn = makeConnection(role);
      conn.sendClose();
      assert.throws(() => conn.sendText('x'), InvalidStateError);
      assert.throws(() => conn.sendBinary(new Uint8Array(1)), InvalidStateError);
      assert.throws(() => conn.sendPing(), InvalidStateError);
      assert.throws(() => conn.sendPong(), InvalidStateError);
      assertQueuedClose(conn, undefined);
    });

    test(`${role}: sending after a received Close throws InvalidStateError`, () => {
      const conn = makeConnection(role);
      feed(conn, toward(role, { opcode: 0x8 }));
      assert.throws(() => conn.sendText('x'), InvalidStateError);
      assert.throws(() => conn.sendBinary(new Uint8Array(1)), InvalidStateError);
    });
  }
});

describe('sending', () => {
  for (const role of ROLES) {
    const masked = role === 'client';
    test(`${role} sends text and binary as single ${masked ? 'masked' : 'unmasked'} frames`, () => {
      const keys = countingKeys();
      const conn = new Connection({ role, maskKeys: keys.next });
      conn.sendText('héllo');
      conn.sendBinary(patternBytes(300));
      conn.sendPing(utf8('p'));
      conn.sendPong(utf8('q'));
      conn.sendClose(3000, 'r');
      const out = conn.takeOutgoing();
      const expect = [
        rawFrame({ opcode: 0x1, payload: utf8('héllo'), mask: keys.used[0] ?? null }),
        rawFrame({ opcode: 0x2, payload: patternBytes(300), mask: keys.used[1] ?? null }),
        rawFrame({ opcode: 0x9, payload: utf8('p'), mask: keys.used[2] ?? null }),
        rawFrame({ opcode: 0xa, payload: utf8('q'), mask: keys.used[3] ?? null }),
        rawFrame({
          opcode: 0x8,
          payload: concat(Uint8Array.of(0x0b, 0xb8), utf8('r')),
          mask: keys.used[4] ?? null,
        }),
      ];
      assert.equal(keys.used.length, masked ? 5 : 0, 'one key per frame, only for a client');
      assert.equal(out.length, expect.length);
      out.forEach((frame, i) => assertBytes(frame, expect[i]!));
    });

    test(`${role}: sendBinary sends a copy (later changes to the caller's array are not sent)`, () => {
      const conn = makeConnection(role);
      const data = patternBytes(50);
      conn.sendBinary(data);
      data.fill(0);
      assertBytes(takeFrames(conn)[0]!.payload, patternBytes(50));
    });

    test(`${role}: sendPing and sendPong with more than 125 bytes throw RangeError`, () => {
      const conn = makeConnection(role);
      assert.throws(() => conn.sendPing(new Uint8Array(126)), RangeError);
      assert.throws(() => conn.sendPong(new Uint8Array(126)), RangeError);
      assert.equal(conn.hasOutgoing, false);
      conn.sendPing(new Uint8Array(125));
      assert.equal(takeFrames(conn)[0]!.length, 125);
    });

    test(`${role}: sendClose rejects invalid codes, long reasons and a reason without a code`, () => {
      const conn = makeConnection(role);
      for (const code of [
        0,
        999,
        1004,
        1005,
        1006,
        1015,
        1016,
        2999,
        5000,
        65535,
        1000.5,
        Number.NaN,
      ]) {
        assert.throws(() => conn.sendClose(code), RangeError, `code ${code}`);
      }
      assert.throws(() => conn.sendClose(1000, 'x'.repeat(124)), RangeError);
      // 62 two-byte characters: 62 UTF-16 units but 124 UTF-8 bytes.
      assert.throws(() => conn.sendClose(1000, 'é'.repeat(62)), RangeError);
      assert.throws(() => conn.sendClose(undefined, 'why'), RangeError);
      assert.equal(conn.hasOutgoing, false);
      assert.equal(conn.readyState, 'OPEN');
      assert.equal(conn.closeSent, false);
      const reason = 'é'.repeat(61) + 'x';
      conn.sendClose(4000, reason);
      assert.equal(assertQueuedClose(conn, 4000), reason);
    });

    test(`${role}: sendClose() without a code sends an empty body; a second sendClose does nothing`, () => {
      const conn = makeConnection(role);
      conn.sendClose();
      const frames = takeFrames(conn);
      assert.equal(frames.length, 1);
      assert.equal(frames[0]!.length, 0);
      conn.sendClose(1000);
      assert.equal(conn.hasOutgoing, false);
      assert.equal(conn.readyState, 'CLOSING');
    });

    test(`${role}: fragmentSize splits outgoing messages and the parts reassemble on the other side`, () => {
      const keys = countingKeys();
      const conn = new Connection({ role, fragmentSize: 100, maskKeys: keys.next });
      const binary = patternBytes(1050);
      const text = textOfBytes(1000);
      conn.sendBinary(binary);
      conn.sendText(text);
      conn.sendBinary(patternBytes(100)); // not larger than fragmentSize: one frame
      conn.sendText('short');
      const out = conn.takeOutgoing();
      const rec = parseChunks(out, { expectMasked: role === 'client' });
      assert.equal(rec.error, null);
      const frames = rec.frames;
      const shape = frames.map((f) => [f.opcode, f.fin, f.length]);
      const expectedShape = [
        ...Array.from({ length: 11 }, (_, i) => [
          i === 0 ? 0x2 : 0x0,
          i === 10,
          i === 10 ? 50 : 100,
        ]),
        ...Array.from({ length: 10 }, (_, i) => [i === 0 ? 0x1 : 0x0, i === 9, 100]),
        [0x2, true, 100],
        [0x1, true, 5],
      ];
      assert.deepEqual(shape, expectedShape);
      if (role === 'client') {
        // Every frame has its own key.
        assert.equal(keys.used.length, frames.length);
        frames.forEach((f, i) => assertBytes(f.maskKey!, keys.used[i]!));
      }
      // Reassembled by a peer connection, at every split of the whole stream (sampled).
      const bytes = concat(...out);
      for (const chunks of largeFrameSplits(bytes, 14)) {
        const peer = makeConnection(peerOf(role));
        const events = feed(peer, ...chunks);
        assert.equal(events.length, 4);
        const [a, b, c, d] = events;
        assert.ok(
          a?.type === 'binary' && b?.type === 'text' && c?.type === 'binary' && d?.type === 'text',
        );
        assertBytes(a.data, binary);
        assert.equal(a.data.buffer.byteLength, binary.length);
        assert.equal(b.data, text);
        assert.equal(c.data.length, 100);
        assert.equal(d.data, 'short');
      }
    });

    test(`${role}: with fragmentSize, a text whose UTF-8 fits in one fragment is sent as one frame`, () => {
      const conn = makeConnection(role, { fragmentSize: 100 });
      // 40 UTF-16 units could need 120 bytes, so it takes the fragmenting path; 40 ASCII bytes fit.
      conn.sendText('x'.repeat(40));
      conn.sendText('é'.repeat(50)); // exactly 100 bytes: one frame
      conn.sendText('é'.repeat(51)); // 102 bytes: two
      const frames = takeFrames(conn);
      assert.deepEqual(
        frames.map((f) => [f.opcode, f.fin, f.length]),
        [
          [0x1, true, 40],
          [0x1, true, 100],
          [0x1, false, 100],
          [0x0, true, 2],
        ],
      );
    });
  }

  test('a client without injected keys masks every frame with a fresh random key', () => {
    const conn = new Connection({ role: 'client' });
    for (let i = 0; i < 20; i++) conn.sendBinary(patternBytes(8));
    const frames = takeFrames(conn);
    const keys = new Set(frames.map((f) => Array.from(f.maskKey!).join(',')));
    assert.ok(frames.every((f) => f.masked));
    assert.ok(keys.size >= 19, `only ${keys.size} distinct keys in 20 frames`);
    frames.forEach((f) => assertBytes(f.payload, patternBytes(8)));
  });

  test('a server never masks, even when given a key source', () => {
    const keys = countingKeys();
    const conn = new Connection({ role: 'server', maskKeys: keys.next });
    conn.sendText('x');
    assert.equal(keys.used.length, 0);
    assert.equal(takeFrames(conn)[0]!.masked, false);
  });

  test('hasOutgoing and takeOutgoing: bytes are handed out once, in order', () => {
    const conn = makeConnection('server');
    assert.equal(conn.hasOutgoing, false);
    assert.deepEqual(conn.takeOutgoing(), []);
    conn.sendText('a');
    conn.sendText('b');
    assert.equal(conn.hasOutgoing, true);
    const out = conn.takeOutgoing();
    assert.equal(out.length, 2);
    assertBytes(
      concat(...out),
      concat(
        rawFrame({ opcode: 1, payload: utf8('a') }),
        rawFrame({ opcode: 1, payload: utf8('b') }),
      ),
    );
    assert.equal(conn.hasOutgoing, false);
    assert.deepEqual(conn.takeOutgoing(), []);
  });
});

describe('local failure: fail()', () => {
  for (const role of ROLES) {
    test(`${role}: fail(code) queues a Close with that code, reports a ConnectionFailure and stops reading`, () => {
      const conn = makeConnection(role);
      conn.fail(1011, 'internal');
      const events = conn.takeEvents();
      assert.equal(events.length, 1);
      const ev = events[0]!;
      assert.ok(ev.type === 'fail' && ev.error instanceof ConnectionFailure);
      assert.equal(ev.error.closeCode, 1011);
      assert.equal(ev.error.message, 'internal');
      assertQueuedClose(conn, 1011);
      assert.deepEqual(conn.state, { kind: 'failed', error: ev.error, closeSent: true });
      assert.equal(conn.readyState, 'CLOSING');
      assert.equal(conn.receiving, false);
      assert.equal(conn.closedCleanly, false);
      assert.deepEqual(feed(conn, toward(role, { opcode: 0x1, payload: utf8('x') })), []);
      assert.throws(() => conn.sendText('x'), InvalidStateError);
    });

    test(`${role}: fail() with a code that may not be sent (1006) queues no Close`, () => {
      const conn = makeConnection(role);
      conn.fail(1006, 'socket gone');
      assert.equal(conn.takeEvents()[0]?.type, 'fail');
      assert.equal(conn.hasOutgoing, false);
      assert.equal(stateKind(conn), 'failed');
      assert.equal(conn.closeSent, false);
    });

    test(`${role}: fail() after the close completed or a first failure does nothing`, () => {
      const conn = makeConnection(role);
      feed(conn, toward(role, { opcode: 0x8 }));
      conn.takeOutgoing();
      conn.fail(1011, 'late');
      assert.deepEqual(conn.takeEvents(), []);
      assert.equal(conn.failure, null);
      const other = makeConnection(role);
      other.fail(1011, 'first');
      other.fail(1008, 'second');
      assert.equal(other.takeEvents().length, 1);
      assertQueuedClose(other, 1011);
    });
  }
});

describe('receiveEof', () => {
  for (const role of ROLES) {
    test(`${role}: EOF without a closing handshake: CLOSED, not clean, peer code 1006, input ignored`, () => {
      const conn = makeConnection(role);
      feed(conn, toward(role, { opcode: 0x1, payload: utf8('partial'), fin: false }));
      conn.receiveEof();
      assert.equal(conn.readyState, 'CLOSED');
      assert.equal(conn.receiving, false);
      assert.equal(conn.closedCleanly, false);
      assert.equal(conn.peerCloseCode, 1006);
      assert.equal(conn.peerCloseReason, '');
      assert.deepEqual(conn.takeEvents(), []);
      assert.deepEqual(feed(conn, toward(role, { opcode: 0x0, payload: utf8('rest') })), []);
      assert.throws(() => conn.sendText('x'), InvalidStateError);
      assert.throws(() => conn.sendBinary(new Uint8Array(1)), InvalidStateError);
      assert.equal(conn.hasOutgoing, false);
    });

    test(`${role}: sendPing and sendPong after EOF queue no frame`, () => {
      const conn = makeConnection(role);
      conn.receiveEof();
      conn.sendPing(Uint8Array.of(1));
      conn.sendPong();
      assert.equal(conn.hasOutgoing, false);
    });

    test(`${role}: sendClose after EOF does nothing: the state stays CLOSED and no Close is queued`, () => {
      const conn = makeConnection(role);
      conn.receiveEof();
      conn.sendClose(1000);
      assert.equal(conn.readyState, 'CLOSED');
      assert.equal(conn.closeSent, false);
      assert.equal(conn.hasOutgoing, false);
    });

    test(`${role}: sendClose after a local failure that sent no Close does nothing`, () => {
      const conn = makeConnection(role);
      conn.fail(1006, 'transport lost');
      conn.takeEvents();
      conn.sendClose(1000);
      assert.equal(stateKind(conn), 'failed');
      assert.equal(conn.hasOutgoing, false);
    });

    test(`${role}: EOF after sending Close (the peer never answered): CLOSED, not clean`, () => {
      const conn = makeConnection(role);
      conn.sendClose(1000);
      conn.receiveEof();
      assert.equal(conn.readyState, 'CLOSED');
      assert.equal(conn.closedCleanly, false);
      assert.equal(conn.peerCloseCode, 1006);
    });

    test(`${role}: EOF after the closing handshake keeps it clean`, () => {
      const conn = makeConnection(role);
      feed(conn, toward(role, { opcode: 0x8, payload: Uint8Array.of(0x03, 0xe8) }));
      conn.receiveEof();
      assert.equal(conn.readyState, 'CLOSED');
      assert.equal(conn.closedCleanly, true);
      assert.equal(conn.peerCloseCode, 1000);
    });
  }
});

describe("text longer than the runtime's longest string", () => {
  // V8 strings hold at most 2^29 - 24 characters: 2^29 bytes of valid ASCII is
  // valid UTF-8 that no string can hold. Half a GiB per message: one role.
  const ascii = new Uint8Array(2 ** 29).fill(0x61);
  const options = { maxMessageSize: 2 ** 30 };

  test('in one frame: fails with 1009, not as invalid UTF-8 (1007)', () => {
    const conn = makeConnection('client', options);
    assertFailed(
      conn,
      feed(conn, rawFrame({ opcode: 0x1, payload: ascii })),
      'MESSAGE_TOO_BIG',
      1009,
    );
  });

  test('fragmented, the last fragment empty: fails with 1009, nothing thrown', () => {
    const conn = makeConnection('client', options);
    const events = feed(
      conn,
      rawFrame({ opcode: 0x1, payload: ascii, fin: false }),
      rawFrame({ opcode: 0x0 }),
    );
    assertFailed(conn, events, 'MESSAGE_TOO_BIG', 1009);
  });
});

describe('options', () => {
  test('invalid limits throw RangeError', () => {
    assert.throws(() => new Connection({ role: 'client', maxMessageSize: -1 }), RangeError);
    assert.throws(() => new Connection({ role: 'client', maxMessageSize: Number.NaN }), RangeError);
    assert.throws(() => new Connection({ role: 'client', maxFragments: 0 }), RangeError);
  });

  test('maxMessageSize 0 accepts only empty messages', () => {
    const conn = makeConnection('client', { maxMessageSize: 0 });
    assert.deepEqual(summary(feed(conn, rawFrame({ opcode: 0x1 }))), [['text', '']]);
    assertFailed(
      conn,
      feed(conn, rawFrame({ opcode: 0x1, payload: utf8('x') })),
      'MESSAGE_TOO_BIG',
      1009,
    );
  });
});
