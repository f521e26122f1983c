import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeFrame,
  encodeTextFrame,
  headerLength,
  isControlOpcode,
  isKnownOpcode,
  MAX_CONTROL_PAYLOAD,
  Opcode,
} from '../../src/core/frame.js';
import {
  assertBytes,
  chunksOf,
  everyPairOfSplits,
  KEY,
  largeFrameSplits,
  parseChunks,
  patternBytes,
  rawFrame,
  utf8,
} from './helpers.js';

const LENGTHS = [0, 1, 125, 126, 127, 65535, 65536, 300_000];
const OPCODES = [
  Opcode.CONTINUATION,
  Opcode.TEXT,
  Opcode.BINARY,
  Opcode.CLOSE,
  Opcode.PING,
  Opcode.PONG,
];

describe('opcodes', () => {
  test('Opcode holds the RFC 6455 5.2 values', () => {
    assert.deepEqual(
      { ...Opcode },
      { CONTINUATION: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 },
    );
    assert.equal(MAX_CONTROL_PAYLOAD, 125);
  });

  test('isKnownOpcode is true for 0-2 and 8-10 only; isControlOpcode for 8-15 only', () => {
    for (let op = 0; op < 16; op++) {
      assert.equal(isKnownOpcode(op), [0, 1, 2, 8, 9, 10].includes(op), `known ${op}`);
      assert.equal(isControlOpcode(op), op >= 8, `control ${op}`);
    }
  });
});

describe('headerLength', () => {
  test('2, 4 or 10 bytes by payload length, plus 4 when masked', () => {
    const cases: Array<[number, number]> = [
      [0, 2],
      [125, 2],
      [126, 4],
      [65535, 4],
      [65536, 10],
      [2 ** 32, 10],
      [Number.MAX_SAFE_INTEGER, 10],
    ];
    for (const [length, base] of cases) {
      assert.equal(headerLength(length, false), base, `unmasked ${length}`);
      assert.equal(headerLength(length, true), base + 4, `masked ${length}`);
    }
  });
});

describe('encodeFrame', () => {
  for (const opcode of OPCODES) {
    const lengths = isControlOpcode(opcode) ? [0, 1, 125] : LENGTHS;
    for (const length of lengths) {
      for (const mask of [null, KEY]) {
        test(`opcode ${opcode}, ${length} bytes, ${mask === null ? 'unmasked' : 'masked'}: the bytes RFC 6455 5.2 prescribes`, () => {
          const payload = patternBytes(length);
          const frame = encodeFrame(opcode, payload, { maskKey: mask });
          assertBytes(frame, rawFrame({ opcode, payload, mask }));
          assert.equal(frame.length, headerLength(length, mask !== null) + length);
        });
      }
    }
  }

  test('fin: false clears FIN; rsv1: true sets RSV1', () => {
    const payload = patternBytes(3);
    assertBytes(
      encodeFrame(Opcode.TEXT, payload, { fin: false, maskKey: null }),
      rawFrame({ opcode: 1, payload, fin: false }),
    );
    assertBytes(
      encodeFrame(Opcode.BINARY, payload, { rsv1: true, maskKey: KEY }),
      rawFrame({ opcode: 2, payload, rsv1: true, mask: KEY }),
    );
    assertBytes(
      encodeFrame(Opcode.CONTINUATION, payload, { fin: false, rsv1: true, maskKey: null }),
      rawFrame({ opcode: 0, payload, fin: false, rsv1: true }),
    );
  });

  test('lengths of 2^16 and more use the 64-bit form in network byte order', () => {
    // (The high word is always 0 here: a frame of 2^32 bytes is too big to allocate in a test.)
    const frame = encodeFrame(Opcode.BINARY, new Uint8Array(0x10203), { maskKey: null });
    assertBytes(frame.subarray(0, 10), Uint8Array.of(0x82, 127, 0, 0, 0, 0, 0, 1, 0x02, 0x03));
  });

  test('masking does not modify the caller’s payload', () => {
    const payload = patternBytes(200);
    const copy = payload.slice();
    encodeFrame(Opcode.BINARY, payload, { maskKey: KEY });
    assertBytes(payload, copy);
  });

  test('the frame is a fresh buffer: later changes to the payload do not show in it', () => {
    const payload = patternBytes(10);
    const frame = encodeFrame(Opcode.BINARY, payload, { maskKey: null });
    payload.fill(0);
    assertBytes(frame, rawFrame({ opcode: 2, payload: patternBytes(10) }));
    assert.notEqual(frame.buffer, payload.buffer);
  });

  test('the payload starts at a 16-byte aligned offset of its buffer', () => {
    for (const length of [0, 5, 200, 70_000]) {
      for (const mask of [null, KEY]) {
        const frame = encodeFrame(Opcode.BINARY, patternBytes(length), { maskKey: mask });
        assert.equal((frame.byteOffset + headerLength(length, mask !== null)) % 16, 0);
      }
    }
  });

  test('a payload given as an unaligned view is encoded from its own bytes', () => {
    const big = patternBytes(300);
    const view = big.subarray(3, 203);
    for (const mask of [null, KEY]) {
      assertBytes(
        encodeFrame(Opcode.BINARY, view, { maskKey: mask }),
        rawFrame({ opcode: 2, payload: view, mask }),
      );
    }
  });
});

