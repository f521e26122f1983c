/**
 * Node-stream interop: a WebSocket connection as a Node `Duplex`, with the
 * classic contract of Node's writable streams — `write()` returns false once
 * the buffer is past its high-water mark, `'drain'` fires when it has emptied,
 * `end()` sends the Close after every queued byte, `destroy()` drops what is
 * queued and closes at once — and with text and binary messages kept apart.
 *
 * Backpressure runs end to end: a write's callback runs only when the frame
 * was handed to the operating system (the WebSocketStream writable's
 * promise), and the next message is read from the WebSocketStream readable
 * only when the Duplex's readable buffer is below its high-water mark, so a
 * consumer that stops reading pauses the socket and the peer's writes block.
 */
import { readDictionary } from '../streams/dictionary.js';
import { Duplex } from 'node:stream';
import { isCleanCloseError } from '../streams/sender.js';
import type { WebSocketMessage } from '../streams/session.js';
import { closeInfoOfReason, type WebSocketCloseInfo } from '../streams/websocket-error.js';
import type { WebSocketOpenInfo } from '../streams/websocket-stream.js';

/**
 * Something with the `opened`/`closed`/`close()` shape: a client
 * `WebSocketStream` or a server `WebSocketConnection`.
 */
export interface WebSocketLike {
  readonly opened: Promise<WebSocketOpenInfo>;
  readonly closed: Promise<Required<WebSocketCloseInfo>>;
  close(closeInfo?: WebSocketCloseInfo): void;
}

/** What {@link toDuplex} adapts: an opened connection's streams, or the connection itself. */
export type DuplexSource =
  Pick<WebSocketOpenInfo, 'readable' | 'writable'> | WebSocketOpenInfo | WebSocketLike;

/** Options of {@link toDuplex}. */
export interface WebSocketDuplexOptions {
  /**
   * What a string written to the Duplex becomes: `'text'` (default) sends it
   * as a text message: the string as written, or with a write's `hex`,
   * `base64` or `base64url` encoding the UTF-8 text of the bytes it stands
   * for; `'binary'` sends its bytes (in the write's encoding, UTF-8 by
   * default) as a binary message. Buffers and Uint8Arrays are always binary
   * messages.
   */
  stringsAs?: 'text' | 'binary';
  /**
   * How a received text message is pushed to the readable side: `'string'`
   * (default) or `'buffer'` (its UTF-8 bytes). Binary messages are always Buffers.
   */
  textAs?: 'string' | 'buffer';
  /**
   * Bytes the writable side buffers before `write()` returns false (counting
   * the chunk being sent until the operating system took it; a string counts
   * its length in UTF-16 code units, as in Node); default 64 KiB. This is the
   * sender's bound: a writer that honours `false`/`'drain'` never holds more.
   */
  highWaterMark?: number;
  /**
   * Received messages the readable side holds ahead of its consumer; default
   * 1. Counted in messages, because a chunk is always one whole message: the
   * memory held is at most this many messages of up to `maxMessageSize` each,
   * plus the WebSocketStream readable's own queue.
   */
  readableHighWaterMark?: number;
  /**
   * Close code and reason `end()` sends once every queued write was sent;
   * default `{ closeCode: 1000 }`. Only used when the source is a
   * WebSocketStream or WebSocketConnection: with bare open info, `end()` is the
   * standard `writable.close()`, which sends a Close frame with no code.
   */
  closeInfo?: WebSocketCloseInfo;
}

/** Default of {@link WebSocketDuplexOptions.highWaterMark}: 64 KiB. */
export const DEFAULT_DUPLEX_HIGH_WATER_MARK = 64 * 1024;

/** Default of {@link WebSocketDuplexOptions.readableHighWaterMark}: 1 message. */
export const DEFAULT_DUPLEX_READABLE_HIGH_WATER_MARK = 1;

const noop = (): void => {};

/** The encodings in which a string stands for bytes, not for text. */
const BYTE_ENCODINGS: ReadonlySet<string> = new Set(['hex', 'base64', 'base64url']);

function isWebSocketLike(source: DuplexSource): source is WebSocketLike {
  return 'opened' in source && typeof source.close === 'function';
}

/**
 * A WebSocket connection as a Node Duplex. The readable side is in object
 * mode: each chunk is one message, a `string` for text (or a Buffer with
 * `textAs: 'buffer'`) and a `Buffer` for binary. The writable side takes
 * strings, Buffers and Uint8Arrays, one message per `write()`.
 */
export class WebSocketDuplex extends Duplex {
  readonly #source: DuplexSource;
  readonly #stringsAs: 'text' | 'binary';
  readonly #textAs: 'string' | 'buffer';
  #closeInfo: WebSocketCloseInfo;
  /** Waiting in `_construct()` for the connection to open. */
  #opening = false;
  /** Destroyed while the connection was opening: the attempt was given up. */
  #abandoned = false;
  #reader: ReadableStreamDefaultReader<WebSocketMessage> | null = null;
  #writer: WritableStreamDefaultWriter<unknown> | null = null;
  #reading = false;
  #protocol = '';
  #extensions = '';

