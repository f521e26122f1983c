/**
 * How a session ended: the `closed` promise, settled once, either cleanly
 * with the peer's `{closeCode, reason}` or uncleanly with the one
 * WebSocketError that also errors the streams (WebSocketStream: the same
 * object everywhere). The outcome decides, the parts it was given carry it
 * out ({@link SettleHooks}).
 */
import { CloseCode } from '../core/close.js';
import {
  createWebSocketError,
  type WebSocketCloseInfo,
  type WebSocketError,
} from './websocket-error.js';

const noop = (): void => {};

/**
 * Where the outcome goes once decided: the `closed` promise the application
 * holds. A connection's lifecycle is one (its `closed` is the outcome's, with
 * no promise in between); a session on its own makes a {@link ClosedPromise}.
 */
export interface ClosedSink {
  readonly closed: Promise<Required<WebSocketCloseInfo>>;
  /** A clean close (called once, after the parts ended their streams). */
  resolveClosed(info: Required<WebSocketCloseInfo>): void;
  /** An unclean close (called once, after the parts errored their streams). */
  rejectClosed(error: WebSocketError): void;
}

/** A `closed` promise of its own, marked handled once it rejects (the application need not watch it). */
export class ClosedPromise implements ClosedSink {
  readonly closed: Promise<Required<WebSocketCloseInfo>>;
  #resolve!: (info: Required<WebSocketCloseInfo>) => void;
  #reject!: (error: WebSocketError) => void;

  constructor() {
    this.closed = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  resolveClosed(info: Required<WebSocketCloseInfo>): void {
    this.#resolve(info);
    this.#release();
  }

  rejectClosed(error: WebSocketError): void {
    this.closed.catch(noop);
    this.#reject(error);
    this.#release();
  }

  // A settled promise's resolving functions are of no more use.
  #release(): void {
    this.#resolve = noop;
    this.#reject = noop;
  }
}

/** What the parts of a session do when the outcome is settled (called once, before `closed` settles). */
export interface SettleHooks {
  /** A clean close: the streams end. */
  clean(): void;
  /**
   * An unclean close: `error` errors the readable and rejects `closed`;
   * `writableError` (usually `error` itself) errors the writable and rejects
   * a pending write.
   */
  unclean(error: WebSocketError, writableError: unknown): void;
}

/** The facts about the connection an outcome is decided from when the transport closes. */
export interface ClosingState {
  /** Both Close frames were exchanged without a failure. */
  closedCleanly: boolean;
  /** We sent a Close frame. */
  closeSent: boolean;
  /** The peer's close code (1005 for a Close without a body) and reason. */
  peerCloseCode: number;
  peerCloseReason: string;
}

export class CloseOutcome {
  readonly #hooks: SettleHooks;
  readonly #sink: ClosedSink;
  #settled = false;
  #error: WebSocketError | null = null;

  constructor(hooks: SettleHooks, sink: ClosedSink = new ClosedPromise()) {
    this.#hooks = hooks;
    this.#sink = sink;
  }

  /** The `closed` promise this outcome settles. */
  get closed(): Promise<Required<WebSocketCloseInfo>> {
    return this.#sink.closed;
  }

  /** Whether `closed` has settled. */
  get settled(): boolean {
    return this.#settled;
  }

  /** The error of an unclean close (null while open or after a clean one). */
  get error(): WebSocketError | null {
    return this.#error;
  }

  /** A clean close with the peer's code and reason. Does nothing once settled. */
  settleClean(info: Required<WebSocketCloseInfo>): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#hooks.clean();
    this.#sink.resolveClosed(info);
  }

  /** An unclean close with `error` (the writable's error too, unless given). Does nothing once settled. */
  settleUnclean(error: WebSocketError, writableError: unknown = error): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#error = error;
    this.#hooks.unclean(error, writableError);
    this.#sink.rejectClosed(error);
  }

  /**
   * The transport closed: clean if the closing handshake completed, else an
   * unclean close with 1006 and a message saying what was missing.
   */
  transportClosed(state: ClosingState, cause: Error | null): void {
    if (this.#settled) return;
    if (state.closedCleanly) {
      this.settleClean({ closeCode: state.peerCloseCode, reason: state.peerCloseReason });
      return;
    }
    const message = state.closeSent
      ? 'The connection closed before the closing handshake completed'
      : cause !== null
        ? `The connection was lost: ${cause.message}`
        : 'The connection closed without a closing handshake';
    this.settleUnclean(
      createWebSocketError(message, CloseCode.ABNORMAL_CLOSURE, '', cause ?? undefined),
    );
  }

  /**
   * The closing handshake ended while one of our messages had not been
   * completely handed to the operating system. As Chrome does, that close is
   * not clean: `closed` rejects with a WebSocketError carrying the peer's
   * code and reason, and the writable errors with an InvalidStateError (the
   * pending write and every later one reject with that same object).
   */
  unwrittenAtClose(peerCloseCode: number, peerCloseReason: string, cause?: Error): void {
    this.settleUnclean(
      createWebSocketError(
        'The connection closed while a message was still being sent',
        peerCloseCode,
        peerCloseReason,
        cause,
      ),
      new DOMException(
        'The connection closed while this message was still being sent',
        'InvalidStateError',
      ),
    );
  }
}
