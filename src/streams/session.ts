/**
 * A live WebSocket connection exposed through WHATWG streams: the core's
 * Connection on one side, a Transport on the other, and the readable,
 * writable and `closed` promise of WebSocketStream in between. Client and
 * server connections are both sessions.
 *
 * Backpressure: receiving, the transport is paused whenever the readable has
 * no demand (desiredSize <= 0) and resumed by its pull(); sending, a write's
 * promise settles in the transport's write callback, when the bytes were
 * handed to the operating system. Pong and Close frames bypass the writable's
 * queue and go straight to the transport.
 */
import { CloseCode } from '../core/close.js';
import {
  type Connection,
  type ConnectionEvent,
  InvalidStateError as CoreInvalidStateError,
} from '../core/connection.js';
import { releaseFrame } from '../core/frame.js';
import { rememberPlain, toBytes } from './bytes.js';
import type { Transport } from './transport.js';
import {
  createWebSocketError,
  WebSocketError,
  type WebSocketCloseInfo,
} from './websocket-error.js';

/** A received message: a string for text, a fresh Uint8Array for binary. */
export type WebSocketMessage = string | Uint8Array;

/** Default of {@link SessionOptions.closeTimeout}: 10 s. */
export const DEFAULT_CLOSE_TIMEOUT = 10_000;

/** Default of {@link SessionOptions.maxPendingPongs}: 60 (as ws's `maxPendingAutoPongs`). */
export const DEFAULT_MAX_PENDING_PONGS = 60;

/** Options of a session (the non-standard extensions of WebSocketStream). */
export interface SessionOptions {
  /** Queuing strategy of the readable; default `new CountQueuingStrategy({ highWaterMark: 1 })`. */
  readableStrategy?: QueuingStrategy<WebSocketMessage> | undefined;
  /** Queuing strategy of the writable; default `new CountQueuingStrategy({ highWaterMark: 1 })`. */
  writableStrategy?: QueuingStrategy<unknown> | undefined;
  /**
   * Milliseconds to wait for the closing handshake to finish (the peer's Close,
   * then the end of the TCP connection) before dropping the connection;
   * default 10 s. Stops a peer that never answers Close from holding a connection.
   */
  closeTimeout?: number | undefined;
  /** Send a Ping after this many idle milliseconds; 0 (default) disables keepalive. */
  pingInterval?: number | undefined;
  /**
   * Milliseconds to wait for any bytes after a keepalive Ping before dropping
   * the connection as dead (1006); default: the ping interval.
   */
  pingTimeout?: number | undefined;
  /**
   * Most automatic Pongs that may wait for the operating system to accept
   * them (their socket write has not completed) when another Ping arrives;
   * default 60. Stops a peer that floods Pings but never reads our Pongs from
   * growing our write queue without bound. Exceeding it fails the connection
   * with 1008 (Policy Violation); as that peer does not read, the Close frame
   * usually cannot be delivered, and the connection is dropped after
   * `closeTimeout`. The outcome is an unclean close with code 1008.
   */
  maxPendingPongs?: number | undefined;
  /**
   * Send the messages written in one turn of the event loop together, in one
   * system call at the end of the turn (extension); default false. Without
   * it, every message costs a system call of its own, because a write()
   * resolves only once the operating system took its frame; with it, a
   * write() resolves once its frame joined the turn's batch, which is handed
   * to the operating system before any I/O or timer runs. Backpressure still
   * reaches TCP: while a batch waits for the kernel, later writes wait for it
   * as without batching, and a batch holds at most 64 KiB of frames, so that
   * is the most a resolved write() may leave in user space. For many small
   * messages (an echo of 64-byte messages ran 1.8 to 2.6 times as fast in our
   * benchmarks); it changes nothing for messages of 64 KiB and more.
   */
  batchWrites?: boolean | undefined;
}

/** Validates {@link SessionOptions.batchWrites}. */
export function readBatchWrites(value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new TypeError('batchWrites must be a boolean');
  return value;
}