  /** Use {@link toDuplex}. */
  constructor(source: DuplexSource, options?: WebSocketDuplexOptions | null) {
    options = readDictionary<WebSocketDuplexOptions>(options, 'toDuplex options');
    const highWaterMark = options.highWaterMark ?? DEFAULT_DUPLEX_HIGH_WATER_MARK;
    const readableHighWaterMark =
      options.readableHighWaterMark ?? DEFAULT_DUPLEX_READABLE_HIGH_WATER_MARK;
    if (!(highWaterMark >= 0) || !Number.isFinite(highWaterMark))
      throw new RangeError('highWaterMark must be a non-negative number of bytes');
    if (!(readableHighWaterMark >= 0) || !Number.isFinite(readableHighWaterMark))
      throw new RangeError('readableHighWaterMark must be a non-negative number of messages');
    const stringsAs = options.stringsAs ?? 'text';
    if (stringsAs !== 'text' && stringsAs !== 'binary')
      throw new TypeError("stringsAs must be 'text' or 'binary'");
    const textAs = options.textAs ?? 'string';
    if (textAs !== 'string' && textAs !== 'buffer')
      throw new TypeError("textAs must be 'string' or 'buffer'");
    super({
      // A WebSocket cannot stay half open: once the peer's Close arrived, nothing more can be sent.
      allowHalfOpen: false,
      readableObjectMode: true,
      readableHighWaterMark,
      writableHighWaterMark: highWaterMark,
      // Keep strings as strings, so that text stays text.
      decodeStrings: false,
    });
    this.#source = source;
    this.#stringsAs = stringsAs;
    this.#textAs = textAs;
    this.#closeInfo = options.closeInfo ?? { closeCode: 1000 };
    // Opening from here on, not from _construct() (the next tick): a
    // destroy() in the same tick as toDuplex() gives the attempt up too.
    if (isWebSocketLike(source)) this.#opening = true;
    else this.#attach(source);
  }

  /** The subprotocol the handshake selected ('' if none, or before the connection opened). */
  get protocol(): string {
    return this.#protocol;
  }

  /** The extensions the handshake accepted ('' if none, or before the connection opened). */
  get extensions(): string {
    return this.#extensions;
  }

  /**
   * `end()` with a chosen close code and reason (1000 or 3000-4999; a reason at
   * most 123 bytes of UTF-8): the Close is sent once every queued message was.
   * Needs the connection as source (a TypeError with bare open info, whose
   * `end()` can only send a Close with no code).
   */
  endWith(closeInfo: WebSocketCloseInfo, callback?: () => void): this {
    if (!isWebSocketLike(this.#source)) {
      throw new TypeError('endWith() needs the WebSocketStream or WebSocketConnection as source');
    }
    this.#closeInfo = closeInfo;
    return this.end(callback);
  }

  #attach(
    info: Pick<WebSocketOpenInfo, 'readable' | 'writable'> & Partial<WebSocketOpenInfo>,
  ): void {
    this.#reader = info.readable.getReader();
    this.#writer = info.writable.getWriter();
    this.#protocol = info.protocol ?? '';
    this.#extensions = info.extensions ?? '';
    // Failures surface through read(), write() and close(); these copies must not go unhandled.
    this.#reader.closed.catch(noop);
    this.#writer.closed.catch(noop);
  }

  /**
   * Node runs `_destroy()` only once `_construct()` called back, that is once
   * the opening handshake ended, which can take the whole handshake timeout.
   * A Duplex destroyed while its connection opens gives the attempt up now,
   * and (destroyed with no error) emits no error for the handshake it ended.
   */
  override destroy(error?: Error): this {
    const source = this.#source;
    if (this.#opening && !this.#abandoned && isWebSocketLike(source)) {
      this.#abandoned = true;
      // The connection may be open already (`opened` fulfilled before
      // _construct() saw it): the error's code goes out as _destroy() would send it.
      source.close(closeInfoOfReason(error));
    }
    return super.destroy(error);
  }

