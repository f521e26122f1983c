/**
 * A client connection that outlives its WebSocket connections: when one
 * drops (the server drains with 1001 Going Away, a restart, a network
 * failure), the next is opened after a capped exponential backoff with
 * jitter, and the readable and writable carry on across them.
 *
 * What happens to a message (the contract, exactly):
 * - A message written while no connection is open waits: `write()` does not
 *   resolve until a connection is open and took it (backpressure, never a
 *   silent drop, never an unbounded buffer: one message is in hand at a time).
 * - A message whose `write()` had not resolved when its connection dropped
 *   (or was closing) is written again on the next connection. It may arrive
 *   twice if the old connection had carried it to the server before the drop.
 * - A message whose `write()` had resolved was handed to the operating
 *   system; if the connection drops before the server read it, it is lost
 *   (WebSocket has no acknowledgements: use the application's own for
 *   exactly-once).
 * - Messages received are delivered in order, a connection's all before
 *   the next's (also those still unread when it closed, unless the readable
 *   has no reader then); nothing is replayed across connections.
 */
import { CloseCode } from '../core/close.js';
import {
  closeInfoOfReason,
  createWebSocketError,
  readCloseInfo,
  validateCloseInfo,
  WebSocketError,
  type WebSocketCloseInfo,
} from '../streams/websocket-error.js';
import type { WebSocketStreamOptions } from '../streams/options.js';
import type { WebSocketMessage } from '../streams/session.js';
import { WebSocketStream, type WebSocketOpenInfo } from '../streams/websocket-stream.js';
import { readMilliseconds } from '../streams/session-options.js';
import { callHook } from '../streams/user-hook.js';
import { backoffDelay } from './backoff.js';
import { Gate } from './gate.js';
import { urlForMessages } from '../streams/url-credentials.js';

/**
 * `options` as every attempt can read them: `headers` or `protocols` given
 * as an iterable that reads only once (a generator) is read now into an
 * array, or the first connection would use it up and the next ones send
 * none. Every other member is read from `options` itself.
 */
function repeatable(options: ReconnectingOptions): ReconnectingOptions {
  const once = (value: unknown): boolean =>
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Map) &&
    !(typeof Headers === 'function' && value instanceof Headers) &&
    typeof (value as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function';
  const { headers, protocols } = options;
  if (!once(headers) && !once(protocols)) return options;
  const read: PropertyDescriptorMap = {};
  if (once(headers))
    read.headers = { value: [...(headers as Iterable<unknown>)], enumerable: true };
  if (once(protocols)) {
    read.protocols = { value: [...(protocols as Iterable<unknown>)], enumerable: true };
  }
  return Object.create(options, read) as ReconnectingOptions;
}

/** Default of {@link ReconnectingOptions.reconnectDelay}: 250 ms. */
export const DEFAULT_RECONNECT_DELAY = 250;
/** Default of {@link ReconnectingOptions.maxReconnectDelay}: 30 s. */
export const DEFAULT_MAX_RECONNECT_DELAY = 30_000;
/** Default of {@link ReconnectingOptions.minUptime}: 5 s. */
export const DEFAULT_MIN_UPTIME = 5_000;

/**
 * Close codes after which no reconnect is attempted by default: a normal
 * closure (the server is done with us), and the codes that say our own
 * messages were wrong, which a new connection would repeat.
 */
export const FINAL_CLOSE_CODES: ReadonlySet<number> = new Set([
  1000, 1002, 1003, 1007, 1008, 1009, 1010,
]);

/** What the helper reports to {@link ReconnectingOptions.onEvent}. */
export type ReconnectEvent =
  | {
      readonly type: 'open';
      readonly url: string;
      /** Failed attempts before this one since the last connection that stayed open `minUptime` (or since the start). */
      readonly attempt: number;
    }
  | {
      readonly type: 'close';
      /** The close code (1006 when the connection failed or could not be opened). */
      readonly closeCode: number;
      readonly reason: string;
      readonly error?: unknown;
    }
  | {
      readonly type: 'retry';
      /** The attempt to come, counted from 1 after the last connection that stayed open `minUptime`: its backoff step plus one. */
      readonly attempt: number;
      readonly delay: number;
    }
  | {
      readonly type: 'give-up';
      /** Consecutive connections that could not be opened (see {@link ReconnectingOptions.maxAttempts}). */
      readonly attempts: number;
    };

