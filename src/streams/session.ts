/**
 * A live WebSocket connection exposed through WHATWG streams: the core's
 * Connection on one side, a Transport on the other, and the readable,
 * writable and `closed` promise of WebSocketStream in between. Client and
 * server connections are both sessions.
 *
 * The session feeds the core its input and routes the core's events; each
 * job is a part of its own:
 * - {@link ReceiveFlow}: the readable, the inbox, pausing and resuming reads;
 * - {@link Sender}: the writable, single and batched writes, control frames
 *   and the bound on pending Pongs;
 * - {@link CloseOutcome}: `closed`, clean or unclean, and the one WebSocketError;
 * - {@link PingLog}: the last Ping's round trip and the ping/pong diagnostics;
 * - {@link Watchdogs}: the close timer, the keepalive and a peer's violation
 *   held until the messages before it were read and answered.
 */
import { CloseCode } from '../core/close.js';
import type { Connection, ConnectionEvent } from '../core/connection.js';
import { CloseOutcome, type ClosedSink, type SettleHooks } from './close-outcome.js';
import type { ObservedConnection } from './diagnostics.js';
import { countsChunks, guardStrategy } from './message-size-strategy.js';
import { PingLog } from './ping-log.js';
import { nextRead } from './read-plan.js';
import { ReceiveFlow, type ReceiveFlowHooks, type WebSocketMessage } from './receive-flow.js';
import {
  connectionLost,
  DEFAULT_MAX_PENDING_PONGS,
  invalidState,
  Sender,
  type SenderHooks,
} from './sender.js';
import { type SessionOptions } from './session-options.js';
import { DEFAULT_CLOSE_TIMEOUT } from './timers.js';
import { Watchdogs } from './watchdogs.js';
import { readStats, type WebSocketStats } from './statistics.js';
import type { Transport, TransportHandlers } from './transport.js';
import {
  closeInfoOfReason,
  createWebSocketError,
  failureError,
  WebSocketError,
  type WebSocketCloseInfo,
} from './websocket-error.js';

export type { WebSocketMessage } from './receive-flow.js';
export {
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_MAX_PENDING_PONGS,
  readBatchWrites,
  type SessionOptions,
} from './session-options.js';

const EMPTY = new Uint8Array(0);

/**
 * Both streams' strategy unless the options give one: a high-water mark of
 * one message, counted with the runtime's own count function. The streams
 * read it once, when they are made.
 */
const DEFAULT_STRATEGY: QueuingStrategy<unknown> = Object.freeze(
  guardStrategy(new CountQueuingStrategy({ highWaterMark: 1 }), 'strategy', () => {}),
);

export class Session implements SettleHooks, ReceiveFlowHooks, SenderHooks, TransportHandlers {
  readonly #conn: Connection;
  readonly #transport: Transport;
  readonly #isServer: boolean;
  readonly #flow: ReceiveFlow;
  readonly #sender: Sender;
  readonly #outcome: CloseOutcome;
  readonly #closeTimeout: number;
  /** The timers and a held violation, made when the first of them is needed. */
  #watchdogs: Watchdogs | null = null;
  /** The connection is over: no timer is started any more. */
  #over = false;
  readonly #pings = new PingLog(this);
  #transportError: Error | null = null;
  /**
   * The transport's input ended ('end': the peer's FIN; 'close': the
   * transport closed) while the core still held input back (the inflate
   * budget): bytes received before the end, parsed as the readable asks for
   * them, and only then is the end acted on (see {@link #inputEnded}).
   */
  #endHeld: 'end' | 'close' | null = null;
  /**
   * The transport's read count before the first frame: the handshake's head
   * (counted by some transports, not by others) is not WebSocket traffic.
   */
  readonly #readBase: number;

