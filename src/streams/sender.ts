/**
 * The sending half of a session: the writable stream, its writes (one at a
 * time, or joined to the turn's batch with `batchWrites`), the control frames
 * the core queues (Pongs, Close), and the bound on Pongs a peer that does not
 * read can make us hold.
 *
 * Backpressure: a write's promise settles in the transport's write callback,
 * once its bytes were handed to the operating system (or once they joined a
 * bounded batch that is about to be). Pong and Close frames bypass the
 * writable's queue and go straight to the transport.
 */
import { CloseCode } from '../core/close.js';
import { type Connection, InvalidStateError as CoreInvalidStateError } from '../core/connection.js';
import { releaseFrame } from '../core/frame.js';
import { toBytes } from './bytes.js';
import type { CloseOutcome } from './close-outcome.js';
import { offerDirectWrites, type DirectPipe } from './direct-pipe.js';
import type { Transport } from './transport.js';
import { createWebSocketError } from './websocket-error.js';

/** Default of {@link SenderOptions.maxPendingPongs}: 60 (as ws's `maxPendingAutoPongs`). */
export const DEFAULT_MAX_PENDING_PONGS = 60;

const noop = (): void => {};

/** An InvalidStateError DOMException (the writable's error once the closing handshake started). */
export function invalidState(message: string): DOMException {
  return new DOMException(message, 'InvalidStateError');
}

/** Whether the runtime lets {@link closedError} skip the stack trace (V8's and JSC's `Error.stackTraceLimit`). */
const stackLimitWritable =
  Object.getOwnPropertyDescriptor(Error, 'stackTraceLimit')?.writable === true;

/**
 * The writable's InvalidStateError at a clean close, made without a stack
 * trace: it is made in an I/O callback, where the stack names only the
 * runtime's internals, and capturing it cost more than the rest of the
 * close (7 of 8 µs on Node 20). `stack` is still "InvalidStateError: message".
 */
function closedError(): DOMException {
  let error: DOMException;
  if (!stackLimitWritable) error = invalidState('The WebSocket is closed');
  else {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      error = invalidState('The WebSocket is closed');
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
  Object.defineProperty(error, CLEAN_CLOSE, { value: true });
  return error;
}

/**
 * Marks the writables' errors of clean closes (see {@link isCleanCloseError}):
 * a property of the error, not a WeakSet entry, which V8's garbage collector
 * would revisit in every collection while the error lives.
 */
const CLEAN_CLOSE = Symbol('wsstream.cleanClose');
/**
 * Whether `error` is the error a clean close gave a writable: the closing
 * handshake completed and every message written went out. Not the
 * InvalidStateError of a close that cut a message short.
 */
export function isCleanCloseError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && Object.hasOwn(error, CLEAN_CLOSE);
}

/** Options of a {@link Sender}. */
export interface SenderOptions {
  strategy: QueuingStrategy<unknown>;
  /** Whether `strategy` counts messages (no size() of the application's). */
  counting: boolean;
  batchWrites: boolean;
  maxPendingPongs: number;
}

/** What the sender asks of the session around it. */
export interface SenderHooks {
  /** writable.close(): start the closing handshake with no code. */
  close(): void;
  /** writable.abort(reason): start the closing handshake from `reason`. */
  abort(reason: unknown): void;
  /** The transport reported a write that can never complete (`cause`): the connection is lost. */
  lost(cause: Error): void;
  /** A pending write completed (its promise resolved). */
  written(): void;
}

export class Sender {
  readonly writable: WritableStream<unknown>;
  readonly #conn: Connection;
  readonly #transport: Transport;
  readonly #outcome: CloseOutcome;
  readonly #hooks: SenderHooks;
  readonly #batchWrites: boolean;
  readonly #maxPendingPongs: number;
  #controller!: WritableStreamDefaultController;
  /**
   * The writable's high-water mark when its strategy counts messages (the
   * default), which lets a direct pipe write to this sender; null otherwise.
   */
  readonly #directHighWaterMark: number | null;
  /** The direct pipe writing to this sender, while there is one. */
  #pipe: DirectPipe | null = null;
  /** Number of a direct pipe's write not yet handed to the operating system (0: none). */
  #directPending = 0;
  /** The frames of that write, handed back to the encoder once written. */
  #directFrames: Uint8Array[] | null = null;

