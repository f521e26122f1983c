/**
 * Line mode: bytes split into lines (one text message each), and messages
 * formatted as lines. The separator is `\n` (`--line`) or NUL (`-0/--nul`,
 * for messages that contain newlines).
 */
import { StringDecoder } from 'node:string_decoder';
import { Transform, type TransformCallback } from 'node:stream';
import { escapeBytes, escapeText } from './escape.js';

/** What ends a line: a newline (`--line`) or a NUL byte (`-0/--nul`). */
export type Separator = '\n' | '\0';

/**
 * Splits a byte stream into lines (without their `\n` or `\r\n`; with the
 * NUL separator, without their NUL, and a CR is kept), decoded as
 * UTF-8 (invalid bytes become U+FFFD), one string chunk per line; a last line
 * without a newline is kept. A line longer than `maxLineLength` UTF-16 code
 * units fails the stream: it bounds the memory a peer or a file without
 * newlines can make us hold.
 */
export class LineSplitter extends Transform {
  readonly #decoder = new StringDecoder('utf8');
  readonly #maxLineLength: number;
  readonly #separator: Separator;
  /**
   * The line so far, in the pieces it came in: joined once its separator
   * arrives, so a long line costs linear time, not a copy per chunk.
   */
  #partial: string[] = [];
  #partialLength = 0;

  constructor(maxLineLength: number, separator: Separator = '\n') {
    super({ readableObjectMode: true, readableHighWaterMark: 16 });
    this.#maxLineLength = maxLineLength;
    this.#separator = separator;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#split(this.#decoder.write(chunk), callback);
  }

  override _flush(callback: TransformCallback): void {
    const rest = this.#takePartial(this.#decoder.end());
    if (rest !== '') this.push(this.#strip(rest));
    callback();
  }

  /** Splits newly decoded `text`: only it is searched for separators. */
  #split(text: string, callback: TransformCallback): void {
    let start = 0;
    for (;;) {
      const nl = text.indexOf(this.#separator, start);
      if (nl < 0) break;
      const line = this.#strip(this.#takePartial(text.slice(start, nl)));
      // A whole line in one chunk is checked as a partial one is.
      if (line.length > this.#maxLineLength) {
        callback(this.#tooLong());
        return;
      }
      this.push(line);
      start = nl + 1;
    }
    if (start < text.length) {
      this.#partial.push(start === 0 ? text : text.slice(start));
      this.#partialLength += text.length - start;
      if (this.#partialLength > this.#maxLineLength) {
        callback(this.#tooLong());
        return;
      }
    }
    callback();
  }

  /** The line so far followed by `end`; the line so far is emptied. */
  #takePartial(end: string): string {
    if (this.#partial.length === 0) return end;
    this.#partial.push(end);
    const line = this.#partial.join('');
    this.#partial = [];
    this.#partialLength = 0;
    return line;
  }

  #tooLong(): Error {
    return new Error(`a line is longer than ${this.#maxLineLength} characters`);
  }

  #strip(line: string): string {
    return this.#separator === '\n' ? stripCr(line) : line;
  }
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/**
 * Messages to lines: each message followed by `separator` (default `\n`).
 * With `escape` (a terminal), control characters are escaped so one message
 * is one line.
 */
export class LineFormatter extends Transform {
  readonly #escape: boolean;
  readonly #separator: Separator;

  constructor(escape: boolean, separator: Separator = '\n') {
    super({ writableObjectMode: true, writableHighWaterMark: 1 });
    this.#escape = escape;
    this.#separator = separator;
  }

  override _transform(
    message: string | Buffer,
    _encoding: BufferEncoding,
    callback: TransformCallback,
  ): void {
    callback(null, formatLine(message, this.#escape, this.#separator));
  }
}

/** One message as a line of output, followed by `separator` (default `\n`). */
export function formatLine(
  message: string | Buffer,
  escape: boolean,
  separator: Separator = '\n',
): Buffer {
  if (escape) {
    return Buffer.from(
      `${typeof message === 'string' ? escapeText(message) : escapeBytes(message)}${separator}`,
    );
  }
  return typeof message === 'string'
    ? Buffer.from(`${message}${separator}`)
    : Buffer.concat([message, separator === '\n' ? NEWLINE : NUL]);
}

const NEWLINE = Buffer.from('\n');
const NUL = Buffer.from([0]);