  constructor(
    conn: Connection,
    transport: Transport,
    options: SessionOptions = {},
    initialData?: Uint8Array,
    closed?: ClosedSink,
  ) {
    this.#conn = conn;
    this.#transport = transport;
    this.#isServer = conn.role === 'server';

    // The session itself answers the hooks of the outcome, the flow and the
    // sender (their names do not overlap): no closures, no object per part.
    this.#outcome = new CloseOutcome(this, closed);
    // A user's strategy never throws out of the socket's callbacks: a size()
    // that throws (or returns what the streams refuse) fails this connection
    // with 1011. The default needs no guard, and one object serves every session.
    const readableStrategy =
      options.readableStrategy === undefined || options.readableStrategy === null
        ? DEFAULT_STRATEGY
        : guardStrategy(options.readableStrategy, 'readableStrategy', (cause, message) =>
            this.#failInternal(message, cause),
          );
    const writableStrategy =
      options.writableStrategy === undefined || options.writableStrategy === null
        ? DEFAULT_STRATEGY
        : guardStrategy(options.writableStrategy, 'writableStrategy', (cause, message) =>
            this.#failInternal(message, cause),
          );
    this.#flow = new ReceiveFlow(readableStrategy, countsChunks(readableStrategy), this);
    this.#sender = new Sender(
      conn,
      transport,
      this.#outcome,
      {
        strategy: writableStrategy,
        counting: countsChunks(writableStrategy),
        batchWrites: options.batchWrites !== false,
        maxPendingPongs: options.maxPendingPongs ?? DEFAULT_MAX_PENDING_PONGS,
      },
      this,
    );
    this.#closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    const pingInterval = options.pingInterval ?? 0;

    // Bytes the transport read before this session's first byte, handshake
    // included; `initialData` was read from the socket but may not be counted
    // yet, and neither were bytes the socket read but has not delivered.
    this.#readBase =
      transport.bytesRead - (transport.undelivered ?? 0) - (initialData?.length ?? 0);
    // The session is its transport's handlers object too (TransportHandlers).
    transport.attach(this);
    if (initialData !== undefined && initialData.length > 0) this.onData(initialData);
    if (pingInterval > 0 && !this.#over)
      this.#watch().startKeepalive(pingInterval, options.pingTimeout ?? pingInterval);
  }