/** Options of {@link reconnecting}: those of WebSocketStream (used for every connection), and these. */
export interface ReconnectingOptions extends WebSocketStreamOptions {
  /** First delay before reconnecting, in milliseconds (positive); default 250. Doubles after each failed attempt. */
  reconnectDelay?: number;
  /**
   * How long a connection must stay open, in milliseconds (0 or more), for
   * the backoff to start again from `reconnectDelay`; default 5 s. One that
   * closes sooner counts as a failed attempt: the delay keeps doubling. A
   * server that accepts the handshake and drops the connection at once (a
   * crash loop, a check after the upgrade, 1013 Try Again Later) is then
   * retried ever more slowly instead of several times a second by every
   * client. 0 resets the backoff at every open.
   */
  minUptime?: number;
  /** Longest delay, in milliseconds (positive); default 30 s. Each delay is jittered to 50-100% of its value, so that the clients of a drained server do not all come back at once. */
  maxReconnectDelay?: number;
  /**
   * Consecutive failed attempts (connections that could not be opened)
   * before giving up; default Infinity. Then `closed` rejects and the streams
   * error. An open connection resets the count (however soon it closes:
   * `shouldReconnect` decides after a close, and `minUptime` slows the
   * attempts down).
   */
  maxAttempts?: number;
  /**
   * Decides whether to reconnect after a close: default, every close except
   * those of {@link FINAL_CLOSE_CODES} and those we started. It may answer
   * with a promise (writes wait meanwhile); one that throws or rejects, or an
   * answer other than `true`, counts as `false`.
   */
  shouldReconnect?: (closeCode: number, reason: string) => boolean | PromiseLike<boolean>;
  /** Told what happens (for logs). Errors it throws are ignored. */
  onEvent?: (event: ReconnectEvent) => void;
}

interface Live {
  readonly ws: WebSocketStream;
  readonly reader: ReadableStreamDefaultReader<WebSocketMessage>;
  readonly writer: WritableStreamDefaultWriter<unknown>;
  /** Settles when the connection is closed (either way). */
  readonly ended: Promise<unknown>;
}

/**
 * A WebSocketStream-shaped client that reconnects (see the module comment
 * for what happens to messages). `opened` fulfils at the first connection
 * with streams that span every connection; `closed` fulfils when we closed
 * it or the server closed with a final code, and rejects when it gave up.
 */