const noop = (): void => {};
/** An empty input: asks the core to parse the input it held back. */
const NO_INPUT = new Uint8Array(0);

/**
 * Frames with at least this many payload bytes still to come are read
 * straight into their message's buffer when the transport allows it: 32 KiB.
 * Below it, the copy from a shared read buffer costs less than the extra read
 * that reading a header on its own takes.
 */
const DIRECT_READ_MIN = 32 * 1024;

/**
 * After a data frame of at least this many payload bytes, the next read
 * takes just a frame header, so that the payload of the next (likely as
 * large) frame is read in place: 256 KiB. For smaller frames, one large
 * read that brings several of them costs less than two reads per frame.
 */
const HEADER_READ_AFTER = 256 * 1024;

/**
 * Once we started closing, messages the readable has not asked for yet are
 * kept up to this many bytes (UTF-16 units for text) and discarded past it:
 * 1 MiB. A reader that is a step behind loses nothing the peer sent before it
 * saw our Close, while an application that stopped reading cannot make us
 * hold more than this as we read on to find the peer's Close.
 */
const CLOSING_HOLD_LIMIT = 1 << 20;

/** The longest frame header (RFC 6455 5.2: 2 + 8 length bytes + 4 mask bytes). */
const MAX_HEADER_SIZE = 14;

function invalidState(message: string): DOMException {
  return new DOMException(message, 'InvalidStateError');
}

/** Whether a close code may be sent by an application (WebSocketError.closeCode of abort/cancel reasons). */
function sendableCode(code: number | null): boolean {
  return code !== null && (code === 1000 || (code >= 3000 && code <= 4999));
}

export class Session {
  readonly readable: ReadableStream<WebSocketMessage>;
  readonly writable: WritableStream<unknown>;
  readonly closed: Promise<Required<WebSocketCloseInfo>>;

  readonly #conn: Connection;
  readonly #transport: Transport;
  readonly #closeTimeout: number;
  readonly #isServer: boolean;
  readonly #maxPendingPongs: number;
  readonly #batchWrites: boolean;
  /** Automatic Pongs queued by the core and not yet handed to the transport. */
  #pongsQueued = 0;
  /** Automatic Pongs handed to the transport whose write has not completed. */
  #pongsPending = 0;

  #rc!: ReadableStreamDefaultController<WebSocketMessage>;
  #wc!: WritableStreamDefaultController;
  #resolveClosed!: (info: Required<WebSocketCloseInfo>) => void;
  #rejectClosed!: (error: WebSocketError) => void;

  /** Reading is paused (the transport starts paused). */
  #paused = true;
  /** The readable was closed, errored or cancelled: messages are discarded. */
  #readableDone = false;
  /** A microtask will decide whether to pause reading (see #onData). */
  #pauseCheckPending = false;
  /** Messages handed to the readable so far, and their number when the pending check was (re)scheduled. */
  #delivered = 0;
  #deliveredAtCheck = 0;
  /**
   * Messages parsed but not yet enqueued: the readable only ever gets what it
   * asks for (desiredSize > 0). A read chunk can hold thousands of tiny
   * messages, and the stream's own queue dequeues in linear time, so putting
   * them all in it would cost quadratic CPU (a peer sending 1-byte messages
   * could burn seconds per 64 KiB read).
   */
  #inbox: WebSocketMessage[] = [];
  #inboxHead = 0;
  /** The peer's Close arrived (or the session settled cleanly): close the readable once the inbox is empty. */
  #closeWhenDrained = false;
  #delivering = false;
  /** Ends the pull() kept pending while reading flows (see the readable's pull). */
  #endPull: (() => void) | null = null;
  /** We started the closing handshake: read on regardless of demand, to find the peer's Close. */
  #closing = false;
  /** Bytes of messages kept since then beyond what the readable asked for (see CLOSING_HOLD_LIMIT). */
  #closingHeld = 0;
  /** The outcome is settled (closed resolved or rejected). */
  #settled = false;
  /** The error of an unclean close: the one object that errors both streams and rejects `closed`. */
  #error: WebSocketError | null = null;
  #transportClosed = false;
  #transportError: Error | null = null;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * The write whose bytes the transport has not handed to the operating
   * system yet. The writable calls its sink's write() only after the
   * previous one settled, so there is at most one.
   */
  #writeResolve: (() => void) | null = null;
  /** The frames of that write, handed back to the encoder once written. */
  #writeFrames: Uint8Array[] | null = null;
  #writeReject: ((error: unknown) => void) | null = null;
  /** Write callbacks still to come for writes that completed synchronously (they come in order). */
  #syncWriteCallbacks = 0;
  #closeWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];

