/**
 * WebSocketStream for browsers without it, over the classic `WebSocket`:
 * the same constructor rules, errors, streams and closing semantics as the
 * Node client (docs/browser.md), within what the classic API allows.
 *
 * Send backpressure comes from `bufferedAmount`: a write is handed to
 * `send()` at once, and its promise (so `writer.ready` too) waits while
 * `bufferedAmount` is above the high-water mark, until it has fallen to the
 * low-water mark. Receive backpressure cannot reach TCP: the classic API
 * delivers every message as it arrives and has no way to stop reading, so
 * messages the application has not read queue in the readable.
 */
import { CloseCode } from '../core/close.js';
import { toBytes } from '../streams/bytes.js';
import type { WebSocketOpenInfo } from '../streams/lifecycle.js';
import {
  checkProtocols,
  convertProtocols,
  parseWebSocketUrl,
  readSignal,
} from '../streams/websocket-stream.js';
import {
  closeInfoOfReason,
  createWebSocketError,
  readCloseInfo,
  validateCloseInfo,
  WebSocketError,
  type WebSocketCloseInfo,
} from '../streams/websocket-error.js';

/** Default of {@link BrowserWebSocketStreamOptions.sendHighWaterMark}: 1 MiB. */
export const DEFAULT_SEND_HIGH_WATER_MARK = 1024 * 1024;
/** Default of {@link BrowserWebSocketStreamOptions.sendLowWaterMark}: 256 KiB. */
export const DEFAULT_SEND_LOW_WATER_MARK = 256 * 1024;
/** How often `bufferedAmount` is read while a write waits, in ms: 5 (it has no event). */
const POLL_INTERVAL = 5;

/** Options of the polyfill: the standard two and its send water marks (an extension). */
export interface BrowserWebSocketStreamOptions {
  /** Subprotocols to offer (standard). */
  protocols?: string[];
  /** Aborts the opening handshake (standard). */
  signal?: AbortSignal;
  /**
   * Bytes of `bufferedAmount` above which a write's promise waits; default
   * 1 MiB. Bounds what sits in the browser's send buffer: at most this plus
   * one message. Polyfill only (the native API manages its own).
   */
  sendHighWaterMark?: number;
  /** Bytes of `bufferedAmount` a waiting write waits for; default 256 KiB. Polyfill only. */
  sendLowWaterMark?: number;
}

function readMark(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(n >= 0) || !Number.isFinite(n)) throw new RangeError(`${name} must be a number of bytes`);
  return n;
}

const invalidState = (): DOMException =>
  new DOMException('The WebSocket is closing or closed', 'InvalidStateError');

export class WebSocketStream {
  readonly #url: string;
  readonly #ws: WebSocket | null = null;
  readonly #opened: Promise<WebSocketOpenInfo>;
  readonly #closed: Promise<Required<WebSocketCloseInfo>>;
  #resolveOpened!: (info: WebSocketOpenInfo) => void;
  #rejectOpened!: (error: unknown) => void;
  #resolveClosed!: (info: Required<WebSocketCloseInfo>) => void;
  #rejectClosed!: (error: unknown) => void;
  #state: 'connecting' | 'open' | 'closing' | 'done' = 'connecting';
  #readable: ReadableStreamDefaultController<string | Uint8Array> | null = null;
  #writable: WritableStreamDefaultController | null = null;
  readonly #high: number;
  readonly #low: number;

