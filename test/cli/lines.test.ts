/**
 * LineSplitter: a line longer than its limit fails the stream, whether it
 * came whole in one chunk or over several.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { it } from 'node:test';
import { LineSplitter } from '../../src/cli/lines.js';

async function split(chunks: string[], max: number): Promise<string[]> {
  const out: string[] = [];
  const splitter = Readable.from(chunks.map((c) => Buffer.from(c))).pipe(new LineSplitter(max));
  for await (const line of splitter) out.push(line as string);
  return out;
}

it('lines of the limit pass, whole or split; CRLF is not counted', async () => {
  assert.deepEqual(await split(['aaaa\nbb', 'bb\r\n', 'cccc'], 4), ['aaaa', 'bbbb', 'cccc']);
});

it('a line one past the limit fails the stream: whole in one chunk, over two, or last', async () => {
  for (const chunks of [['ok\naaaaa\nok\n'], ['aaa', 'aa\n'], ['ok\naaaaa']]) {
    await assert.rejects(split(chunks, 4), /a line is longer than 4 characters/, chunks.join('|'));
  }
});

it('a line over many chunks comes out whole: its CR and its separator in other chunks, a character split between two', async () => {
  // 25 × 4096 − 1: the two bytes of the é fall on either side of a chunk boundary.
  const long = 'x'.repeat(25 * 4096 - 1);
  const text = `${long}é${long}\r\nnext\n`;
  const bytes = Buffer.from(text);
  // 4 KiB chunks, then the last bytes one at a time (the CR, the LF, "next").
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length - 8; at += 4096)
    chunks.push(bytes.subarray(at, Math.min(at + 4096, bytes.length - 8)));
  for (let at = bytes.length - 8; at < bytes.length; at++) chunks.push(bytes.subarray(at, at + 1));
  const out: string[] = [];
  for await (const line of Readable.from(chunks).pipe(new LineSplitter(300_000)))
    out.push(line as string);
  assert.deepEqual(out, [`${long}é${long}`, 'next']);
  // The limit counts the whole line, over every chunk.
  await assert.rejects(
    (async () => {
      for await (const line of Readable.from(chunks).pipe(new LineSplitter(200_000))) void line;
    })(),
    /a line is longer than 200000 characters/,
  );
});