  /** The session's watchdogs, made on first use. */
  #watch(): Watchdogs {
    return (this.#watchdogs ??= new Watchdogs({
      conn: this.#conn,
      transport: this.#transport,
      flow: this.#flow,
      sender: this.#sender,
      outcome: this.#outcome,
      pings: this.#pings,
      closeTimeout: this.#closeTimeout,
      handle: (event) => this.#handle(event),
    }));
  }

  /** Starts the close timer (once; never after the connection is over). */
  #armCloseTimer(): void {
    if (!this.#over) this.#watch().armCloseTimer();
  }

  get readable(): ReadableStream<WebSocketMessage> {
    return this.#flow.readable;
  }

  get writable(): WritableStream<unknown> {
    return this.#sender.writable;
  }

  get closed(): Promise<Required<WebSocketCloseInfo>> {
    return this.#outcome.closed;
  }

  /** The core connection (for statistics and tests). */
  get connection(): Connection {
    return this.#conn;
  }

  /** The transport (for statistics and tests). */
  get transport(): Transport {
    return this.#transport;
  }

  /** Names the public connection in diagnostics events (set when it opens). */
  observe(connection: ObservedConnection): void {
    this.#pings.observed = connection;
  }

  /** A snapshot of the connection's counters. */
  stats(): WebSocketStats {
    return readStats(
      this.#conn,
      this.#transport.bytesRead - this.#readBase,
      this.#transport,
      this.#flow,
      this.#sender,
      this.#pings,
    );
  }

  /** The receiving part (counters for statistics). */
  get receiver(): ReceiveFlow {
    return this.#flow;
  }

  /** The sending part (counters for statistics). */
  get sender(): Sender {
    return this.#sender;
  }

  /**
   * Starts the closing handshake with an already validated code and reason
   * (`code` undefined sends a Close with no body). Does nothing if a close is
   * already under way.
   */
  close(code?: number, reason = ''): void {
    if (this.#outcome.settled || this.#conn.closeSent) return;
    // The peer broke the protocol: the application is done, so fail for that now.
    if (this.#watchdogs?.failForViolation() === true) return;
    this.#conn.sendClose(code, reason);
    this.#sender.flush();
    this.#armCloseTimer();
    this.#flow.readOn();
  }

  /** Sends a Ping (payload at most 125 bytes); for heartbeats driven by the application. */
  ping(payload?: Uint8Array): void {
    if (this.#outcome.settled || this.#conn.closeSent)
      throw invalidState('The closing handshake has started');
    this.#conn.sendPing(payload);
    this.#pings.pingSent(payload ?? EMPTY);
    this.#sender.flush();
  }

  /** Drops the connection at once (no closing handshake): the outcome is an unclean close with 1006. */
  terminate(message = 'The connection was terminated'): void {
    if (this.#outcome.settled) return;
    this.#outcome.settleUnclean(createWebSocketError(message, CloseCode.ABNORMAL_CLOSURE));
    this.#transport.destroy();
  }

  // ---- the parts' hooks (internal) -----------------------------------------

  /** @internal SettleHooks: the close was clean. */
  clean(): void {
    this.#stopTimers();
    this.#flow.endWhenDrained();
    this.#sender.closeClean();
  }

  /** @internal SettleHooks: the close was not clean. */
  unclean(error: WebSocketError, writableError: unknown): void {
    this.#flow.error(error);
    this.#sender.closeUnclean(writableError);
    // The transport closed while input was held: nothing will parse it now.
    if (this.#endHeld === 'close') this.#inputEnded();
  }

  /** @internal ReceiveFlowHooks */
  pause(): void {
    this.#transport.pause();
  }

  /** @internal ReceiveFlowHooks: input stays stopped while a violation is held. */
  resume(): void {
    if (this.#watchdogs?.holdingViolation !== true) this.#transport.resume();
  }

  /** @internal ReceiveFlowHooks */
  cancel(reason: unknown): void {
    this.#closeFromReason(reason);
  }

  /** @internal ReceiveFlowHooks */
  receiving(): boolean {
    return this.#conn.receiving;
  }

  /** @internal ReceiveFlowHooks */
  heldInput(): boolean {
    return this.#conn.hasPendingInput;
  }

  /** @internal ReceiveFlowHooks */
  takeHeldInput(): void {
    this.onData(EMPTY);
  }

  /** @internal SenderHooks */
  abort(reason: unknown): void {
    this.#closeFromReason(reason);
  }

  /** @internal SenderHooks: the transport failed while a write was pending. */
  lost(error: Error): void {
    const cause = this.#transportError ?? error;
    if (this.#conn.closeReceived) this.#unwrittenAtClose(cause);
    else this.#outcome.settleUnclean(connectionLost(cause));
  }

  /** @internal SenderHooks: a write completed. */
  written(): void {
    this.#watchdogs?.checkViolation();
  }

  // ---- input (TransportHandlers) -----------------------------------------

  /** TransportHandlers: bytes arrived. */
  onData(chunk: Uint8Array): void {
    this.#conn.receiveData(chunk);
    this.#afterInput();
  }

  /** TransportHandlers: where the next read goes (see read-plan.ts). */
  nextRead(): Uint8Array | number {
    return nextRead(this.#conn);
  }

  /** TransportHandlers: `n` bytes were read into the buffer nextRead() returned. */
  inPlace(n: number): void {
    this.#conn.receiveInPlace(n);
    this.#afterInput();
  }

  /** TransportHandlers: the transport's error, reported as the cause when it closes. */
  onError(error: Error): void {
    this.#transportError ??= error;
  }

  #afterInput(): void {
    const conn = this.#conn;
    for (;;) {
      const events = conn.takeEvents();
      for (let i = 0; i < events.length; i++) this.#handle(events[i]!);
      // Input the core held back once a read inflated to more than its budget:
      // parsed at once when messages are discarded anyway or we read on to find
      // the peer's Close; otherwise when the readable asks again (ReceiveFlow.resume).
      if (!conn.hasPendingInput || !this.#flow.readsOn) break;
      conn.receiveData(EMPTY);
    }
    if (conn.hasOutgoing) this.#sender.flush();
    this.#flow.afterInput();
    // Neither reading nor inflating goes on until the readable asks.
    if (conn.hasPendingInput) this.#flow.holdInput();
    else if (this.#endHeld !== null) this.#inputEnded();
  }

  #handle(event: ConnectionEvent): void {
    switch (event.type) {
      case 'text':
      case 'binary':
        this.#flow.push(event.data);
        return;
      case 'ping':
        this.#pings.pingReceived(event.data);
        if (this.#conn.closeSent) return;
        this.#pings.pongSent(event.data);
        // The core queued a Pong; past the bound the sender fails the connection.
        if (!this.#sender.acceptPing()) {
          for (const e of this.#conn.takeEvents()) this.#handle(e);
        }
        return;
      case 'pong':
        this.#pings.pongReceived(event.data);
        return;
      case 'close':
        // The peer's Close: no more messages will come. Queued messages stay readable.
        this.#flow.endWhenDrained();
        // Our messages already handed to the transport go out ahead of our
        // Close; whether they all left is decided when the connection ends.
        this.#sender.flush();
        if (this.#isServer) {
          // RFC 6455 7.1.1: "the server SHOULD close [the TCP connection] first".
          this.#transport.end();
        }
        this.#armCloseTimer();
        this.#flow.resume();
        return;
      case 'violation':
        // Held while the messages before it are read and answered.
        if (!this.#outcome.settled) this.#watch().holdViolation(event.error);
        return;
      case 'fail':
        this.#failed(failureError(event.error));
        return;
    }
  }

  /** RFC 6455 7.1.7: send the Close (queued by the core), then close the connection. */
  #failed(error: WebSocketError): void {
    this.#sender.flush();
    this.#outcome.settleUnclean(error);
    this.#transport.end();
    this.#armCloseTimer();
    this.#flow.resume();
    // A held violation paused the transport itself, not through the flow:
    // read again, so the peer's Close and FIN end the connection now rather
    // than at the close timeout.
    if (!this.#flow.paused) this.#transport.resume();
  }

  /** TransportHandlers: the peer's FIN. */
  onEnd(): void {
    // Input received before the FIN and held back is the peer's too (its
    // messages, its Close): the FIN counts once that input is parsed.
    if (this.#holdsInput()) {
      this.#endHeld ??= 'end';
      return;
    }
    this.#conn.receiveEof();
    // Answer the FIN with ours; the outcome is decided when the transport closes.
    this.#transport.end();
  }

  /** TransportHandlers: the transport is closed. */
  onClose(): void {
    if (this.#holdsInput()) {
      // Nothing can be written any more; what was received is still delivered.
      this.#sender.transportClosed();
      this.#endHeld = 'close';
      return;
    }
    // The core's input is over too: the transport is gone (a reset may come without an end).
    this.#conn.receiveEof();
    this.#flow.inputClosed();
    this.#sender.transportClosed();
    this.#stopTimers();
    if (this.#conn.closeReceived && this.#sender.unwritten) {
      this.#unwrittenAtClose(this.#transportError ?? undefined);
    }
    this.#outcome.transportClosed(this.#conn, this.#transportError);
  }

  /**
   * The connection ended after the peer's Close while one of our messages
   * was not completely handed to the operating system: as in Chrome, whose
   * WebSocketStream looks at its pending write when the connection is over,
   * the close is not clean, with the peer's code and reason.
   */
  #unwrittenAtClose(cause?: Error): void {
    this.#outcome.unwrittenAtClose(this.#conn.peerCloseCode, this.#conn.peerCloseReason, cause);
  }

  /** Whether the core holds input back that the connection's outcome may still depend on. */
  #holdsInput(): boolean {
    return this.#conn.hasPendingInput && !this.#outcome.settled;
  }

  /** The input held when the transport's input ended is parsed (or never will be): the end counts now. */
  #inputEnded(): void {
    const ended = this.#endHeld;
    this.#endHeld = null;
    if (ended === 'end') this.onEnd();
    else if (ended === 'close') this.onClose();
  }

  /**
   * An application's function (a queuing strategy's size()) threw: fail the
   * connection with 1011 (Internal Error), with that error as the cause.
   * Called from inside the streams; never throws.
   */
  #failInternal(detail: string, cause: unknown): void {
    if (this.#outcome.settled) return;
    const message = `The application's queuing strategy failed: ${detail}`;
    const fail = (): void => {
      if (this.#outcome.settled) return;
      // Queues a Close with 1011 unless one was sent; its 'fail' event is this one.
      this.#conn.fail(CloseCode.INTERNAL_ERROR, message);
      this.#conn.takeEvents();
      this.#failed(createWebSocketError(message, CloseCode.INTERNAL_ERROR, '', cause));
    };
    if (this.#flow.delivering) {
      // The readable's size() runs inside the flow's enqueue(): stop
      // delivering, and fail once that call has returned.
      this.#flow.halt();
      queueMicrotask(fail);
    } else {
      fail();
    }
  }

  /** abort(reason) and cancel(reason): a WebSocketError's code and reason are used if sendable. */
  #closeFromReason(reason: unknown): void {
    const { closeCode, reason: text } = closeInfoOfReason(reason);
    this.close(closeCode, text);
  }

  #stopTimers(): void {
    this.#over = true;
    this.#watchdogs?.stop();
  }
}
