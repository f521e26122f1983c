import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeUtf8, decodeValidUtf8, isValidUtf8, Utf8Validator } from '../../src/core/utf8.js';
import { cutAt, prng, randomBytes, utf8 } from './helpers.js';

/**
 * What `new TextDecoder('utf-8', {fatal: true})` says about `bytes` when fed
 * one byte at a time: the index of the byte at which it throws (null if
 * none), and whether the whole input is valid.
 */
function reference(bytes: Uint8Array): { failAt: number | null; valid: boolean } {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (let i = 0; i < bytes.length; i++) {
    try {
      decoder.decode(bytes.subarray(i, i + 1), { stream: true });
    } catch {
      return { failAt: i, valid: false };
    }
  }
  try {
    decoder.decode();
    return { failAt: null, valid: true };
  } catch {
    return { failAt: null, valid: false };
  }
}

/** Whether a one-shot fatal TextDecoder accepts `bytes`. */
function decoderAccepts(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * Feeds `chunks` to a fresh validator; returns the index of the chunk on which
 * `update` returned false (null if none) and whether it ended `complete`.
 */
function runValidator(chunks: Uint8Array[]): { failedChunk: number | null; complete: boolean } {
  const v = new Utf8Validator();
  for (let i = 0; i < chunks.length; i++) {
    if (!v.update(chunks[i]!)) return { failedChunk: i, complete: v.complete };
  }
  return { failedChunk: null, complete: v.complete };
}

/** Every ascending subset of cut points 1..n-1 (all 2^(n-1) ways to chunk `n` bytes). */
function* everyChunking(bytes: Uint8Array): Generator<Uint8Array[]> {
  const n = bytes.length;
  const inner = Math.max(0, n - 1);
  for (let mask = 0; mask < 1 << inner; mask++) {
    const points: number[] = [];
    for (let b = 0; b < inner; b++) if (mask & (1 << b)) points.push(b + 1);
    yield cutAt(bytes, points);
  }
}

/** Every cut into two chunks, every cut into three (for short inputs), and 1-byte chunks. */
function* manyChunkings(bytes: Uint8Array): Generator<Uint8Array[]> {
  const n = bytes.length;
  for (let i = 0; i <= n; i++) yield cutAt(bytes, [i]);
  if (n <= 24) {
    for (let i = 1; i < n; i++) for (let j = i + 1; j < n; j++) yield cutAt(bytes, [i, j]);
  }
  yield cutAt(
    bytes,
    Array.from({ length: Math.max(0, n - 1) }, (_, i) => i + 1),
  );
}

const hex = (bytes: Uint8Array): string =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');

/**
 * Asserts the validator agrees with the reference for `bytes` fed in each
 * chunking: it fails on the chunk holding the first byte TextDecoder rejects,
 * or, if none, ends complete exactly when the input is valid.
 */
function checkAgainstReference(
  bytes: Uint8Array,
  chunkings: Iterable<Uint8Array[]>,
  ref = reference(bytes),
): void {
  for (const chunks of chunkings) {
    const got = runValidator(chunks);
    let expectedChunk: number | null = null;
    if (ref.failAt !== null) {
      let start = 0;
      for (let i = 0; i < chunks.length; i++) {
        const end = start + chunks[i]!.length;
        if (ref.failAt >= start && ref.failAt < end) {
          expectedChunk = i;
          break;
        }
        start = end;
      }
    }
    if (got.failedChunk !== expectedChunk || (ref.failAt === null && got.complete !== ref.valid)) {
      assert.fail(
        `${hex(bytes)} in chunks ${chunks.map((c) => c.length).join('+')}: validator ` +
          `${got.failedChunk === null ? `passed (complete=${got.complete})` : `failed on chunk ${got.failedChunk}`}, ` +
          `TextDecoder ${ref.failAt === null ? `valid=${ref.valid}` : `throws at byte ${ref.failAt}`}`,
      );
    }
  }
}

describe('Utf8Validator agrees with TextDecoder (fatal)', () => {
  test('every 1-byte input', () => {
    for (let b = 0; b < 256; b++) {
      const bytes = Uint8Array.of(b);
      assert.equal(isValidUtf8(bytes), decoderAccepts(bytes), hex(bytes));
      checkAgainstReference(bytes, [[bytes]]);
    }
  });

  test('every 2-byte input, whole (against a one-shot decode)', () => {
    for (let b0 = 0; b0 < 256; b0++) {
      for (let b1 = 0; b1 < 256; b1++) {
        const bytes = Uint8Array.of(b0, b1);
        if (isValidUtf8(bytes) !== decoderAccepts(bytes)) assert.fail(hex(bytes));
      }
    }
  });

  test('every 2-byte input, in every chunking (against a streaming decode)', () => {
    for (let b0 = 0; b0 < 256; b0++) {
      // A streaming decoder that throws on the first byte throws there whatever follows.
      const prefix = reference(Uint8Array.of(b0));
      for (let b1 = 0; b1 < 256; b1++) {
        const bytes = Uint8Array.of(b0, b1);
        const ref = prefix.failAt !== null ? prefix : reference(bytes);
        if (isValidUtf8(bytes) !== ref.valid) assert.fail(`isValidUtf8 wrong on ${hex(bytes)}`);
        checkAgainstReference(bytes, everyChunking(bytes), ref);
      }
    }
  });

  for (const lead of [0xe0, 0xed, 0xef, 0xf0, 0xf4]) {
    test(`every 3-byte input starting with ${lead.toString(16).toUpperCase()}, in every chunking`, () => {
      const bytes = new Uint8Array(3);
      bytes[0] = lead;
      for (let b1 = 0; b1 < 256; b1++) {
        // A streaming decoder that throws on the second byte throws there whatever the third
        // byte is, so ask TextDecoder about the third byte only after a valid 2-byte prefix.
        const prefix = reference(Uint8Array.of(lead, b1));
        for (let b2 = 0; b2 < 256; b2++) {
          bytes[1] = b1;
          bytes[2] = b2;
          const ref = prefix.failAt !== null ? prefix : reference(bytes);
          if (isValidUtf8(bytes) !== ref.valid) assert.fail(`isValidUtf8 wrong on ${hex(bytes)}`);
          checkAgainstReference(bytes, everyChunking(bytes), ref);
        }
      }
    });
  }

  test('4-byte inputs starting with F0 and F4: every second byte, edge values for the rest', () => {
    const edges = [0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff];
    for (const lead of [0xf0, 0xf4]) {
      for (let b1 = 0; b1 < 256; b1++) {
        const prefix = reference(Uint8Array.of(lead, b1));
        for (const b2 of edges) {
          for (const b3 of edges) {
            const bytes = Uint8Array.of(lead, b1, b2, b3);
            const ref = prefix.failAt !== null ? prefix : reference(bytes);
            assert.equal(isValidUtf8(bytes), ref.valid, hex(bytes));
            checkAgainstReference(bytes, everyChunking(bytes), ref);
          }
        }
      }
    }
  });

  test('3000 pseudo-random inputs (raw bytes, valid text, mutated text) in many chunkings', () => {
    const next = prng(0xc0ffee);
    const randomCodePoint = (): number => {
      const r = next() % 4;
      if (r === 0) return next() % 0x80;
      if (r === 1) return 0x80 + (next() % (0x800 - 0x80));
      if (r === 2) {
        const c = 0x800 + (next() % (0x10000 - 0x800));
        return c >= 0xd800 && c <= 0xdfff ? 0xfffd : c;
      }
      return 0x10000 + (next() % (0x110000 - 0x10000));
    };
    for (let round = 0; round < 3000; round++) {
      let bytes: Uint8Array;
      const kind = round % 3;
      if (kind === 0) {
        bytes = randomBytes(next, next() % 24);
      } else {
        let s = '';
        const count = next() % 12;
        for (let i = 0; i < count; i++) s += String.fromCodePoint(randomCodePoint());
        bytes = utf8(s);
        if (kind === 2 && bytes.length > 0) {
          const mutation = next() % 4;
          const at = next() % bytes.length;
          const arr = Array.from(bytes);
          if (mutation === 0) arr[at] = next() & 0xff;
          else if (mutation === 1) arr.splice(at, 1);
          else if (mutation === 2) arr.splice(at, 0, 0x80 | (next() & 0x7f));
          else arr.length = at;
          bytes = Uint8Array.from(arr);
        }
      }
      const ref = reference(bytes);
      assert.equal(ref.valid, decoderAccepts(bytes));
      assert.equal(isValidUtf8(bytes), ref.valid, hex(bytes));
      checkAgainstReference(bytes, manyChunkings(bytes), ref);
    }
  });
});

describe('Utf8Validator: named cases', () => {
  const cases: Array<[string, number[], boolean]> = [
    ['empty', [], true],
    ['ASCII', [0x41, 0x7f], true],
    ['U+0080 (smallest 2-byte)', [0xc2, 0x80], true],
    ['U+07FF', [0xdf, 0xbf], true],
    ['U+0800 (smallest 3-byte)', [0xe0, 0xa0, 0x80], true],
    ['U+D7FF (just below the surrogates)', [0xed, 0x9f, 0xbf], true],
    ['U+E000 (just above the surrogates)', [0xee, 0x80, 0x80], true],
    ['U+FEFF (BOM)', [0xef, 0xbb, 0xbf], true],
    ['U+FFFF', [0xef, 0xbf, 0xbf], true],
    ['U+10000 (smallest 4-byte)', [0xf0, 0x90, 0x80, 0x80], true],
    ['U+10FFFF (largest)', [0xf4, 0x8f, 0xbf, 0xbf], true],
    ['overlong NUL C0 80', [0xc0, 0x80], false],
    ['overlong C1 BF', [0xc1, 0xbf], false],
    ['overlong 3-byte E0 80 80', [0xe0, 0x80, 0x80], false],
    ['overlong 3-byte E0 9F BF', [0xe0, 0x9f, 0xbf], false],
    ['overlong 4-byte F0 80 80 80', [0xf0, 0x80, 0x80, 0x80], false],
    ['overlong 4-byte F0 8F BF BF', [0xf0, 0x8f, 0xbf, 0xbf], false],
    ['surrogate U+D800', [0xed, 0xa0, 0x80], false],
    ['surrogate U+DFFF', [0xed, 0xbf, 0xbf], false],
    ['surrogate pair encoded as CESU-8', [0xed, 0xa0, 0xbd, 0xed, 0xb2, 0xa9], false],
    ['U+110000', [0xf4, 0x90, 0x80, 0x80], false],
    ['F5 lead', [0xf5, 0x80, 0x80, 0x80], false],
    ['FF byte', [0xff], false],
    ['stray continuation', [0x41, 0x80], false],
    ['truncated 2-byte', [0xc3], false],
    ['truncated 3-byte', [0xe2, 0x82], false],
    ['truncated 4-byte', [0xf0, 0x9f, 0x98], false],
    ['invalid continuation E2 28 A1', [0xe2, 0x28, 0xa1], false],
    ['ASCII where a continuation is due', [0xc3, 0x41], false],
  ];
  for (const [name, values, valid] of cases) {
    test(`${name}: ${valid ? 'valid' : 'invalid'}, agreeing with TextDecoder`, () => {
      const bytes = Uint8Array.from(values);
      assert.equal(isValidUtf8(bytes), valid);
      assert.equal(decoderAccepts(bytes), valid);
      checkAgainstReference(bytes, everyChunking(bytes));
    });
  }

  test('fails at the second byte of an overlong, a surrogate or a code point above U+10FFFF', () => {
    for (const prefix of [
      [0xe0, 0x80],
      [0xe0, 0x9f],
      [0xed, 0xa0],
      [0xf0, 0x8f],
      [0xf4, 0x90],
    ]) {
      const v = new Utf8Validator();
      assert.equal(v.update(Uint8Array.of(prefix[0]!)), true);
      assert.equal(v.update(Uint8Array.of(prefix[1]!)), false, hex(Uint8Array.from(prefix)));
    }
  });

  test('a truncated sequence is not complete, and becomes complete with its last byte', () => {
    const v = new Utf8Validator();
    assert.equal(v.complete, true);
    assert.equal(v.update(Uint8Array.of(0xf0, 0x9f)), true);
    assert.equal(v.complete, false);
    assert.equal(v.update(Uint8Array.of(0x98)), true);
    assert.equal(v.complete, false);
    assert.equal(v.update(Uint8Array.of(0x80)), true);
    assert.equal(v.complete, true);
  });

  test('a sequence whose lead ended the previous chunk does not leave its tightened bound behind a chunk ending in ASCII', () => {
    // Regression: F0 at a chunk end sets the lower bound to 90; the next chunk completed the
    // sequence and ended in ASCII through the fast path, which kept the stale bound, so the
    // valid EE 87 BD in the third chunk was rejected.
    for (const lead of [
      [0xf0, 0x90, 0x80, 0x80],
      [0xe0, 0xa0, 0x80],
      [0xf4, 0x80, 0x80, 0x80],
      [0xed, 0x80, 0x80],
    ]) {
      for (const next of [
        [0xee, 0x87, 0xbd],
        [0xe1, 0xbf, 0xbf],
        [0xf1, 0x80, 0x80, 0x80],
      ]) {
        const v = new Utf8Validator();
        assert.equal(v.update(Uint8Array.of(lead[0]!)), true);
        assert.equal(v.update(Uint8Array.from([...lead.slice(1), 0x41])), true);
        assert.equal(
          v.update(Uint8Array.from(next)),
          true,
          hex(Uint8Array.from([...lead, 0x41, ...next])),
        );
        assert.equal(v.complete, true);
      }
    }
  });

  test('update(data, start, end) validates only that range', () => {
    const data = Uint8Array.of(0xff, 0xe2, 0x82, 0xac, 0xff);
    const v = new Utf8Validator();
    assert.equal(v.update(data, 1, 4), true);
    assert.equal(v.complete, true);
    const w = new Utf8Validator();
    assert.equal(w.update(data, 1, 3), true);
    assert.equal(w.complete, false);
    assert.equal(w.update(data, 3, 4), true);
    assert.equal(w.complete, true);
    assert.equal(new Utf8Validator().update(data, 0, 1), false);
  });

  test('reset() forgets a pending sequence', () => {
    const v = new Utf8Validator();
    v.update(Uint8Array.of(0xe0));
    v.reset();
    assert.equal(v.complete, true);
    // 0x80 would be invalid after E0 (overlong) and as a lead; after reset, ASCII is valid.
    assert.equal(v.update(Uint8Array.of(0x41)), true);
    const w = new Utf8Validator();
    w.update(Uint8Array.of(0xed));
    w.reset();
    w.update(Uint8Array.of(0xe1));
    // After ED the bound would be 9F; after reset and E1, A0 is a valid continuation.
    assert.equal(w.update(Uint8Array.of(0xa0, 0x80)), true);
    assert.equal(w.complete, true);
  });

  test('long ASCII runs and long mixed text validate (fast path)', () => {
    const text = 'a'.repeat(10_000) + 'é€\u{1F600}' + 'b'.repeat(10_000);
    assert.equal(isValidUtf8(utf8(text)), true);
    const bad = utf8(text);
    bad[15_000] = 0x80;
    assert.equal(isValidUtf8(bad), false);
  });
});

describe('Utf8Validator: runs of ASCII scanned a word at a time', () => {
  // The same bytes at every alignment of the underlying buffer, with one
  // invalid or multi-byte sequence at every position of a 160-byte run: before,
  // inside and after the aligned words, and within the last bytes.
  const sequences: number[][] = [
    [0x80],
    [0xff],
    [0xc0, 0xaf],
    [0xed, 0xa0, 0x80],
    [0xf4, 0x90, 0x80, 0x80],
    [0xc3, 0xa9],
    [0xe2, 0x82, 0xac],
    [0xf0, 0x9f, 0x98, 0x80],
  ];
  test('every position and every alignment, whole and in two chunks', () => {
    for (const seq of sequences) {
      for (let at = 0; at < 160; at++) {
        const bytes = new Uint8Array(160).fill(0x61);
        bytes.set(seq.slice(0, 160 - at), at);
        const ref = reference(bytes);
        for (let shift = 0; shift < 4; shift++) {
          const backing = new Uint8Array(160 + shift);
          backing.set(bytes, shift);
          const view = backing.subarray(shift);
          assert.equal(isValidUtf8(view), ref.valid, `${hex(Uint8Array.from(seq))} at ${at}`);
          checkAgainstReference(
            view,
            [cutAt(view, [at]), cutAt(view, [80]), cutAt(view, [at + 1])],
            ref,
          );
        }
      }
    }
  });

  test('validates a range of a larger buffer without reading outside it', () => {
    const data = new Uint8Array(300).fill(0x62);
    data[10] = 0xff;
    data[290] = 0xff;
    assert.equal(new Utf8Validator().update(data, 11, 290), true);
    assert.equal(new Utf8Validator().update(data, 11, 291), false);
    assert.equal(new Utf8Validator().update(data, 10, 200), false);
  });
});

describe('Utf8Validator: blocks of byte checks between word scans', () => {
  // The validator checks bytes one by one to the end of a 512-byte block that
  // starts where a word scan stopped, then scans words again while 128 or more
  // bytes are left. A two-byte character at `early` stops the first word scan
  // there, so the block ends fall at early + 512 and beyond; one invalid or
  // multi-byte sequence then goes at every position of a 1,300-byte input
  // (across both block ends, the last 128 bytes and every offset of the last
  // word), at every alignment, whole and cut before, inside and after it and
  // at the block end.
  const sequences: number[][] = [
    [0x80],
    [0xff],
    [0xc0, 0xaf],
    [0xe0, 0x80, 0x80],
    [0xed, 0xa0, 0x80],
    [0xf4, 0x90, 0x80, 0x80],
    [0xc3, 0xa9],
    [0xe2, 0x82, 0xac],
    [0xf0, 0x9f, 0x98, 0x80],
  ];
  const n = 1300;
  test('a sequence at every position, after an early non-ASCII character or none', () => {
    for (const early of [-1, 0, 3, 130]) {
      for (const seq of sequences) {
        for (let at = early + 2; at < n; at++) {
          const bytes = new Uint8Array(n).fill(0x61);
          if (early >= 0) bytes.set([0xc3, 0xa9], early);
          bytes.set(seq.slice(0, n - at), at);
          // Everything before `at` is whole and valid and ASCII follows the
          // sequence: the bytes from `at` on decide.
          const window = reference(bytes.subarray(at, Math.min(n, at + 5)));
          const ref = {
            failAt: window.failAt === null ? null : at + window.failAt,
            valid: window.valid,
          };
          const blockEnd = Math.max(early + 2, 0) + 512;
          for (let shift = 0; shift < 4; shift++) {
            const backing = new Uint8Array(n + shift);
            backing.set(bytes, shift);
            const view = backing.subarray(shift);
            checkAgainstReference(
              view,
              [[view], cutAt(view, [at]), cutAt(view, [at + 1]), cutAt(view, [blockEnd])],
              ref,
            );
          }
        }
      }
    }
  });

  test('long ASCII after mixed text is found invalid at any byte of a later block', () => {
    const mixed = utf8('é€a'.repeat(100));
    for (let k = 0; k < 64; k++) {
      const bytes = new Uint8Array(mixed.length + 2048).fill(0x7a);
      bytes.set(mixed);
      const at = mixed.length + 512 + 256 + k * 13;
      bytes[at] = 0x80 + k;
      assert.equal(isValidUtf8(bytes), false, `0x${(0x80 + k).toString(16)} at ${at}`);
      bytes[at] = 0x7a;
      assert.equal(isValidUtf8(bytes), true);
    }
  });
});

describe('decodeUtf8 and decodeValidUtf8', () => {
  test('agree with a fatal TextDecoder on random and near-valid input', () => {
    const next = prng(14);
    const below = (n: number): number => next() % n;
    const pieces = ['a', 'é', '€', '\u{1F600}', '\uFEFF'].map(utf8);
    for (let round = 0; round < 2000; round++) {
      let bytes: Uint8Array;
      if (round % 2 === 1) {
        bytes = randomBytes(next, below(12));
      } else {
        const parts = Array.from({ length: below(40) }, () => pieces[below(pieces.length)]!);
        bytes = Uint8Array.from(parts.flatMap((p) => Array.from(p)));
        // Every other one gets a random byte somewhere.
        if (bytes.length > 0 && round % 4 === 2) bytes[below(bytes.length)] = next() & 0xff;
      }
      let expected: string | null;
      try {
        expected = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
      } catch {
        expected = null;
      }
      assert.equal(decodeUtf8(bytes), expected, hex(bytes));
      if (expected !== null) assert.equal(decodeValidUtf8(bytes), expected);
    }
  });

  test('keep a leading BOM, decode empty input to the empty string', () => {
    assert.equal(decodeUtf8(utf8('\uFEFFx')), '\uFEFFx');
    assert.equal(decodeValidUtf8(utf8('\uFEFF')), '\uFEFF');
    assert.equal(decodeUtf8(new Uint8Array(0)), '');
    assert.equal(decodeValidUtf8(new Uint8Array(0)), '');
    assert.equal(decodeUtf8(Uint8Array.of(0xef, 0xbb)), null);
  });
});