  /**
   * @param url a ws:, wss:, http: or https: URL without a fragment (relative URLs resolve against the page)
   * @param options `protocols` and `signal` (standard), the send water marks (extension)
   */
  constructor(url: string | URL, options: BrowserWebSocketStreamOptions | null = {}) {
    if (arguments.length === 0) throw new TypeError('WebSocketStream needs a URL');
    if (options !== null && options !== undefined && typeof options !== 'object') {
      throw new TypeError('options must be an object');
    }
    const opts = options ?? {};
    const offered = convertProtocols(opts.protocols);
    const base = (globalThis as { location?: { href: string } }).location?.href;
    this.#url = parseWebSocketUrl(url, base).href;
    const protocols = checkProtocols(offered);
    this.#high = readMark(
      opts.sendHighWaterMark,
      'sendHighWaterMark',
      DEFAULT_SEND_HIGH_WATER_MARK,
    );
    this.#low = Math.min(
      this.#high,
      readMark(opts.sendLowWaterMark, 'sendLowWaterMark', DEFAULT_SEND_LOW_WATER_MARK),
    );
    // Checked (members in WebIDL's order) before anything is opened: a bad one opens nothing.
    const signal = readSignal(opts.signal);
    this.#opened = new Promise((resolve, reject) => {
      this.#resolveOpened = resolve;
      this.#rejectOpened = reject;
    });
    this.#closed = new Promise((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    // Both are handled here, so awaiting only one never leaves an unhandled rejection.
    this.#opened.catch(() => {});
    this.#closed.catch(() => {});

    if (signal?.aborted === true) {
      this.#fail(signal.reason);
      return;
    }
    const ws = new WebSocket(this.#url, protocols);
    ws.binaryType = 'arraybuffer';
    this.#ws = ws;
    const onAbort = (): void => {
      if (this.#state !== 'connecting') return;
      this.#fail(signal!.reason);
      ws.close();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    ws.onopen = () => {
      signal?.removeEventListener('abort', onAbort);
      if (this.#state === 'connecting') this.#open(ws);
    };
    ws.onmessage = (event: MessageEvent<string | ArrayBuffer>) => {
      const data = event.data;
      // A binary message: a fresh Uint8Array over the ArrayBuffer the browser made for it.
      this.#readable?.enqueue(typeof data === 'string' ? data : new Uint8Array(data));
    };
    ws.onclose = (event: CloseEvent) => {
      signal?.removeEventListener('abort', onAbort);
      this.#onClose(event);
    };
  }

  /** The URL, serialized after conversion (http: → ws:, https: → wss:). */
  get url(): string {
    return this.#url;
  }

  /** Fulfils with the streams once the handshake succeeded; rejects with a WebSocketError if it failed. */
  get opened(): Promise<WebSocketOpenInfo> {
    return this.#opened;
  }

  /** Fulfils with `{closeCode, reason}` after a clean close; rejects with a WebSocketError otherwise. */
  get closed(): Promise<Required<WebSocketCloseInfo>> {
    return this.#closed;
  }

  /**
   * Starts the closing handshake. `closeCode` must be 1000 or 3000-4999
   * (InvalidAccessError), `reason` at most 123 UTF-8 bytes (SyntaxError); a
   * reason alone sends 1000, nothing sends a Close with no body. During the
   * handshake the attempt is failed instead. Later calls do nothing.
   */
  close(closeInfo?: WebSocketCloseInfo): void {
    const { code: rawCode, reason } = readCloseInfo(closeInfo);
    const code = validateCloseInfo(rawCode, reason);
    if (this.#state === 'connecting') {
      this.#fail(
        createWebSocketError(
          'The WebSocket was closed before the handshake completed',
          CloseCode.ABNORMAL_CLOSURE,
        ),
      );
      this.#ws?.close();
      return;
    }
    this.#startClose(code, reason);
  }

  #startClose(code: number | undefined, reason: string): void {
    if (this.#state !== 'open') return;
    this.#state = 'closing';
    // The classic API sends a Close with no body when called with no arguments.
    if (code === undefined) this.#ws!.close();
    else this.#ws!.close(code, reason);
  }

  /** abort(reason) and cancel(reason): a WebSocketError's code and reason are used if sendable. */
  #closeFromReason(reason: unknown): void {
    const { closeCode, reason: text } = closeInfoOfReason(reason);
    this.#startClose(closeCode, text ?? '');
  }

  #open(ws: WebSocket): void {
    this.#state = 'open';
    const readable = new ReadableStream<string | Uint8Array>(
      {
        start: (controller) => {
          this.#readable = controller;
        },
        cancel: (reason) => {
          // Nothing more is enqueued (the classic API already stops delivering
          // messages once close() was called; this keeps it so if close was under way).
          this.#readable = null;
          this.#closeFromReason(reason);
        },
      },
      { highWaterMark: 1 },
    );
    const writable = new WritableStream<unknown>(
      {
        start: (controller) => {
          this.#writable = controller;
        },
        write: (chunk) => this.#write(ws, chunk),
        // Settles when the closing handshake finished (rejects if it did not end cleanly).
        close: async () => {
          this.#startClose(undefined, '');
          await this.#closed;
        },
        abort: (reason) => this.#closeFromReason(reason),
      },
      { highWaterMark: 1 },
    );
    this.#resolveOpened({ readable, writable, extensions: ws.extensions, protocol: ws.protocol });
  }

  async #write(ws: WebSocket, chunk: unknown): Promise<void> {
    // CLOSING once the peer's Close arrived: send() would drop the message
    // and the write would resolve; it rejects, as once we started closing.
    if (this.#state !== 'open' || ws.readyState !== WebSocket.OPEN) throw invalidState();
    const bytes = toBytes(chunk);
    // Anything that is not a BufferSource is sent as text (a conversion that throws rejects the write).
    // ToString, as WebIDL converts a USVString: a Symbol throws TypeError.
    ws.send(bytes ?? `${chunk as string}`);
    if (ws.bufferedAmount <= this.#high) return;
    // Above the high-water mark: wait until the browser has sent down to the low one.
    while (ws.bufferedAmount > this.#low) {
      // The connection ended while this write waited: the rest of the buffer is lost.
      if ((ws.readyState as number) === WebSocket.CLOSED) throw invalidState();
      // writable.abort() reaches abort() below only once this write settled: a
      // peer that stopped reading must not hold it. The browser sends what it
      // buffered, then the Close.
      const signal = this.#writable?.signal;
      if (signal?.aborted === true) throw signal.reason;
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL));
    }
  }

  /** The handshake failed or was abandoned: both promises reject with `error`. */
  #fail(error: unknown): void {
    if (this.#state === 'done') return;
    this.#state = 'done';
    this.#rejectOpened(error);
    this.#rejectClosed(error);
  }

  #onClose(event: CloseEvent): void {
    if (this.#state === 'connecting') {
      this.#fail(
        createWebSocketError(
          `The WebSocket connection to ${this.#url} failed`,
          CloseCode.ABNORMAL_CLOSURE,
        ),
      );
      return;
    }
    if (this.#state === 'done') return;
    this.#state = 'done';
    if (event.wasClean) {
      try {
        this.#readable?.close();
      } catch {
        // Already closed or errored by a cancel.
      }
      this.#writable?.error(invalidState());
      this.#resolveClosed({ closeCode: event.code, reason: event.reason });
      return;
    }
    // One error for everything: both streams and `closed` (WPT checks it is the same object).
    const error = createWebSocketError(
      `The WebSocket connection to ${this.#url} closed without a closing handshake`,
      event.code === CloseCode.NO_STATUS_RECEIVED ? CloseCode.ABNORMAL_CLOSURE : event.code,
      event.reason,
    );
    this.#readable?.error(error);
    this.#writable?.error(error);
    this.#rejectClosed(error);
  }
}

Object.defineProperty(WebSocketStream.prototype, Symbol.toStringTag, {
  value: 'WebSocketStream',
  configurable: true,
});

export { WebSocketError };