  // Keepalive
  readonly #pingInterval: number;
  readonly #pingTimeout: number;
  #pingTimer: ReturnType<typeof setTimeout> | undefined;
  #bytesAtPing = -1;

  constructor(
    conn: Connection,
    transport: Transport,
    options: SessionOptions = {},
    initialData?: Uint8Array,
  ) {
    this.#conn = conn;
    this.#transport = transport;
    this.#isServer = conn.role === 'server';
    this.#closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    this.#pingInterval = options.pingInterval ?? 0;
    this.#pingTimeout = options.pingTimeout ?? this.#pingInterval;
    this.#maxPendingPongs = options.maxPendingPongs ?? DEFAULT_MAX_PENDING_PONGS;
    this.#batchWrites = options.batchWrites === true;

    this.closed = new Promise((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    this.closed.catch(noop);

    this.readable = new ReadableStream<WebSocketMessage>(
      {
        start: (controller) => {
          this.#rc = controller;
        },
        pull: () => {
          this.#deliver();
          if (this.#inboxHead === this.#inbox.length) this.#resume();
          // While reading flows and nothing waits in the inbox, pull() has
          // nothing to do: it stays pending, so the stream stops calling it
          // twice per message (each call costs a promise and a microtask). It
          // ends as soon as a demand signal is needed again: when reading
          // pauses or messages are left waiting (#releasePull).
          if (this.#paused || this.#readableDone || this.#inboxHead < this.#inbox.length) return;
          return new Promise<void>((resolve) => {
            this.#endPull = resolve;
          });
        },
        cancel: (reason) => {
          this.#readableDone = true;
          this.#inbox = [];
          this.#inboxHead = 0;
          this.#closeFromReason(reason);
        },
      },
      options.readableStrategy ?? new CountQueuingStrategy({ highWaterMark: 1 }),
    );

    this.writable = new WritableStream<unknown>(
      {
        start: (controller) => {
          this.#wc = controller;
        },
        write: (chunk) => this.#write(chunk),
        close: () => this.#closeWritable(),
        abort: (reason) => {
          this.#closeFromReason(reason);
        },
      },
      options.writableStrategy ?? new CountQueuingStrategy({ highWaterMark: 1 }),
    );

    transport.attach({
      data: (chunk) => this.#onData(chunk),
      nextRead: () => this.#nextRead(),
      inPlace: (n) => {
        this.#conn.receiveInPlace(n);
        this.#afterInput();
      },
      end: () => this.#onEnd(),
      close: () => this.#onTransportClose(),
      error: (error) => {
        this.#transportError ??= error;
      },
    });
    if (initialData !== undefined && initialData.length > 0) this.#onData(initialData);
    this.#armKeepalive();
  }

  /** The core connection (for statistics and tests). */
  get connection(): Connection {
    return this.#conn;
  }

  /** The transport (for statistics and tests). */
  get transport(): Transport {
    return this.#transport;
  }

  /** Whether reading is paused by backpressure. */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * Starts the closing handshake with an already validated code and reason
   * (`code` undefined sends a Close with no body). Does nothing if a close is
   * already under way.
   */
  close(code?: number, reason = ''): void {
    if (this.#settled || this.#conn.closeSent) return;
    this.#conn.sendClose(code, reason);
    this.#flush();
    this.#closing = true;
    this.#armCloseTimer();
    this.#resume();
  }

  /** Sends a Ping (payload at most 125 bytes); for heartbeats driven by the application. */
  ping(payload?: Uint8Array): void {
    if (this.#settled || this.#conn.closeSent)
      throw invalidState('The closing handshake has started');
    this.#conn.sendPing(payload);
    this.#flush();
  }

  /** Drops the connection at once (no closing handshake): the outcome is an unclean close with 1006. */
  terminate(message = 'The connection was terminated'): void {
    if (this.#settled) return;
    this.#settleUnclean(createWebSocketError(message, CloseCode.ABNORMAL_CLOSURE));
    this.#transport.destroy();
  }

  // ---- receiving ---------------------------------------------------------

  #onData(chunk: Uint8Array): void {
    this.#conn.receiveData(chunk);
    this.#afterInput();
  }

  /**
   * Where the transport's next read should go: straight into the message
   * being received when at least {@link DIRECT_READ_MIN} bytes of its frame
   * are still to come (no copy); after a large frame, just the next header
   * (another large frame is likely, and its payload can then be read in
   * place); else as much as the transport reads at once.
   */
  #nextRead(): Uint8Array | number {
    const conn = this.#conn;
    const target = conn.payloadTarget(DIRECT_READ_MIN);
    if (target !== null) return target;
    return conn.lastDataFrameLength >= HEADER_READ_AFTER ? MAX_HEADER_SIZE : Infinity;
  }

  #afterInput(): void {
    const conn = this.#conn;
    for (;;) {
      const events = conn.takeEvents();
      for (let i = 0; i < events.length; i++) this.#handle(events[i]!);
      // Input the core held back once a read inflated to more than its budget:
      // parsed at once when messages are discarded anyway or we read on to find
      // the peer's Close; otherwise when the readable asks again (#resume).
      if (!conn.hasPendingInput || !(this.#closing || this.#readableDone)) break;
      conn.receiveData(NO_INPUT);
    }
    if (conn.hasOutgoing) this.#flush();
    this.#deliver();
    if (conn.hasPendingInput) {
      // Neither reading nor inflating goes on until the readable asks.
      this.#pauseCheckPending = false;
      this.#pause();
      return;
    }
    if (!this.#wantsPause()) return;
    if (this.#pauseCheckPending) {
      // Another read before the check ran (a transport handing out chunks it
      // had buffered, in a row): no more of them.
      this.#pauseCheckPending = false;
      this.#pause();
      return;
    }
    // Decide once the reader's current turn is over: no read can happen
    // before a microtask runs, so the bound on what we hold stays the same,
    // and a reader that empties the queue in this turn costs no pause and
    // resume of the transport.
    this.#pauseCheckPending = true;
    this.#deliveredAtCheck = this.#delivered;
    queueMicrotask(this.#pauseCheck);
  }

  /** Whether reading should stop: messages are waiting, or the readable has no room. */
  #wantsPause(): boolean {
    return (
      !this.#paused &&
      !this.#closing &&
      this.#conn.receiving &&
      !this.#readableDone &&
      (this.#inboxHead < this.#inbox.length || (this.#rc.desiredSize ?? 0) <= 0)
    );
  }

  readonly #pauseCheck = (): void => {
    if (!this.#pauseCheckPending) return;
    if (!this.#wantsPause()) {
      this.#pauseCheckPending = false;
      return;
    }
    if (this.#delivered !== this.#deliveredAtCheck) {
      // The reader is taking messages: look again after its next step.
      this.#deliveredAtCheck = this.#delivered;
      queueMicrotask(this.#pauseCheck);
      return;
    }
    this.#pauseCheckPending = false;
    this.#pause();
  };

  /** Ends a pending pull(): the next read that finds room calls pull() again. */
  #releasePull(): void {
    const end = this.#endPull;
    if (end === null) return;
    this.#endPull = null;
    end();
  }

  #pause(): void {
    this.#releasePull();
    if (this.#paused || this.#transportClosed) return;
    this.#paused = true;
    this.#transport.pause();
  }

  #handle(event: ConnectionEvent): void {
    switch (event.type) {
      case 'text':
      case 'binary':
        if (this.#readableDone || this.#closeWhenDrained) return;
        // Once we are closing, we read on to find the peer's Close: beyond what
        // the readable asks for, keep a bounded amount and discard the rest.
        if (
          this.#closing &&
          (this.#inboxHead < this.#inbox.length || (this.#rc.desiredSize ?? 0) <= 0)
        ) {
          const size = event.data.length;
          if (this.#closingHeld + size > CLOSING_HOLD_LIMIT) return;
          this.#closingHeld += size;
        }
        this.#inbox.push(event.data);
        return;
      case 'ping':
        if (this.#conn.closeSent) return;
        // The core queued a Pong. If earlier ones are still stuck in the write
        // queue, the peer is not reading them: stop before the queue grows without bound.
        if (this.#pongsPending >= this.#maxPendingPongs) {
          this.#conn.fail(
            CloseCode.POLICY_VIOLATION,
            `More than ${this.#maxPendingPongs} pongs pending: the peer sends pings but does not read`,
          );
          for (const e of this.#conn.takeEvents()) this.#handle(e);
          return;
        }
        this.#pongsQueued++;
        return;
      case 'pong':
        return;
      case 'close':
        // The peer's Close: no more messages will come. Queued messages stay readable.
        this.#closeReadable();
        this.#flush();
        if (this.#isServer) {
          // RFC 6455 7.1.1: "the server SHOULD close [the TCP connection] first".
          this.#transport.end();
        }
        this.#armCloseTimer();
        this.#resume();
        return;
      case 'fail': {
        // RFC 6455 7.1.7: send the Close (queued by the core), then close the connection.
        const error = event.error;
        this.#flush();
        this.#settleUnclean(
          createWebSocketError(
            `WebSocket protocol error: ${error.message}`,
            error.closeCode,
            '',
            error,
          ),
        );
        this.#transport.end();
        this.#armCloseTimer();
        this.#resume();
        return;
      }
    }
  }

  /** Closes the readable once the messages already received were read. */
  #closeReadable(): void {
    if (this.#readableDone) return;
    this.#closeWhenDrained = true;
    this.#deliver();
  }

  /** Moves messages from the inbox to the readable while it asks for more. */
  #deliver(): void {
    // enqueue() may call pull() synchronously, which delivers too: one loop at a time.
    if (this.#readableDone || this.#delivering) return;
    this.#delivering = true;
    while (this.#inboxHead < this.#inbox.length && (this.#rc.desiredSize ?? 0) > 0) {
      const message = this.#inbox[this.#inboxHead]!;
      this.#inbox[this.#inboxHead++] = '';
      this.#delivered++;
      if (typeof message !== 'string') rememberPlain(message);
      this.#rc.enqueue(message);
    }
    this.#delivering = false;
    if (this.#inboxHead < this.#inbox.length) this.#releasePull();
    if (this.#inboxHead === this.#inbox.length) {
      if (this.#inbox.length > 0) {
        this.#inbox = [];
        this.#inboxHead = 0;
      }
      if (this.#closeWhenDrained) {
        this.#readableDone = true;
        this.#rc.close();
      }
    } else if (this.#inboxHead > 1024 && this.#inboxHead * 2 > this.#inbox.length) {
      this.#inbox = this.#inbox.slice(this.#inboxHead);
      this.#inboxHead = 0;
    }
  }

  #resume(): void {
    if (!this.#paused || this.#transportClosed) return;
    if (this.#conn.hasPendingInput) {
      this.#conn.receiveData(NO_INPUT);
      this.#afterInput();
      if (
        !this.#closing &&
        !this.#readableDone &&
        (this.#conn.hasPendingInput ||
          this.#inboxHead < this.#inbox.length ||
          (this.#rc.desiredSize ?? 0) <= 0)
      )
        return;
    }
    this.#paused = false;
    this.#transport.resume();
  }

  #onEnd(): void {
    this.#conn.receiveEof();
    // Answer the FIN with ours; the outcome is decided when the transport closes.
    this.#transport.end();
  }

  #onTransportClose(): void {
    this.#transportClosed = true;
    this.#clearTimers();
    // The core's CLOSED: the transport is gone (a reset may come without an end).
    this.#conn.receiveEof();
    if (this.#conn.closedCleanly) {
      this.#settleClean();
    } else {
      const cause = this.#transportError;
      const message = this.#conn.closeSent
        ? 'The connection closed before the closing handshake completed'
        : cause !== null
          ? `The connection was lost: ${cause.message}`
          : 'The connection closed without a closing handshake';
      this.#settleUnclean(
        createWebSocketError(message, CloseCode.ABNORMAL_CLOSURE, '', cause ?? undefined),
      );
    }
  }

  // ---- sending -----------------------------------------------------------

  #write(chunk: unknown): Promise<void> | undefined {
    const conn = this.#conn;
    if (this.#settled || conn.closeSent) {
      return Promise.reject(invalidState('Cannot write: the closing handshake has started'));
    }
    try {
      const bytes = toBytes(chunk);
      if (bytes === null) conn.sendText(String(chunk));
      else conn.sendBinary(bytes);
    } catch (error) {
      if (error instanceof CoreInvalidStateError)
        return Promise.reject(invalidState(error.message));
      return Promise.reject(error instanceof Error ? error : new TypeError(String(error)));
    }
    const out = conn.takeOutgoing();
    const written = this.#transport.write(out, this.#onWritten, this.#batchWrites);
    if (written === true) {
      // Handed to the operating system already: the write is done.
      this.#syncWriteCallbacks++;
      for (let i = 0; i < out.length; i++) releaseFrame(out[i]!);
      return undefined;
    }
    if (written === 'batched') {
      // In this turn's batch (batchWrites): done; the frames stay the socket's until it leaves.
      this.#syncWriteCallbacks++;
      return undefined;
    }
    // The write failed at once (the transport is closed): the session settled.
    if (this.#settled)
      return Promise.reject(this.#error ?? invalidState('The WebSocket is closed'));
    this.#writeFrames = out;
    return new Promise<void>((resolve, reject) => {
      this.#writeResolve = resolve;
      this.#writeReject = reject;
    });
  }

  /** The transport's callback of every data write, in order. */
  readonly #onWritten = (error?: Error | null): void => {
    if (this.#syncWriteCallbacks > 0) {
      this.#syncWriteCallbacks--;
      if (error === undefined || error === null) return;
    } else if (error === undefined || error === null) {
      const resolve = this.#writeResolve;
      const frames = this.#writeFrames;
      this.#writeResolve = null;
      this.#writeReject = null;
      this.#writeFrames = null;
      if (frames !== null) for (let i = 0; i < frames.length; i++) releaseFrame(frames[i]!);
      resolve?.();
      return;
    }
    // The bytes will never reach the peer: the connection is lost. One
    // error for the write, both streams and `closed` (WebSocketStream: the same object).
    const cause = this.#transportError ?? error;
    this.#settleUnclean(
      createWebSocketError(
        `The connection was lost: ${cause.message}`,
        CloseCode.ABNORMAL_CLOSURE,
        '',
        cause,
      ),
    );
    this.#rejectPendingWrite(this.#error ?? invalidState('The WebSocket is closed'));
  };

  #rejectPendingWrite(error: unknown): void {
    const reject = this.#writeReject;
    this.#writeResolve = null;
    this.#writeReject = null;
    // The transport may still hold these frames: never reuse them.
    this.#writeFrames = null;
    reject?.(error);
  }

  #closeWritable(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.#settled) {
        reject(invalidState('The WebSocket is closed'));
        return;
      }
      this.#closeWaiters.push({ resolve, reject });
      this.close();
    });
  }

  /** abort(reason) and cancel(reason): a WebSocketError's code and reason are used if sendable. */
  #closeFromReason(reason: unknown): void {
    if (reason instanceof WebSocketError && sendableCode(reason.closeCode)) {
      this.close(reason.closeCode!, reason.reason);
    } else {
      this.close();
    }
  }

  #flush(): void {
    const out = this.#conn.takeOutgoing();
    const pongs = this.#pongsQueued;
    this.#pongsQueued = 0;
    if (out.length === 0 || this.#transportClosed) return;
    if (pongs === 0) {
      this.#transport.write(out, noop);
      return;
    }
    this.#pongsPending += pongs;
    this.#transport.write(out, () => {
      this.#pongsPending -= pongs;
    });
  }

  // ---- outcome -----------------------------------------------------------

  #settleClean(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#clearTimers();
    this.#closeReadable();
    for (const w of this.#closeWaiters) w.resolve();
    this.#closeWaiters = [];
    const closedError = invalidState('The WebSocket is closed');
    this.#rejectPendingWrite(closedError);
    this.#wc.error(closedError);
    this.#resolveClosed({
      closeCode: this.#conn.peerCloseCode,
      reason: this.#conn.peerCloseReason,
    });
  }

  #settleUnclean(error: WebSocketError): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#error = error;
    // After the peer's Close, the messages before it stay readable (the readable closes once they are read).
    if (!this.#readableDone && !this.#closeWhenDrained) {
      this.#readableDone = true;
      this.#inbox = [];
      this.#inboxHead = 0;
      this.#rc.error(error);
    }
    this.#wc.error(error);
    this.#rejectPendingWrite(error);
    for (const w of this.#closeWaiters) w.reject(error);
    this.#closeWaiters = [];
    this.#rejectClosed(error);
  }

  // ---- timers ------------------------------------------------------------

  #armCloseTimer(): void {
    if (this.#closeTimer !== undefined || this.#transportClosed) return;
    this.#closeTimer = setTimeout(() => {
      this.#closeTimer = undefined;
      if (!this.#conn.closedCleanly) {
        this.#settleUnclean(
          createWebSocketError(
            `The closing handshake did not complete within ${this.#closeTimeout} ms`,
            CloseCode.ABNORMAL_CLOSURE,
          ),
        );
      }
      this.#transport.destroy();
    }, this.#closeTimeout);
  }

  #armKeepalive(): void {
    if (this.#pingInterval <= 0) return;
    const tick = (): void => {
      this.#pingTimer = undefined;
      if (this.#settled || this.#conn.closeSent) return;
      const read = this.#transport.bytesRead;
      if (this.#bytesAtPing >= 0) {
        // A Ping is outstanding: any byte read since counts as liveness. While we
        // are paused by backpressure nothing can be read, so that is no evidence.
        if (read === this.#bytesAtPing && !this.#paused) {
          this.#settleUnclean(
            createWebSocketError(
              `No data from the peer within ${this.#pingTimeout} ms of a ping`,
              CloseCode.ABNORMAL_CLOSURE,
            ),
          );
          this.#transport.destroy();
          return;
        }
        this.#bytesAtPing = -1;
        this.#pingTimer = setTimeout(tick, Math.max(0, this.#pingInterval - this.#pingTimeout));
        return;
      }
      this.#bytesAtPing = read;
      this.#conn.sendPing();
      this.#flush();
      this.#pingTimer = setTimeout(tick, this.#pingTimeout);
    };
    this.#pingTimer = setTimeout(tick, this.#pingInterval);
  }

  #clearTimers(): void {
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    if (this.#pingTimer !== undefined) clearTimeout(this.#pingTimer);
    this.#pingTimer = undefined;
  }
}