  override _construct(callback: (error?: Error | null) => void): void {
    const source = this.#source;
    if (!isWebSocketLike(source)) {
      callback();
      return;
    }
    source.opened.then(
      (info) => {
        this.#opening = false;
        // Destroyed meanwhile: _destroy() closes the connection.
        if (this.#abandoned) {
          callback();
          return;
        }
        try {
          // Throws if the streams are already locked (read or written by someone else).
          this.#attach(info);
        } catch (error) {
          callback(toError(error));
          return;
        }
        callback();
      },
      (error: unknown) => {
        this.#opening = false;
        callback(this.#abandoned ? null : toError(error));
      },
    );
  }

  override _read(): void {
    if (this.#reading) return;
    const reader = this.#reader!;
    this.#reading = true;
    reader.read().then(
      (result) => {
        this.#reading = false;
        if (result.done) {
          this.push(null);
          return;
        }
        const message = result.value;
        let chunk: string | Buffer;
        if (typeof message === 'string') {
          chunk = this.#textAs === 'string' ? message : Buffer.from(message, 'utf8');
        } else {
          // A fresh Uint8Array that nothing else references: wrap it without copying.
          chunk = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
        }
        // push() calls _read() again while the buffer is below its high-water mark.
        this.push(chunk);
      },
      (error: unknown) => {
        this.#reading = false;
        this.destroy(toError(error));
      },
    );
  }

  override _write(
    chunk: Buffer | string,
    encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    // A write's encoding says what the string is. In a character encoding
    // (latin1, ascii, utf16le) the string is text, and a text message is
    // that text, UTF-8 on the wire: its bytes in latin1 read back as UTF-8
    // would be other text ('é' would arrive as U+FFFD). In hex or base64 the
    // string stands for bytes: a text message is what they say in UTF-8.
    let message: string | Uint8Array = chunk;
    if (typeof chunk === 'string') {
      if (this.#stringsAs === 'binary') message = Buffer.from(chunk, encoding);
      // Node hands a write's encoding over as written ('BASE64', 'Hex'):
      // Buffer reads encodings in any case, and so must this check.
      else if (BYTE_ENCODINGS.has(encoding.toLowerCase()))
        message = Buffer.from(chunk, encoding).toString('utf8');
    }
    // Settles when the frame was handed to the operating system: the write's callback, and so
    // 'drain', wait for the socket, not for a queue in JavaScript.
    this.#writer!.write(message).then(
      () => callback(),
      (error: unknown) => callback(toError(error)),
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    const source = this.#source;
    // Node calls _final after every write's callback ran: the Close follows all queued data.
    if (isWebSocketLike(source)) {
      try {
        source.close(this.#closeInfo);
      } catch (error) {
        callback(toError(error));
        return;
      }
      source.closed.then(
        () => callback(),
        (error: unknown) => callback(toError(error)),
      );
      return;
    }
    const writer = this.#writer!;
    writer.close().then(
      () => callback(),
      (error: unknown) => {
        // The writable had ended already. close() then rejects with a TypeError;
        // its stored error (writer.closed) says how: after a clean close (the peer
        // closed first, say) every message went out and nothing was lost.
        writer.closed.then(
          () => callback(),
          (stored: unknown) => {
            if (isCleanCloseError(stored)) callback();
            else callback(toError(error));
          },
        );
      },
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Drop what is queued and close at once: cancelling the readable and aborting the writable
    // send the Close frame now (the reason's code if it is a WebSocketError with a sendable one).
    const reason: unknown = error ?? undefined;
    const source = this.#source;
    // Destroyed before the connection opened: give the attempt up.
    if (this.#reader === null && isWebSocketLike(source)) source.close(closeInfoOfReason(reason));
    if (this.#reader !== null) this.#reader.cancel(reason).catch(noop);
    if (this.#writer !== null) this.#writer.abort(reason).catch(noop);
    callback(error);
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Adapts a WebSocket connection to a Node `Duplex` (extension).
 *
 * `source` is either an opened connection's `{ readable, writable }` (what
 * `opened` fulfils with) or the connection itself — a `WebSocketStream` or a
 * server `WebSocketConnection` — in which case the Duplex is returned at once,
 * buffers writes until the connection opens, and is destroyed with the
 * handshake's error if it fails.
 *
 * - `write(chunk)` sends one message; it returns false once the buffered bytes
 *   reach `highWaterMark` (default 64 KiB), and `'drain'` fires when they were
 *   all handed to the operating system.
 * - `end()` sends the Close after every queued message (`closeInfo`, default
 *   1000, when given the connection; no code when given open info), and
 *   `'finish'` fires when the closing handshake completed.
 * - `destroy(error?)` drops queued data and starts the close at once.
 * - The readable side yields one chunk per message: a `string` for text (a
 *   Buffer with `textAs: 'buffer'`), a `Buffer` for binary. It ends when the
 *   peer's Close arrives; an unclean close destroys the Duplex with the
 *   WebSocketError.
 *
 * ```ts
 * const ws = new WebSocketStream('wss://example.com/feed');
 * await pipeline(process.stdin, toDuplex(ws, { stringsAs: 'binary' }), process.stdout);
 * ```
 */
export function toDuplex(
  source: DuplexSource,
  options?: WebSocketDuplexOptions | null,
): WebSocketDuplex {
  return new WebSocketDuplex(source, options);
}