  /** Automatic Pongs queued by the core and not yet handed to the transport. */
  #pongsQueued = 0;
  /** Automatic Pongs handed to the transport whose write has not completed. */
  #pongsPending = 0;
  #transportClosed = false;

  // The transport calls back once per data write, in order: #writesIssued and
  // #writesConfirmed number them, so the callback of a write that was already
  // resolved is told apart from that of the write still pending.
  #writesIssued = 0;
  #writesConfirmed = 0;
  /** Number of the last write that was not handed to the operating system when issued. */
  #lastUnconfirmed = 0;
  /**
   * Number of the write whose promise is pending (0: none). The writable
   * calls its sink's write() only after the previous one settled, so there
   * is at most one.
   */
  #pendingWrite = 0;
  #resolvePending: (() => void) | null = null;
  #rejectPending: ((error: unknown) => void) | null = null;
  /** The frames of that write, handed back to the encoder once written. */
  #pendingFrames: Uint8Array[] | null = null;
  /** Whether the writable's abort signal is watched (from the first write left pending). */
  #watchingAbort = false;
  /** The writable's close() calls waiting for the closing handshake (the array is made at the first). */
  #closeWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> | null = null;

  /** Bytes of frames handed to the transport (messages are counted by the core). */
  #bytesWritten = 0;

  constructor(
    conn: Connection,
    transport: Transport,
    outcome: CloseOutcome,
    options: SenderOptions,
    hooks: SenderHooks,
  ) {
    this.#conn = conn;
    this.#transport = transport;
    this.#outcome = outcome;
    this.#hooks = hooks;
    this.#batchWrites = options.batchWrites;
    this.#maxPendingPongs = options.maxPendingPongs;
    // The sender is the writable's underlying sink itself (start, write,
    // close, abort below): no sink object and no closures per connection.
    this.writable = new WritableStream<unknown>(this, options.strategy);
    this.#directHighWaterMark = options.counting ? (options.strategy.highWaterMark ?? 1) : null;
    if (this.#directHighWaterMark !== null) offerDirectWrites(this.writable, this);
  }

  /** @internal The writable's underlying sink: keeps its controller. */
  start(controller: WritableStreamDefaultController): void {
    this.#controller = controller;
  }

  /** @internal The writable's underlying sink: sends one message. */
  write(chunk: unknown): Promise<void> | undefined {
    return this.#write(chunk);
  }

  /** @internal The writable's underlying sink: writable.close() starts the closing handshake. */
  close(): Promise<void> {
    return this.#closeWritable();
  }

  /** @internal The writable's underlying sink: writable.abort(reason). */
  abort(reason: unknown): void {
    this.#hooks.abort(reason);
  }

  /** Bytes of frames handed to the transport. */
  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  /** Data messages sent so far: the core's count, the one place they are counted. */
  get messagesSent(): number {
    return this.#conn.messagesSent;
  }

  /** Automatic Pongs handed to the transport whose write has not completed. */
  get pongsPending(): number {
    return this.#pongsPending;
  }

  /** Whether the sink's write() is waiting for the transport (the writable sends nothing else meanwhile). */
  get writing(): boolean {
    return this.#pendingWrite !== 0 || this.#directPending !== 0;
  }

  /**
   * Whether one of our messages has not been completely handed to the
   * operating system (a write pending, or a batch the kernel has not taken yet).
   */
  get unwritten(): boolean {
    return this.#writesConfirmed < this.#lastUnconfirmed;
  }

  /**
   * Whether a direct pipe may write to this sender now, through `writer`
   * (the pipe's lock): the writable is writable with nothing queued or in
   * flight, its high-water mark lets a pipe write at all, and no close has
   * started.
   */
  acceptsPipe(writer: WritableStreamDefaultWriter<unknown>): boolean {
    const highWaterMark = this.#directHighWaterMark;
    return (
      highWaterMark !== null &&
      highWaterMark >= 1 &&
      writer.desiredSize === highWaterMark &&
      this.#pendingWrite === 0 &&
      this.#directPending === 0 &&
      this.#closeWaiters === null &&
      !this.#transportClosed &&
      !this.#outcome.settled &&
      !this.#conn.closeSent
    );
  }

  /** A direct pipe writes to this sender from now on (until {@link endPipe}). */
  startPipe(pipe: DirectPipe): void {
    this.#pipe = pipe;
  }

  /** The direct pipe handed over to the streams' own pipe. */
  endPipe(): void {
    this.#pipe = null;
  }

  /**
   * Whether a direct pipe may send the next message: the previous one was
   * handed to the operating system (or joined the turn's batch), as the
   * writable's pipe would wait for its write with the default high-water mark.
   */
  get directRoom(): boolean {
    return this.#directPending === 0;
  }

  /**
   * Sends a message for the direct pipe, as the writable's write() would.
   * Returns false, having handed the pipe over, when it was not sent: the
   * closing handshake started, the connection is over, or the core refused
   * it (the streams' pipe then meets the same refusal as a write).
   */
  sendDirect(message: string | Uint8Array): boolean {
    const conn = this.#conn;
    if (this.#outcome.settled || conn.closeSent || this.#transportClosed) {
      this.#pipe?.handOver();
      return false;
    }
    try {
      if (typeof message === 'string') conn.sendText(message);
      else conn.sendBinary(message);
    } catch {
      this.#pipe?.handOver();
      return false;
    }
    const out = conn.takeOutgoing();
    const number = this.#issueWrite(out);
    if (number !== 0 && !this.#outcome.settled) {
      this.#directPending = number;
      this.#directFrames = out;
    }
    return true;
  }

  /**
   * The core queued a Pong for a Ping. Returns false, and fails the
   * connection with 1008, when `maxPendingPongs` earlier Pongs are still
   * stuck in the write queue: the peer is not reading them, and the queue
   * must not grow without bound.
   */
  acceptPing(): boolean {
    if (this.#pongsPending >= this.#maxPendingPongs) {
      this.#conn.fail(
        CloseCode.POLICY_VIOLATION,
        `More than ${this.#maxPendingPongs} pongs pending: the peer sends pings but does not read`,
      );
      return false;
    }
    this.#pongsQueued++;
    return true;
  }

