/**
 * The connection state machine of RFC 6455, sans I/O: bytes in, events and
 * bytes out. It keeps the one {@link ConnectionState}, answers Pings, echoes
 * Close and fails the connection; the {@link MessageAssembler} (frames in,
 * messages out) and the {@link FrameWriter} (messages in, frames out) do the
 * per-frame work. The transport decides when to read, deliver and close.
 *
 *   receiveData(bytes) / receiveEof()
 *   payloadTarget(min) / receiveInPlace(n)   (input written straight into a message)
 *   sendText / sendBinary / sendPing / sendPong / sendClose / fail
 *   takeEvents() / takeOutgoing()
 */
import {
  CloseCode,
  encodeClosePayload,
  isValidWireCloseCode,
  MAX_CLOSE_REASON_BYTES,
  parseClosePayload,
  utf8Length,
} from './close.js';
import {
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_INFLATE_PER_READ,
  DEFAULT_MAX_MESSAGE_SIZE,
  type ConnectionOptions,
} from './connection-options.js';
import {
  canSendIn,
  closeSentIn,
  ConnectionFailure,
  InvalidStateError,
  isReceiving,
  liveState,
  peerCloseOf,
  readyStateOf,
  type ConnectionEvent,
  type ConnectionState,
  type PeerClose,
  type ReadyState,
  type Role,
} from './connection-state.js';
import { ProtocolError } from './errors.js';
import type { MessageTransform } from './extensions/extension.js';
import { MAX_CONTROL_PAYLOAD, Opcode } from './frame.js';
import { FrameWriter } from './frame-writer.js';
import { MessageAssembler, type AssemblerHooks } from './message-assembler.js';

export {
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_INFLATE_PER_READ,
  DEFAULT_MAX_MESSAGE_SIZE,
  type ConnectionOptions,
} from './connection-options.js';
export {
  ConnectionFailure,
  InvalidStateError,
  type ConnectionEvent,
  type ConnectionState,
  type LiveState,
  type PeerClose,
  type ReadyState,
  type Role,
} from './connection-state.js';

const ACTIVE: ConnectionState = { kind: 'active' };
const CLOSED_BY_US: ConnectionState = { kind: 'closedByUs' };
const EMPTY = new Uint8Array(0);

/** One WebSocket connection's protocol state, after the opening handshake. */
export class Connection {
  readonly role: Role;
  readonly maxMessageSize: number;
  readonly maxFragments: number;
  readonly #autoPong: boolean;
  readonly #extension: MessageTransform | null;
  readonly #assembler: MessageAssembler;
  readonly #writer: FrameWriter;

  #state: ConnectionState = ACTIVE;
  #events: ConnectionEvent[] = [];