export class ReconnectingWebSocketStream {
  readonly url: string;
  readonly opened: Promise<WebSocketOpenInfo>;
  readonly closed: Promise<Required<WebSocketCloseInfo>>;
  readonly #options: ReconnectingOptions;
  readonly #minUptime: number;
  readonly #gate = new Gate<Live>();
  #closing: WebSocketCloseInfo | null = null;
  #wakeSleep: (() => void) | null = null;
  /** The connection in its opening handshake, if any (close() ends it at once). */
  #attempt: WebSocketStream | null = null;
  /** The readable spanning connections, once the first opened. */
  #readable: ReadableStream<WebSocketMessage> | null = null;
  /** Ends the spanning streams once no connection follows (see {@link #end}). */
  #streams: {
    finish(writableError: unknown, readableError?: unknown): void;
    /** A connection was read to its end: the readable ends if it was the last. */
    read(): void;
  } | null = null;

  constructor(url: string | URL, options: ReconnectingOptions = {}) {
    // Validates the URL and options the way WebSocketStream does, before any attempt.
    // Positive: a delay of 0 would reconnect to a server that accepts and
    // closes at once as fast as the network allows, from every client.
    readMilliseconds(options.reconnectDelay, 'reconnectDelay', DEFAULT_RECONNECT_DELAY);
    readMilliseconds(options.maxReconnectDelay, 'maxReconnectDelay', DEFAULT_MAX_RECONNECT_DELAY);
    const minUptime = readMilliseconds(options.minUptime, 'minUptime', DEFAULT_MIN_UPTIME, true);
    const attempts = options.maxAttempts;
    if (
      attempts !== undefined &&
      attempts !== Infinity &&
      !(Number.isInteger(attempts) && attempts > 0)
    ) {
      throw new RangeError(`maxAttempts must be a positive integer or Infinity, not ${attempts}`);
    }
    options = repeatable(options);
    const first = new WebSocketStream(url, options);
    this.url = first.url;
    this.#options = options;
    this.#minUptime = minUptime;
    // An aborted signal ends the backoff sleep: no attempt follows it.
    const signal = options.signal;
    const onAbort = (): void => this.#wakeSleep?.();
    signal?.addEventListener('abort', onAbort, { once: true });
    let resolveOpened!: (info: WebSocketOpenInfo) => void;
    let rejectOpened!: (error: unknown) => void;
    this.opened = new Promise((resolve, reject) => {
      resolveOpened = resolve;
      rejectOpened = reject;
    });
    let everOpened = false;
    this.closed = this.#run(
      first,
      (info) => {
        everOpened = true;
        resolveOpened(this.#openInfo(info));
      },
      rejectOpened,
    ).finally(() => {
      // A signal shared by many clients must not keep each one that ended.
      signal?.removeEventListener('abort', onAbort);
      // Closed before any connection opened: `opened` must not wait forever.
      if (!everOpened) {
        rejectOpened(
          createWebSocketError(
            `closed before a connection to ${urlForMessages(this.url)} opened`,
            CloseCode.ABNORMAL_CLOSURE,
          ),
        );
      }
    });
    this.opened.catch(() => {});
    this.closed.catch(() => {});
  }

  /**
   * Closes the current connection (if any) with `closeInfo` and stops
   * reconnecting; a connection still in its opening handshake is dropped.
   * `closeInfo` is checked as by WebSocketStream's close() (a code other
   * than 1000 or 3000-4999, or a reason over 123 bytes, throws and changes
   * nothing). Before any connection opened, `opened` rejects.
   */
  close(closeInfo?: WebSocketCloseInfo): void {
    const { code: rawCode, reason } = readCloseInfo(closeInfo);
    const closeCode = validateCloseInfo(rawCode, reason);
    if (this.#closing !== null) return;
    const checked: WebSocketCloseInfo = closeCode === undefined ? {} : { closeCode, reason };
    this.#closing = checked;
    this.#gate.current?.ws.close(checked);
    this.#attempt?.close(checked);
    this.#wakeSleep?.();
  }

  async #run(
    first: WebSocketStream,
    opened: (info: WebSocketOpenInfo) => void,
    failed: (error: unknown) => void,
  ): Promise<Required<WebSocketCloseInfo>> {
    const o = this.#options;
    let ws: WebSocketStream | null = first;
    // Consecutive connections that could not be opened: what maxAttempts counts.
    let attempts = 0;
    // The backoff step: failed attempts, connections that closed within
    // minUptime included, since the last connection that stayed open longer.
    let failures = 0;
    let everOpened = false;
    for (;;) {
      ws ??= new WebSocketStream(this.url, o);
      let info: WebSocketOpenInfo;
      this.#attempt = ws;
      try {
        info = await ws.opened;
      } catch (error) {
        this.#attempt = null;
        ws = null;
        attempts++;
        failures++;
        this.#emit({ type: 'close', closeCode: 1006, reason: describe(error), error });
        if (this.#closing !== null) return this.#end({ closeCode: 1005, reason: '' });
        // As for WebSocketStream, an aborted signal rejects with its reason (and no attempt follows).
        if (this.#aborted()) this.#giveUp(o.signal!.reason, failed);
        if (attempts >= (o.maxAttempts ?? Infinity)) {
          this.#emit({ type: 'give-up', attempts });
          this.#giveUp(
            new WebSocketError(
              `gave up after ${attempts} failed attempts to connect to ${urlForMessages(this.url)}: ${describe(error)}`,
              {},
            ),
            failed,
          );
        }
        await this.#sleep(failures);
        if (this.#closing !== null) return this.#end({ closeCode: 1005, reason: '' });
        if (this.#aborted()) this.#giveUp(o.signal!.reason, failed);
        continue;
      }
      this.#attempt = null;
      const live: Live = {
        ws,
        reader: info.readable.getReader(),
        writer: info.writable.getWriter(),
        ended: ws.closed.then(
          () => {},
          () => {},
        ),
      };
      live.writer.closed.catch(() => {});
      // Its readable closed (everything in it was read: a closed stream has an
      // empty queue) or failed (what it held is gone): nothing is left to read.
      const gate = this.#gate;
      const read = (): void => {
        gate.doneReading(live);
        this.#streams?.read();
      };
      live.reader.closed.then(read, read);
      this.#emit({ type: 'open', url: this.url, attempt: failures });
      attempts = 0;
      // Measured, not timed: no timer to clear at close() or to hold the
      // process, and a monotonic clock, so that a change of the wall clock
      // does not make a short connection look long.
      const openedAt = performance.now();
      if (!everOpened) {
        everOpened = true;
        opened(info);
      }
      this.#gate.open(live);
      if (this.#closing !== null) ws.close(this.#closing);
      let closeCode: number;
      let reason: string;
      try {
        ({ closeCode, reason } = await ws.closed);
        this.#emit({ type: 'close', closeCode, reason });
      } catch (error) {
        closeCode = error instanceof WebSocketError ? (error.closeCode ?? 1006) : 1006;
        reason = error instanceof WebSocketError ? error.reason : '';
        this.#emit({ type: 'close', closeCode, reason, error });
      }
      // Only a connection that lasted says the server is well again: one
      // dropped at once must not bring the first, shortest delay back.
      if (performance.now() - openedAt >= this.#minUptime) failures = 0;
      else failures++;
      this.#gate.shut();
      // Nobody reads (the readable has no reader): what this connection
      // received is not kept past its end, so that a client that only writes
      // does not hold every connection it had.
      if (this.#readable?.locked !== true) {
        for (const ended of this.#gate.dropEnded()) ended.reader.cancel().catch(() => {});
      }
      ws = null;
      // An aborted signal leaves an open connection alone (as WebSocketStream
      // does) but no new attempt is made: `closed` settles with this close.
      if (
        this.#closing !== null ||
        this.#aborted() ||
        !(await this.#wantsReconnect(closeCode, reason))
      ) {
        return this.#end({ closeCode, reason });
      }
      await this.#sleep(failures);
      if (this.#closing !== null || this.#aborted()) {
        return this.#end({ closeCode, reason });
      }
    }
  }

  async #wantsReconnect(closeCode: number, reason: string): Promise<boolean> {
    const decide = this.#options.shouldReconnect;
    if (decide === undefined) return !FINAL_CLOSE_CODES.has(closeCode);
    let answer: unknown;
    let thenable: boolean;
    try {
      answer = decide(closeCode, reason);
      // Reading `then` runs the application's code too (a getter, a Proxy): it may throw.
      thenable = isThenable(answer);
    } catch {
      return false;
    }
    if (!thenable) return answer === true;
    // close() or an aborted signal does not wait for the answer.
    const woken = new Promise<boolean>((resolve) => {
      this.#wakeSleep = () => resolve(false);
    });
    try {
      return await Promise.race([
        Promise.resolve(answer).then(
          (value) => value === true,
          () => false,
        ),
        woken,
      ]);
    } finally {
      this.#wakeSleep = null;
    }
  }

  #end(info: Required<WebSocketCloseInfo>): Required<WebSocketCloseInfo> {
    this.#gate.end();
    // As WebSocketStream's at a clean close: the writable errors (a write
    // waiting for a connection is refused by the gate), and the readable
    // closes once what is left in it was read.
    this.#streams?.finish(closedWritable());
    return info;
  }

  /** The signal of the options aborted: no attempt is made any more. */
  #aborted(): boolean {
    return this.#options.signal?.aborted === true;
  }

  /** No more attempts: `opened` (if still pending), `closed` and the streams fail with `error`. */
  #giveUp(error: unknown, failed: (error: unknown) => void): never {
    failed(error);
    this.#gate.fail(error);
    this.#streams?.finish(error, error);
    throw error;
  }

  /** Waits the backoff delay for `attempt` (the backoff step), unless close() is called. */
  async #sleep(attempt: number): Promise<void> {
    const first = this.#options.reconnectDelay ?? DEFAULT_RECONNECT_DELAY;
    const max = this.#options.maxReconnectDelay ?? DEFAULT_MAX_RECONNECT_DELAY;
    const delay = backoffDelay(attempt, first, max);
    // Closing or aborted already: no retry to tell of.
    if (this.#closing !== null || this.#aborted()) return;
    this.#emit({ type: 'retry', attempt: attempt + 1, delay });
    // close() from the event's hook, or a signal aborted meanwhile: no sleep.
    if (this.#closing !== null || this.#aborted()) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delay);
      this.#wakeSleep = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wakeSleep = null;
  }

  #openInfo(first: WebSocketOpenInfo): WebSocketOpenInfo {
    const gate = this.#gate;
    let readableController!: ReadableStreamDefaultController<WebSocketMessage>;
    let writableController!: WritableStreamDefaultController;
    let readableClosed = false;
    const closeReadable = (): void => {
      if (readableClosed) return;
      readableClosed = true;
      try {
        readableController.close();
      } catch {
        // Cancelled or errored already.
      }
    };
    let readableEnd: { error: unknown } | null = null;
    let pulling = false;
    const endReadableIfRead = (): void => {
      // What is left unread is delivered first; a pull under way ends the readable itself.
      if (readableEnd === null || gate.hasUnread || pulling) return;
      if (readableEnd.error === undefined) closeReadable();
      else readableController.error(readableEnd.error);
    };
    this.#streams = {
      finish(writableError, readableError) {
        writableController.error(writableError);
        readableEnd = { error: readableError };
        endReadableIfRead();
      },
      read: endReadableIfRead,
    };
    const readable = new ReadableStream<WebSocketMessage>(
      {
        start(controller) {
          readableController = controller;
        },
        // As WebSocketStream's: cancelling the readable closes (here: stops reconnecting too).
        cancel: (reason) => this.close(closeInfoOfReason(reason)),
        async pull(controller) {
          pulling = true;
          try {
            for (;;) {
              // A connection is read to its end, also after it closed (what it
              // received before its Close is delivered), then the next.
              const live = await gate.unread();
              if (live === null) return closeReadable();
              try {
                const next = await live.reader.read();
                if (!next.done) return controller.enqueue(next.value);
              } catch {
                // This connection failed (its readable errored, as
                // WebSocketStream's does when a connection is lost): go on with the next one.
              }
              gate.doneReading(live);
            }
          } finally {
            pulling = false;
            // The last connection may have been read to its end meanwhile.
            endReadableIfRead();
          }
        },
      },
      { highWaterMark: 0 },
    );
    const writable = new WritableStream<unknown>(
      {
        start: (controller) => {
          writableController = controller;
          // abort() waits for a write in flight, which may be waiting for a
          // connection that only a reconnect would bring: the controller's
          // signal tells at once, and close() ends that wait.
          controller.signal?.addEventListener(
            'abort',
            () => this.close(closeInfoOfReason(controller.signal.reason)),
            { once: true },
          );
        },
        async write(chunk) {
          for (;;) {
            const live = await gate.next();
            if (live === null)
              throw new DOMException('the connection was closed', 'InvalidStateError');
            try {
              await live.writer.write(chunk);
              return;
            } catch (error) {
              // Only a connection that closed or is closing is a reason to
              // write again: anything else is the chunk refused (a TypeError,
              // as for a SharedArrayBuffer, or what its conversion to a
              // string threw), as every connection would refuse it.
              if (!closedOrClosing(error)) throw error;
              // Not sent (the connection dropped or is closing): again on the next connection.
              await live.ended;
              await gate.settled(live);
            }
          }
        },
        close: () => {
          this.close({ closeCode: 1000 });
          return this.closed.then(() => {});
        },
        abort: (reason) => this.close(closeInfoOfReason(reason)),
      },
      { highWaterMark: 1 },
    );
    this.#readable = readable;
    return { readable, writable, protocol: first.protocol, extensions: first.extensions };
  }

  /** A logging hook must not stop reconnecting (a throw or a rejection is ignored). */
  #emit(event: ReconnectEvent): void {
    callHook(this.#options.onEvent, event);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Whether a write was refused because its connection closed or is closing (as WebSocketStream refuses it then). */
function closedOrClosing(error: unknown): boolean {
  return (
    error instanceof WebSocketError ||
    (error instanceof DOMException && error.name === 'InvalidStateError')
  );
}

/** The spanning writable's error once no connection follows, as WebSocketStream's at a clean close. */
function closedWritable(): DOMException {
  return new DOMException('The WebSocket is closed', 'InvalidStateError');
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Opens a reconnecting client connection to `url` (see
 * {@link ReconnectingWebSocketStream}). It has the WebSocketStream shape,
 * so `toDuplex()` takes it too.
 */
export function reconnecting(
  url: string | URL,
  options?: ReconnectingOptions,
): ReconnectingWebSocketStream {
  return new ReconnectingWebSocketStream(url, options);
}
