import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyMasked, copyUnmasked, MaskKeyPool, maskInPlace } from '../../src/core/mask.js';
import { setWasmMasking } from '../../src/core/mask-wasm.js';
import { assertBytes, KEY, patternBytes, prng, randomBytes } from './helpers.js';

/** RFC 6455 5.3 literally: "octet i of the transformed data is octet i of the original data XOR octet at index i modulo 4 of the masking key". */
function referenceMask(data: Uint8Array, key: Uint8Array, keyOffset: number): Uint8Array {
  const out = data.slice();
  for (let i = 0; i < out.length; i++) out[i] = out[i]! ^ key[(i + keyOffset) % 4]!;
  return out;
}

for (const path of ['WebAssembly SIMD', 'JavaScript'] as const) {
  describe(`masking through ${path}`, () => {
    before(() => {
      const available = setWasmMasking(path === 'WebAssembly SIMD');
      // Every runtime this library supports has WebAssembly SIMD.
      assert.equal(available, true);
    });
    after(() => setWasmMasking(true));

    describe(`maskInPlace (${path})`, () => {
      test('agrees with a byte-by-byte reference for lengths 0..300 and every key offset 0..3', () => {
        for (let length = 0; length <= 300; length++) {
          for (let keyOffset = 0; keyOffset < 4; keyOffset++) {
            const data = patternBytes(length);
            const expected = referenceMask(data, KEY, keyOffset);
            maskInPlace(data, 0, length, KEY, keyOffset);
            assertBytes(data, expected, `length ${length}, keyOffset ${keyOffset}`);
          }
        }
      });

      test('agrees with the reference on unaligned subarrays (byteOffset 1, 2, 3) of every length up to 300', () => {
        for (const byteOffset of [1, 2, 3]) {
          for (let length = 0; length <= 300; length++) {
            for (let keyOffset = 0; keyOffset < 4; keyOffset++) {
              const backing = patternBytes(length + byteOffset + 5);
              const view = backing.subarray(byteOffset, byteOffset + length);
              assert.equal(view.byteOffset, byteOffset);
              const before = backing.slice();
              const expected = referenceMask(view, KEY, keyOffset);
              maskInPlace(view, 0, length, KEY, keyOffset);
              assertBytes(view, expected, `byteOffset ${byteOffset}, length ${length}`);
              // Bytes outside the view are untouched.
              assertBytes(backing.subarray(0, byteOffset), before.subarray(0, byteOffset));
              assertBytes(
                backing.subarray(byteOffset + length),
                before.subarray(byteOffset + length),
              );
            }
          }
        }
      });

      test('masks only data[start..end), with keyOffset the key position of data[start]', () => {
        for (const [start, end] of [
          [0, 0],
          [5, 5],
          [1, 40],
          [3, 97],
          [7, 200],
        ] as const) {
          for (let keyOffset = 0; keyOffset < 4; keyOffset++) {
            const data = patternBytes(210);
            const expected = data.slice();
            expected.set(referenceMask(data.subarray(start, end), KEY, keyOffset), start);
            maskInPlace(data, start, end, KEY, keyOffset);
            assertBytes(data, expected, `[${start}, ${end}) keyOffset ${keyOffset}`);
          }
        }
      });

      test('keyOffset is taken mod 4', () => {
        const a = patternBytes(50);
        const b = patternBytes(50);
        maskInPlace(a, 0, 50, KEY, 1);
        maskInPlace(b, 0, 50, KEY, 9);
        assertBytes(a, b);
      });

      test('is its own inverse (random data, lengths, offsets and keys)', () => {
        const next = prng(0x5eed);
        for (let round = 0; round < 500; round++) {
          const length = next() % 3000;
          const offset = next() % 8;
          const backing = randomBytes(next, length + offset);
          const view = backing.subarray(offset);
          const original = view.slice();
          const key = randomBytes(next, 4);
          const keyOffset = next() % 4;
          maskInPlace(view, 0, length, key, keyOffset);
          if (length >= 4 && key.some((b) => b !== 0)) {
            assert.ok(!view.every((b, i) => b === original[i]), 'masking changed nothing');
          }
          maskInPlace(view, 0, length, key, keyOffset);
          assertBytes(view, original);
        }
      });

      test('a payload unmasked chunk by chunk (continuing the key offset) equals one unmasked at once', () => {
        const next = prng(7);
        const whole = randomBytes(next, 5000);
        const expected = referenceMask(whole, KEY, 0);
        const pieces = whole.slice();
        let at = 0;
        while (at < pieces.length) {
          const end = Math.min(pieces.length, at + 1 + (next() % 300));
          maskInPlace(pieces, at, end, KEY, at);
          at = end;
        }
        assertBytes(pieces, expected);
      });

      test('a large buffer agrees with the reference', () => {
        const data = randomBytes(prng(99), 1 << 20);
        const expected = referenceMask(data, KEY, 2);
        maskInPlace(data, 0, data.length, KEY, 2);
        assertBytes(data, expected);
      });

      test('the all-zero key changes nothing', () => {
        const data = patternBytes(100);
        maskInPlace(data, 0, 100, new Uint8Array(4), 0);
        assertBytes(data, patternBytes(100));
      });
    });

    describe(`copyUnmasked (${path})`, () => {
      test('writes the unmasked bytes at dstStart and leaves its source untouched', () => {
        for (const length of [
          0,
          1,
          3,
          31,
          32,
          33,
          64,
          100,
          127,
          128,
          129,
          1000,
          65536 + 7,
          200_000,
        ]) {
          for (let keyOffset = 0; keyOffset < 4; keyOffset++) {
            const src = patternBytes(length + 10);
            const srcBefore = src.slice();
            const dst = new Uint8Array(length + 20).fill(0xee);
            copyUnmasked(dst, 7, src, 5, 5 + length, KEY, keyOffset);
            assertBytes(src, srcBefore, 'source modified');
            assertBytes(
              dst.subarray(7, 7 + length),
              referenceMask(srcBefore.subarray(5, 5 + length), KEY, keyOffset),
            );
            assert.ok(
              dst.subarray(0, 7).every((b) => b === 0xee),
              'wrote before dstStart',
            );
            assert.ok(
              dst.subarray(7 + length).every((b) => b === 0xee),
              'wrote past the end',
            );
          }
        }
      });

      test('works into an unaligned destination view', () => {
        const src = patternBytes(200);
        const backing = new Uint8Array(260);
        const dst = backing.subarray(3);
        copyUnmasked(dst, 1, src, 0, 200, KEY, 0);
        assertBytes(dst.subarray(1, 201), referenceMask(src, KEY, 0));
      });
    });

    describe(`copyMasked (${path})`, () => {
      test('writes the masked bytes at dstStart, leaving the source and the bytes around untouched', () => {
        const lengths = [0, 1, 5, 64, 127, 128, 129, 255, 1000, 4096, 65535, 65536, 65537, 300_001];
        for (const length of lengths) {
          for (const [srcOffset, dstStart] of [
            [0, 16],
            [1, 3],
            [3, 0],
          ] as const) {
            const src = patternBytes(length + srcOffset).subarray(srcOffset);
            const before = src.slice();
            const dst = new Uint8Array(length + dstStart + 8).fill(0xee);
            copyMasked(dst, dstStart, src, KEY);
            assertBytes(src, before, 'source modified');
            assertBytes(dst.subarray(dstStart, dstStart + length), referenceMask(before, KEY, 0));
            assert.ok(
              dst.subarray(0, dstStart).every((b) => b === 0xee),
              'wrote before dstStart',
            );
            assert.ok(
              dst.subarray(dstStart + length).every((b) => b === 0xee),
              'wrote past the end',
            );
          }
        }
      });
    });
  });
}

describe('MaskKeyPool', () => {
  test('gives 4-byte keys that differ from each other', () => {
    const pool = new MaskKeyPool();
    const seen = new Set<string>();
    // More than one refill (2048 keys per refill).
    for (let i = 0; i < 5000; i++) {
      const key = pool.next();
      assert.equal(key.length, 4);
      seen.add(Array.from(key).join(','));
    }
    // 5000 random 32-bit keys collide with probability about 0.3%; allow a couple.
    assert.ok(seen.size >= 4998, `only ${seen.size} distinct keys out of 5000`);
  });

  test('two pools give different keys', () => {
    const a = new MaskKeyPool().next();
    const b = new MaskKeyPool().next();
    // Equal by chance with probability 2^-32.
    assert.notDeepEqual(Array.from(a), Array.from(b));
  });

  test('keys are not constant: every byte position takes many values', () => {
    const pool = new MaskKeyPool();
    const values = [new Set<number>(), new Set<number>(), new Set<number>(), new Set<number>()];
    for (let i = 0; i < 1000; i++) {
      const key = pool.next();
      for (let j = 0; j < 4; j++) values[j]!.add(key[j]!);
    }
    for (const v of values) assert.ok(v.size > 200, `a key byte took only ${v.size} values`);
  });
});
