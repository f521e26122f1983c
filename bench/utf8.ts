/**
 * Micro benchmark of the ways to turn a text message's bytes into a string,
 * on whichever runtime runs it (Node, Deno, Bun run the same built file):
 *
 *   node .tmp/bench-build/utf8.js
 *   .tmp/runtimes/bin/node24 .tmp/bench-build/utf8.js
 *   .tmp/runtimes/bin/bun .tmp/bench-build/utf8.js
 *   .tmp/runtimes/bin/deno run -A .tmp/bench-build/utf8.js
 *
 * Rows: message size, ASCII (JSON-like) or mixed text (about one byte in
 * four in a multi-byte character). Columns, MB/s of message bytes, median of
 * five rounds: the core's validator then a lenient decode (the path where the
 * fatal decoder is slow), a fatal decode alone, decodeUtf8 (what the core
 * uses for a message that is whole), the validator alone (what a message
 * arriving in several reads pays before its last one), and a lenient decode
 * alone (the floor: no validation at all). Build with
 * `npm run build && npx tsc -p bench/tsconfig.json`.
 */
import { decodeUtf8, fatalDecodeIsFast, Utf8Validator } from 'wsstream/core';
import { jsonMessage } from './json.js';

const lenient = new TextDecoder('utf-8', { ignoreBOM: true });
const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const validator = new Utf8Validator();

function validate(b: Uint8Array): boolean {
  validator.reset();
  return validator.update(b, 0, b.length) && validator.complete;
}

const ways: Record<string, (b: Uint8Array) => number> = {
  'validator+decode': (b) => (validate(b) ? lenient.decode(b).length : -1),
  'fatal decode': (b) => fatal.decode(b).length,
  decodeUtf8: (b) => decodeUtf8(b)?.length ?? -1,
  'validator alone': (b) => (validate(b) ? b.length : -1),
  'lenient decode (floor)': (b) => lenient.decode(b).length,
};

/** 16 distinct messages of `size` bytes. */
function messages(size: number, mixed: boolean): Uint8Array[] {
  const encoder = new TextEncoder();
  return Array.from({ length: 16 }, (_, i) => {
    let text = jsonMessage(i, size);
    if (mixed) text = text.replace(/e/g, 'é').replace(/o/g, '€');
    const bytes = encoder.encode(text).subarray(0, size);
    // Cut on a character boundary.
    let end = bytes.length;
    while (end > 0 && (bytes[end - 1]! & 0xc0) === 0x80) end--;
    if (end > 0 && bytes[end - 1]! >= 0xc0) end--;
    return bytes.slice(0, end);
  });
}

const runtime =
  typeof (globalThis as { Deno?: { version: { deno: string } } }).Deno !== 'undefined'
    ? `Deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
    : typeof (globalThis as { Bun?: { version: string } }).Bun !== 'undefined'
      ? `Bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`
      : `Node ${process.version}`;
console.log(`${runtime}, fatalDecodeIsFast=${fatalDecodeIsFast}; MB/s, median of 5`);
console.log(`| message | ${Object.keys(ways).join(' | ')} |`);
console.log(`| --- |${' ---: |'.repeat(Object.keys(ways).length)}`);
for (const mixed of [false, true]) {
  for (const size of [64, 1024, 16 * 1024, 256 * 1024]) {
    const pool = messages(size, mixed);
    const bytes = pool[0]!.length;
    const iterations = Math.max(64, Math.floor((16 * 1024 * 1024) / bytes));
    const cells: string[] = [];
    for (const way of Object.values(ways)) {
      let sink = 0;
      const rounds: number[] = [];
      for (let r = 0; r < 5; r++) {
        const t0 = performance.now();
        for (let i = 0; i < iterations; i++) sink += way(pool[i & 15]!);
        rounds.push(performance.now() - t0);
      }
      if (sink < 0) throw new Error('invalid test text');
      rounds.sort((a, b) => a - b);
      cells.push(((iterations * bytes) / rounds[2]! / 1e3).toFixed(0));
    }
    console.log(`| ${size} B ${mixed ? 'mixed' : 'ASCII'} | ${cells.join(' | ')} |`);
  }
}