  constructor(options: ConnectionOptions) {
    this.role = options.role;
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.maxFragments = options.maxFragments ?? DEFAULT_MAX_FRAGMENTS;
    this.#autoPong = options.autoPong ?? true;
    this.#extension = options.extension ?? null;
    if (!(this.maxMessageSize >= 0))
      throw new RangeError('maxMessageSize must be a non-negative number');
    if (!(this.maxFragments >= 1)) throw new RangeError('maxFragments must be at least 1');
    this.#writer = new FrameWriter({
      masked: options.role === 'client',
      maskKeys: options.maskKeys,
      fragmentSize: options.fragmentSize ?? 0,
      extension: this.#extension,
    });
    // Created once per connection, never per message.
    this.#assembler = new MessageAssembler(
      {
        expectMasked: options.role === 'server',
        maxMessageSize: this.maxMessageSize,
        maxFragments: this.maxFragments,
        maxInflatePerRead: options.maxInflatePerRead ?? DEFAULT_MAX_INFLATE_PER_READ,
        extension: this.#extension,
      },
      new Connection.#AssemblerSink(this),
    );
  }

  /**
   * The assembler's hooks: one small object per connection whose methods
   * reach the connection's private state (it is declared inside the class),
   * instead of three closures and their context.
   */
  static readonly #AssemblerSink = class implements AssemblerHooks {
    readonly #conn: Connection;

    constructor(conn: Connection) {
      this.#conn = conn;
    }

    message(event: ConnectionEvent): void {
      this.#conn.#events.push(event);
    }

    control(opcode: number, payload: Uint8Array): boolean {
      return this.#conn.#receiveControl(opcode, payload);
    }

    violation(error: ProtocolError): void {
      this.#conn.#violate(error);
    }
  };

  /** The current state. */
  get state(): ConnectionState {
    return this.#state;
  }
  /** The state in the standard's words (see {@link ReadyState}). */
  get readyState(): ReadyState {
    return readyStateOf(this.#state);
  }
  /** Whether we sent a Close frame (or queued one in the outgoing bytes). */
  get closeSent(): boolean {
    return closeSentIn(liveState(this.#state));
  }
  /** Whether the peer's Close frame arrived. */
  get closeReceived(): boolean {
    return peerCloseOf(liveState(this.#state)) !== null;
  }
  /** Whether both Close frames were exchanged without a failure (a clean close, RFC 6455 7.1.4). */
  get closedCleanly(): boolean {
    return liveState(this.#state).kind === 'acknowledged';
  }
  /** The failure that closed the connection, if any. */
  get failure(): ProtocolError | ConnectionFailure | null {
    const state = liveState(this.#state);
    return state.kind === 'failed' ? state.error : null;
  }
  /** The code of the peer's Close frame: 1005 if it had no body, 1006 if none arrived. */
  get peerCloseCode(): number {
    return peerCloseOf(liveState(this.#state))?.code ?? CloseCode.ABNORMAL_CLOSURE;
  }
  /** The reason of the peer's Close frame. */
  get peerCloseReason(): string {
    return peerCloseOf(liveState(this.#state))?.reason ?? '';
  }
  /** Whether input is still wanted: false once the peer's Close arrived or the connection failed. */
  get receiving(): boolean {
    return isReceiving(this.#state);
  }
  /**
   * Whether frames may still be queued: while `active`, and after a violation
   * until our Close (replies to what arrived before it).
   */
  get canSend(): boolean {
    return canSendIn(this.#state);
  }
  /** The extension in force, as agreed in the handshake ('' if none). */
  get extensions(): string {
    return this.#extension?.header ?? '';
  }

  /** Data messages received whole so far. */
  get messagesReceived(): number {
    return this.#assembler.messagesReceived;
  }
  /** Payload bytes of the data messages received whole so far. */
  get bytesReceived(): number {
    return this.#assembler.bytesReceived;
  }
  /** Data messages queued for sending so far. */
  get messagesSent(): number {
    return this.#writer.messagesSent;
  }
  /** Payload bytes of the data messages queued for sending so far (text as UTF-8). */
  get bytesSent(): number {
    return this.#writer.bytesSent;
  }
  /** Bytes held for the message being assembled. */
  get bufferedMessageBytes(): number {
    return this.#assembler.bufferedMessageBytes;
  }
  /** Payload length of the last data frame whose header was read (0 before the first). */
  get lastDataFrameLength(): number {
    return this.#assembler.lastDataFrameLength;
  }

  // ---- input -------------------------------------------------------------

  /**
   * Feeds bytes from the transport. They are copied out as needed; `data` may
   * be reused afterwards. With an extension, parsing may stop early once the
   * input decoded to more than `maxInflatePerRead` bytes: the rest is kept
   * ({@link hasPendingInput}) and parsed first by the next call, which may
   * pass an empty array.
   */
  receiveData(data: Uint8Array): void {
    if (this.receiving) this.#assembler.receive(data);
  }

  /** Whether input held back by the inflate budget waits for the next {@link receiveData} call. */
  get hasPendingInput(): boolean {
    return this.#assembler.hasPendingInput && this.receiving;
  }

  /**
   * Where the transport may write the next input itself, sparing the copy
   * that {@link receiveData} makes: the part of the message buffer that the
   * rest of the current data frame's payload belongs in, when at least `min`
   * bytes of it are still to come. null when the next bytes must go through
   * receiveData (a frame header or a control frame comes next, or input is
   * not wanted). After writing n bytes (n at most its length) at its start,
   * call {@link receiveInPlace}(n) before any other input.
   */
  payloadTarget(min: number): Uint8Array | null {
    return this.receiving ? this.#assembler.payloadTarget(min) : null;
  }

  /** `n` bytes were written at the start of the last {@link payloadTarget}. */
  receiveInPlace(n: number): void {
    if (this.receiving) this.#assembler.receiveInPlace(n);
  }

  /** The transport's input ended (TCP FIN or reset). */
  receiveEof(): void {
    this.#assembler.stop();
    const state = this.#state;
    if (state.kind !== 'terminated') this.#state = { kind: 'terminated', from: state };
  }

  /** Events since the last call, in order. */
  takeEvents(): ConnectionEvent[] {
    const events = this.#events;
    if (events.length === 0) return events;
    this.#events = [];
    return events;
  }

  /** Bytes to write to the transport since the last call, in order. */
  takeOutgoing(): Uint8Array[] {
    return this.#writer.take();
  }

  /** Whether there are bytes to write. */
  get hasOutgoing(): boolean {
    return this.#writer.hasOutgoing;
  }

  /** A whole control frame arrived. Returns false to stop parsing. */
  #receiveControl(opcode: number, payload: Uint8Array): boolean {
    if (opcode === Opcode.PING) {
      // RFC 6455 5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong
      // frame in response, unless it already received a Close frame." The Pong
      // "MUST have identical Application data" (5.5.3). Once our own Close is sent
      // no Pong follows it either, as with ws: the closing handshake is under way,
      // and the last frame the peer gets from us is the Close.
      if (this.#autoPong && !this.closeSent) this.#writer.control(Opcode.PONG, payload);
      this.#events.push({ type: 'ping', data: payload });
      return true;
    }
    if (opcode === Opcode.PONG) {
      this.#events.push({ type: 'pong', data: payload });
      return true;
    }
    return this.#receiveClose(payload);
  }

  #receiveClose(payload: Uint8Array): boolean {
    const parsed = parseClosePayload(payload);
    if (!parsed.ok) {
      this.#violate(
        new ProtocolError(
          parsed.error,
          parsed.error === 'CLOSE_PAYLOAD_TOO_SHORT'
            ? 'Close frame with a 1-byte payload'
            : parsed.error === 'INVALID_CLOSE_CODE'
              ? `Close frame with code ${(payload[0]! << 8) | payload[1]!}, which may not be sent`
              : 'Close frame reason is not valid UTF-8',
        ),
      );
      return false;
    }
    const peerClose: PeerClose = { code: parsed.code, reason: parsed.reason };
    this.#assembler.stop();
    if (this.#state.kind === 'closedByUs') {
      this.#state = { kind: 'acknowledged', peerClose };
    } else {
      this.#state = { kind: 'closedByPeer', peerClose };
      // RFC 6455 5.5.1: "If an endpoint receives a Close frame and did not
      // previously send a Close frame, the endpoint MUST send a Close frame in
      // response. (When sending a Close frame in response, the endpoint
      // typically echos the status code it received.)"
      // We echo the reason too, as ws and python-websockets do (already
      // validated UTF-8 of at most 123 bytes); a Close without a body is
      // answered without a body.
      const code = parsed.code === CloseCode.NO_STATUS_RECEIVED ? undefined : parsed.code;
      this.#writer.control(
        Opcode.CLOSE,
        encodeClosePayload(code, code === undefined ? '' : parsed.reason),
      );
      this.#state = { kind: 'acknowledged', peerClose };
    }
    this.#events.push({ type: 'close', code: parsed.code, reason: parsed.reason });
    return false;
  }

  /** Input stops at a violation; the events before it stand, nothing is queued for it yet. */
  #violate(error: ProtocolError): void {
    const state = this.#state;
    if (state.kind !== 'active' && state.kind !== 'closedByUs') return;
    this.#assembler.abandon();
    this.#state = { kind: 'violated', error, closeSent: state.kind === 'closedByUs' };
    this.#events.push({ type: 'violation', error });
  }

  // ---- output ------------------------------------------------------------

  /** Queues a text message. */
  sendText(text: string): void {
    this.#assertCanSendData();
    this.#writer.text(text);
  }

  /** Queues a binary message (a copy of `data` is sent). */
  sendBinary(data: Uint8Array): void {
    this.#assertCanSendData();
    this.#writer.binary(data);
  }

  /** Queues a Ping (payload at most 125 bytes). */
  sendPing(data: Uint8Array = EMPTY): void {
    this.#sendControl(Opcode.PING, data);
  }

  /** Queues an unsolicited Pong (a unidirectional heartbeat, RFC 6455 5.5.3). */
  sendPong(data: Uint8Array = EMPTY): void {
    this.#sendControl(Opcode.PONG, data);
  }

  #sendControl(opcode: number, data: Uint8Array): void {
    if (data.length > MAX_CONTROL_PAYLOAD)
      throw new RangeError('Control frame payload must be at most 125 bytes');
    if (this.closeSent) throw new InvalidStateError('The closing handshake has started');
    // After the end of input or a failure nothing can reach the peer: no frame is queued.
    if (!this.canSend) return;
    this.#writer.control(opcode, data);
  }

  /**
   * Starts the closing handshake (or answers the peer's Close). `code`
   * undefined sends a Close with no body. Does nothing unless the state is
   * `active`: once Close was sent, the connection failed or the input ended,
   * there is nothing to start.
   */
  sendClose(code?: number, reason = ''): void {
    if (code !== undefined && !isValidWireCloseCode(code)) {
      throw new RangeError(`Close code ${code} may not be sent`);
    }
    if (code === undefined && reason !== '')
      throw new RangeError('A close reason needs a close code');
    if (utf8Length(reason) > MAX_CLOSE_REASON_BYTES)
      throw new RangeError('Close reason longer than 123 bytes');
    // Only an active connection starts the closing handshake; after the
    // peer's Close our echo is already queued, and a failure queued its own.
    if (this.#state.kind !== 'active') return;
    this.#writer.control(Opcode.CLOSE, encodeClosePayload(code, reason));
    this.#state = CLOSED_BY_US;
  }

  /**
   * Fails the connection (RFC 6455 7.1.7): queues a Close with the error's
   * close code if none was sent, stops reading, reports a `fail` event. Takes
   * the peer's violation (from a `violation` event) or a local reason
   * (`closeCode` and `message`: a timeout, an application error). Does
   * nothing once the connection failed, the closing handshake completed or
   * the input ended.
   */
  fail(error: ProtocolError): void;
  fail(closeCode: number, message: string): void;
  fail(closeCodeOrError: number | ProtocolError, message = ''): void {
    const error =
      typeof closeCodeOrError === 'number'
        ? new ConnectionFailure(closeCodeOrError, message)
        : closeCodeOrError;
    const state = this.#state;
    if (state.kind !== 'active' && state.kind !== 'closedByUs' && state.kind !== 'violated') return;
    this.#assembler.abandon();
    let closeSent = state.kind === 'violated' ? state.closeSent : state.kind === 'closedByUs';
    // RFC 6455 7.1.7: "If _The WebSocket Connection is Established_ prior to the
    // point where the endpoint is required to _Fail the WebSocket Connection_, the
    // endpoint SHOULD send a Close frame with an appropriate status code".
    if (!closeSent && isValidWireCloseCode(error.closeCode)) {
      closeSent = true;
      this.#writer.control(Opcode.CLOSE, encodeClosePayload(error.closeCode));
    }
    this.#state = { kind: 'failed', error, closeSent };
    this.#events.push({ type: 'fail', error });
  }

  #assertCanSendData(): void {
    // RFC 6455 5.5.1: "After sending a Close frame, the endpoint MUST NOT send any further data frames."
    if (this.closeSent) throw new InvalidStateError('The closing handshake has started');
    if (!this.canSend) throw new InvalidStateError('The connection is closed');
  }
}
