/**
 * Micro benchmark of the ways to turn a text message's bytes into a string,
 * on whichever runtime runs it (Node, Deno, Bun run the same built file):
 *
 *   node .tmp/bench-build/utf8.js
 *   .tmp/runtimes/bin/node24 .tmp/bench-build/utf8.js
 *   .tmp/runtimes/bin/bun .tmp/bench-build/utf8.js
 *   .tmp/runtimes/bin/deno run -A .tmp/bench-build/utf8.js
 *
 * Rows: message size (64 B, 4, 16 and 64 KiB) and text: ASCII (JSON-like),
 * mixed (the same JSON with e and o as é and €: about one byte in five in a
 * multi-byte character, ASCII runs mostly under 32 bytes) or mostly
 * non-ASCII (its letters as CJK characters: three bytes in four). Columns,
 * MB of message bytes per second of the process's CPU time (so that other
 * work on the machine weighs less), median of seven rounds (each round runs
 * the columns in a rotated order): the core's validator then a lenient
 * decode (the path where the fatal decoder is slow), a fatal decode alone,
 * decodeUtf8 (what the core uses for a message that is whole), the validator
 * alone (what a message arriving in several reads pays before its last one),
 * and a lenient decode alone (the floor: no validation at all). Build with
 * `npm run build && npx tsc -p bench/tsconfig.json`.
 */
import { decodeUtf8, fatalDecodeIsFast, Utf8Validator } from 'wsstream/core';
import process from 'node:process';
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

const TEXTS = ['ASCII', 'mixed', 'mostly non-ASCII'] as const;
const CJK =
  '的一是不了人在有我他这中大来上国个到说们为子和地出道也时年得就那要下以生会自着去之过家十用发天如然作方成者多日都可于还';

/** 16 distinct messages of (at most, cut on a character boundary) `size` bytes. */
function messages(size: number, kind: (typeof TEXTS)[number]): Uint8Array[] {
  const encoder = new TextEncoder();
  return Array.from({ length: 16 }, (_, i) => {
    // Twice the size: the replacements below make the text longer.
    let text = jsonMessage(i, size * 2);
    if (kind === 'mixed') text = text.replace(/e/g, 'é').replace(/o/g, '€');
    if (kind === 'mostly non-ASCII') {
      text = text.replace(/[a-z]/g, (c) => CJK[(c.charCodeAt(0) * 7 + i) % CJK.length]!);
    }
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
const names = Object.keys(ways);
const ROUNDS = 7;
console.log(
  `${runtime}, fatalDecodeIsFast=${fatalDecodeIsFast}; MB per CPU second, median of ${ROUNDS}`,
);
console.log(`| message | ${names.join(' | ')} |`);
console.log(`| --- |${' ---: |'.repeat(names.length)}`);
for (const kind of TEXTS) {
  for (const size of [64, 4096, 16 * 1024, 64 * 1024]) {
    const pool = messages(size, kind);
    const bytes = pool[0]!.length;
    const iterations = Math.max(64, Math.floor((8 * 1024 * 1024) / bytes));
    const rounds: number[][] = names.map(() => []);
    let sink = 0;
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < names.length; k++) {
        const w = (k + r) % names.length;
        const way = ways[names[w]!]!;
        const t0 = process.cpuUsage();
        for (let i = 0; i < iterations; i++) sink += way(pool[i & 15]!);
        const used = process.cpuUsage(t0);
        rounds[w]!.push((used.user + used.system) / 1000);
      }
    }
    if (sink < 0) throw new Error('invalid test text');
    const cells = rounds.map((times) => {
      times.sort((a, b) => a - b);
      return ((iterations * bytes) / times[ROUNDS >> 1]! / 1e3).toFixed(0);
    });
    const size_ = size < 1024 ? `${size} B` : `${size / 1024} KiB`;
    console.log(`| ${size_} ${kind} | ${cells.join(' | ')} |`);
  }
}
