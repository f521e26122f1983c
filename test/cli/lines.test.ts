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