  /** Hands the frames the core queued (Pongs, Pings, Close) to the transport. */
  flush(): void {
    const out = this.#conn.takeOutgoing();
    const pongs = this.#pongsQueued;
    this.#pongsQueued = 0;
    if (out.length === 0 || this.#transportClosed) return;
    for (let i = 0; i < out.length; i++) this.#bytesWritten += out[i]!.length;
    if (pongs === 0) {
      this.#transport.write(out, noop);
      return;
    }
    this.#pongsPending += pongs;
    this.#transport.write(out, () => {
      this.#pongsPending -= pongs;
    });
  }

  /** The transport closed: frames the core queues from now on are dropped. */
  transportClosed(): void {
    this.#pipe?.handOver();
    this.#transportClosed = true;
  }

  /** A clean close: writable.close() fulfils, the writable and a pending write fail with InvalidStateError. */
  closeClean(): void {
    this.#pipe?.handOver();
    const waiters = this.#closeWaiters;
    this.#closeWaiters = null;
    for (const waiter of waiters ?? []) waiter.resolve();
    const error = closedError();
    this.#rejectPendingWrite(error);
    this.#controller.error(error);
  }

  /** An unclean close: `error` errors the writable and rejects a pending write and writable.close(). */
  closeUnclean(error: unknown): void {
    this.#pipe?.handOver();
    this.#controller.error(error);
    this.#rejectPendingWrite(error);
    const waiters = this.#closeWaiters;
    this.#closeWaiters = null;
    for (const waiter of waiters ?? []) waiter.reject(error);
  }

  #write(chunk: unknown): Promise<void> | undefined {
    const conn = this.#conn;
    if (this.#outcome.settled || conn.closeSent) {
      return Promise.reject(invalidState('Cannot write: the closing handshake has started'));
    }
    try {
      const bytes = toBytes(chunk);
      // ToString, as WebIDL converts a USVString: a Symbol throws TypeError.
      if (bytes === null) conn.sendText(`${chunk as string}`);
      else conn.sendBinary(bytes);
    } catch (error) {
      if (error instanceof CoreInvalidStateError)
        return Promise.reject(invalidState(error.message));
      // What the conversion threw, as thrown (a toString() may throw anything).
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      return Promise.reject(error);
    }
    const out = conn.takeOutgoing();
    const number = this.#issueWrite(out);
    if (number === 0) return undefined;
    // The write failed at once (the transport is closed): the session settled.
    if (this.#outcome.settled)
      return Promise.reject(this.#outcome.error ?? invalidState('The WebSocket is closed'));
    this.#pendingWrite = number;
    this.#pendingFrames = out;
    if (!this.#watchingAbort) this.#watchAbort();
    return new Promise<void>((resolve, reject) => {
      this.#resolvePending = resolve;
      this.#rejectPending = reject;
    });
  }

  /**
   * Hands the frames of one message to the transport, numbered in order.
   * Returns 0 when the write is done: handed to the operating system (the
   * frames are free again) or in this turn's batch (batchWrites; the frames
   * stay the socket's until it leaves). Otherwise returns the write's number,
   * pending until {@link #onWritten} confirms it (or failed at once, the
   * transport being closed); the caller keeps `out` until then.
   */
  #issueWrite(out: Uint8Array[]): number {
    for (let i = 0; i < out.length; i++) this.#bytesWritten += out[i]!.length;
    const number = ++this.#writesIssued;
    const written = this.#transport.write(out, this.#onWritten, this.#batchWrites);
    if (written === true) {
      for (let i = 0; i < out.length; i++) releaseFrame(out[i]!);
      return 0;
    }
    this.#lastUnconfirmed = number;
    return written === 'batched' ? 0 : number;
  }

  /** The transport's callback of every data write, in order. */
  readonly #onWritten = (error?: Error | null): void => {
    const number = ++this.#writesConfirmed;
    if ((error === undefined || error === null) && this.#transport.cutShort !== true) {
      if (number === this.#directPending) {
        const frames = this.#directFrames!;
        this.#directPending = 0;
        this.#directFrames = null;
        for (let i = 0; i < frames.length; i++) releaseFrame(frames[i]!);
        this.#pipe?.drained();
        this.#hooks.written();
        return;
      }
      if (number !== this.#pendingWrite) return;
      const resolve = this.#resolvePending;
      const frames = this.#pendingFrames;
      this.#pendingWrite = 0;
      this.#resolvePending = null;
      this.#rejectPending = null;
      this.#pendingFrames = null;
      if (frames !== null) for (let i = 0; i < frames.length; i++) releaseFrame(frames[i]!);
      resolve?.();
      this.#hooks.written();
      return;
    }
    this.#directPending = 0;
    this.#directFrames = null;
    // The bytes will never reach the peer: the connection is lost. One
    // error for the write, both streams and `closed` (WebSocketStream: the same object).
    this.#hooks.lost(error ?? cutShortError());
    this.#rejectPendingWrite(this.#outcome.error ?? invalidState('The WebSocket is closed'));
  };

  /**
   * The writable calls its sink's abort() only once the write in flight
   * settled, and ours waits for the operating system to take its frames: a
   * peer that stops reading would hold writable.abort() (and the closing
   * handshake it starts) for as long as the connection lives. So the
   * controller's signal, which the writable aborts at once, is watched from
   * the first write left pending (the sender is the listener: no closure).
   */
  #watchAbort(): void {
    this.#watchingAbort = true;
    this.#controller.signal?.addEventListener('abort', this);
  }

  /**
   * @internal The writable's abort signal: with a write in flight, the
   * closing handshake starts now from the abort's reason (the Close goes
   * after the frames the socket holds, and the close timeout runs), and the
   * write rejects with the reason, so that the writable goes on to its
   * sink's abort() (which then finds the close started) and abort() settles.
   */
  handleEvent(): void {
    if (this.#pendingWrite === 0) return;
    const reason: unknown = this.#controller.signal.reason;
    this.#hooks.abort(reason);
    this.#rejectPendingWrite(reason);
  }

  #rejectPendingWrite(error: unknown): void {
    const reject = this.#rejectPending;
    this.#pendingWrite = 0;
    this.#resolvePending = null;
    this.#rejectPending = null;
    // The transport may still hold these frames: never reuse them.
    this.#pendingFrames = null;
    reject?.(error);
  }

  #closeWritable(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.#outcome.settled) {
        reject(invalidState('The WebSocket is closed'));
        return;
      }
      (this.#closeWaiters ??= []).push({ resolve, reject });
      this.#hooks.close();
    });
  }
}

/** A write whose transport ended before its bytes were handed to the operating system. */
function cutShortError(): Error {
  return new Error('The connection ended before the write was handed to the operating system');
}

/** The error of a connection lost under a write: 1006 with the transport's cause. */
export function connectionLost(cause: Error): ReturnType<typeof createWebSocketError> {
  return createWebSocketError(
    `The connection was lost: ${cause.message}`,
    CloseCode.ABNORMAL_CLOSURE,
    '',
    cause,
  );
}
