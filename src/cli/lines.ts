/**
 * Line mode: bytes split into lines (one text message each), and messages
 * formatted as lines.
 */
import { StringDecoder } from 'node:string_decoder';
import { Transform, type TransformCallback } from 'node:stream';
import { escapeBytes, escapeText } from './escape.js';

/**
 * Splits a byte stream into lines (without their `\n` or `\r\n`), decoded as
 * UTF-8 (invalid bytes become U+FFFD), one string chunk per line; a last line
 * without a newline is kept. A line longer than `maxLineLength` UTF-16 code
 * units fails the stream: it bounds the memory a peer or a file without
 * newlines can make us hold.
 */
export class LineSplitter extends Transform {
  readonly #decoder = new StringDecoder('utf8');
  readonly #maxLineLength: number;
  #partial = '';

  constructor(maxLineLength: number) {
    super({ readableObjectMode: true, readableHighWaterMark: 16 });
    this.#maxLineLength = maxLineLength;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#split(this.#partial + this.#decoder.write(chunk), callback);
  }

  override _flush(callback: TransformCallback): void {
    const rest = this.#partial + this.#decoder.end();
    this.#partial = '';
    if (rest !== '') this.push(stripCr(rest));
    callback();
  }

  #split(text: string, callback: TransformCallback): void {
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      this.push(stripCr(text.slice(start, nl)));
      start = nl + 1;
    }
    this.#partial = text.slice(start);
    if (this.#partial.length > this.#maxLineLength) {
      callback(new Error(`a line of input is longer than ${this.#maxLineLength} characters`));
      return;
    }
    callback();
  }
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/**
 * Messages to lines: each message followed by `\n`. With `escape` (a
 * terminal), control characters are escaped so one message is one line.
 */
export class LineFormatter extends Transform {
  readonly #escape: boolean;

  constructor(escape: boolean) {
    super({ writableObjectMode: true, writableHighWaterMark: 1 });
    this.#escape = escape;
  }

  override _transform(
    message: string | Buffer,
    _encoding: BufferEncoding,
    callback: TransformCallback,
  ): void {
    callback(null, formatLine(message, this.#escape));
  }
}

/** One message as a line of output. */
export function formatLine(message: string | Buffer, escape: boolean): Buffer {
  if (escape) {
    return Buffer.from(
      `${typeof message === 'string' ? escapeText(message) : escapeBytes(message)}\n`,
    );
  }
  return typeof message === 'string'
    ? Buffer.from(`${message}\n`)
    : Buffer.concat([message, NEWLINE]);
}

const NEWLINE = Buffer.from('\n');
