import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { sha1 } from '../../src/core/sha1.js';
import { prng, randomBytes, utf8 } from './helpers.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const nodeSha1 = (bytes: Uint8Array): string => createHash('sha1').update(bytes).digest('hex');

describe('sha1', () => {
  test('FIPS 180 test vectors', () => {
    assert.equal(hex(sha1(new Uint8Array(0))), 'da39a3ee5e6b4b0d3255bfef95601890afd80709');
    assert.equal(hex(sha1(utf8('abc'))), 'a9993e364706816aba3e25717850c26c9cd0d89d');
    assert.equal(
      hex(sha1(utf8('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))),
      '84983e441c3bd26ebaae4aa1f95129e5e54670f1',
    );
  });

  test('agrees with node:crypto on every length from 0 to 200 (all padding cases)', () => {
    const next = prng(1);
    for (let length = 0; length <= 200; length++) {
      const data = randomBytes(next, length);
      assert.equal(hex(sha1(data)), nodeSha1(data), `length ${length}`);
    }
  });

  test('agrees with node:crypto on bytes with the high bit set and on all-0xff input', () => {
    for (const length of [1, 55, 56, 63, 64, 65, 119, 120]) {
      const data = new Uint8Array(length).fill(0xff);
      assert.equal(hex(sha1(data)), nodeSha1(data), `length ${length}`);
    }
  });

  test('agrees with node:crypto on large inputs', () => {
    const next = prng(2);
    for (const length of [4096, 65_537, 1_000_003, 1 << 22]) {
      const data = randomBytes(next, length);
      assert.equal(hex(sha1(data)), nodeSha1(data), `length ${length}`);
    }
    const million = utf8('a'.repeat(1_000_000));
    assert.equal(hex(sha1(million)), '34aa973cd4c4daa4f61eeb2bdbad27316534016f');
  });

  test('hashes only the view it is given (non-zero byteOffset)', () => {
    const backing = randomBytes(prng(3), 300);
    const view = backing.subarray(7, 107);
    assert.equal(hex(sha1(view)), nodeSha1(Uint8Array.from(view)));
  });

  test('returns 20 bytes and leaves its input unchanged', () => {
    const data = randomBytes(prng(4), 77);
    const copy = data.slice();
    const digest = sha1(data);
    assert.equal(digest.length, 20);
    assert.deepEqual(data, copy);
  });
});