describe('encodeTextFrame', () => {
  const texts = [
    '',
    'a',
    'héllo wörld',
    '\u{1F600} emoji and 日本語',
    '\uFEFFleading BOM',
    'x'.repeat(125),
    'é'.repeat(63),
    '€'.repeat(50_000),
  ];
  for (const text of texts) {
    for (const mask of [null, KEY]) {
      test(`${JSON.stringify(text.slice(0, 20))} (${text.length} units), ${mask === null ? 'unmasked' : 'masked'}: the frame of its UTF-8 bytes`, () => {
        assertBytes(
          encodeTextFrame(Opcode.TEXT, text, { maskKey: mask }),
          rawFrame({ opcode: 1, payload: utf8(text), mask }),
        );
      });
    }
  }

  test('lone surrogates are encoded as U+FFFD, as TextEncoder does', () => {
    const text = 'a\uD800b\uDC00c';
    const frame = encodeTextFrame(Opcode.TEXT, text, { maskKey: null });
    assertBytes(frame.subarray(2), utf8(text));
    assertBytes(frame.subarray(2), utf8('a\uFFFDb\uFFFDc'));
  });

  test('strings longer than 2^20 UTF-16 units take the bulk path and give the same bytes', () => {
    const text = 'ab\u{10348}'.repeat((1 << 20) / 4 + 7);
    assert.ok(text.length > 1 << 20);
    for (const mask of [null, KEY]) {
      assertBytes(
        encodeTextFrame(Opcode.TEXT, text, { maskKey: mask }),
        rawFrame({ opcode: 1, payload: utf8(text), mask }),
      );
    }
  });

  test('fin and rsv1 options are honoured', () => {
    assertBytes(
      encodeTextFrame(Opcode.CONTINUATION, 'abc', { fin: false, rsv1: true, maskKey: KEY }),
      rawFrame({ opcode: 0, payload: utf8('abc'), fin: false, rsv1: true, mask: KEY }),
    );
  });
});

describe('encode → parse round trip with an injected mask key', () => {
  const keys = [KEY, Uint8Array.of(0, 0, 0, 0), Uint8Array.of(0xff, 0xff, 0xff, 0xff)];
  for (const opcode of OPCODES) {
    const lengths = isControlOpcode(opcode) ? [0, 1, 125] : LENGTHS;
    for (const length of lengths) {
      test(`opcode ${opcode}, ${length} bytes: masked and unmasked frames parse back to the same frame at every split`, () => {
        const payload = patternBytes(length);
        // Unusual keys (all zero, all ones) only on small frames: they test the key, not the length.
        for (const maskKey of length <= 127 ? [null, ...keys] : [null, KEY]) {
          const frame = encodeFrame(opcode, payload, { maskKey });
          const hlen = headerLength(length, maskKey !== null);
          const splits =
            length <= 1
              ? everyPairOfSplits(frame)
              : length <= 127
                ? [...Array(frame.length + 1).keys()].map((i) => [
                    frame.subarray(0, i),
                    frame.subarray(i),
                  ])
                : largeFrameSplits(frame, hlen);
          for (const chunks of [
            ...splits,
            chunksOf(frame, 1).slice(0, hlen).concat(frame.subarray(hlen)),
          ]) {
            const rec = parseChunks(chunks, { expectMasked: maskKey !== null });
            assert.equal(rec.error, null);
            assert.equal(rec.frames.length, 1);
            const f = rec.frames[0]!;
            assert.equal(f.opcode, opcode);
            assert.equal(f.fin, true);
            assert.equal(f.masked, maskKey !== null);
            if (maskKey !== null) assertBytes(f.maskKey!, maskKey);
            assertBytes(f.payload, payload);
          }
        }
      });
    }
  }

  test('encodeTextFrame output parses back to the UTF-8 of the string', () => {
    const text = 'round \u{1F30D} trip';
    const frame = encodeTextFrame(Opcode.TEXT, text, { maskKey: KEY });
    for (const chunks of everyPairOfSplits(frame)) {
      const rec = parseChunks(chunks, { expectMasked: true });
      assert.equal(new TextDecoder().decode(rec.frames[0]!.payload), text);
    }
  });
});
