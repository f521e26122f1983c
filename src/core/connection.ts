/**
 * The connection state machine of RFC 6455, sans I/O: bytes in, events and
 * bytes out. It answers Pings, echoes Close, assembles messages, validates
 * UTF-8 and enforces the limits; the transport around it decides when to read,
 * when to deliver events and when to close the socket.
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
import { isControlOpcode, MAX_CONTROL_PAYLOAD, Opcode, type FrameHeader } from './frame.js';
import { FrameWriter } from './frame-writer.js';
import { allocate } from './allocate.js';
import { copyUnmasked, maskInPlace } from './mask.js';
import { FrameParser, type InPlacePayloadHandler } from './parser.js';
import { Utf8Validator } from './utf8.js';

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

const textDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

const EMPTY = new Uint8Array(0);

export class Connection implements InPlacePayloadHandler {
  readonly role: Role;
  readonly maxMessageSize: number;
  readonly maxFragments: number;
  readonly #autoPong: boolean;
  readonly #writer: FrameWriter;
  readonly #parser: FrameParser;
  readonly #extension: MessageTransform | null;
  readonly #maxInflatePerRead: number;
  /** Decoded bytes produced by the current input call. */
  #inflatedThisRead = 0;
  /** Input held back by the inflate budget, parsed before any new input. */
  #pendingInput: Uint8Array = EMPTY;
  /** The message being received arrived with RSV1 set (compressed). */
  #msgCompressed = false;

  #state: ConnectionState = ACTIVE;

  #events: ConnectionEvent[] = [];

  // The frame being received.
  #frameOpcode = 0;
  #frameFin = false;
  #frameMasked = false;
  #frameMaskKey: Uint8Array = EMPTY;
  #control: Uint8Array = EMPTY;

  // The message being assembled.
  #msgOpcode = 0;
  #msgBuffer: Uint8Array = EMPTY;
  #msgLength = 0;
  #messagesReceived = 0;
  #bytesReceived = 0;
  #msgFragments = 0;
  #msgStart = 0;
  readonly #utf8 = new Utf8Validator();
  #lastDataFrameLength = 0;

  constructor(options: ConnectionOptions) {
    this.role = options.role;
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.maxFragments = options.maxFragments ?? DEFAULT_MAX_FRAGMENTS;
    this.#autoPong = options.autoPong ?? true;
    this.#extension = options.extension ?? null;
    this.#maxInflatePerRead = options.maxInflatePerRead ?? DEFAULT_MAX_INFLATE_PER_READ;
    if (!(this.maxMessageSize >= 0))
      throw new RangeError('maxMessageSize must be a non-negative number');
    if (!(this.maxFragments >= 1)) throw new RangeError('maxFragments must be at least 1');
    this.#writer = new FrameWriter({
      masked: options.role === 'client',
      maskKeys: options.maskKeys,
      fragmentSize: options.fragmentSize ?? 0,
      extension: this.#extension,
    });
    // RFC 6455 5.1: frames from a client are masked, frames from a server are not.
    // RFC 6455 5.2: RSV1 "MUST be 0 unless an extension is negotiated that defines meanings".
    this.#parser = new FrameParser({
      expectMasked: options.role === 'server',
      allowRsv1: this.#extension !== null,
    });
  }

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
  /** Bytes held for the message being assembled. */
  /** Data messages received whole so far. */
  get messagesReceived(): number {
    return this.#messagesReceived;
  }

  /** Payload bytes of the data messages received whole so far. */
  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  /** Data messages queued for sending so far. */
  get messagesSent(): number {
    return this.#writer.messagesSent;
  }

  /** Payload bytes of the data messages queued for sending so far (text as UTF-8). */
  get bytesSent(): number {
    return this.#writer.bytesSent;
  }

  get bufferedMessageBytes(): number {
    return this.#msgBuffer.length;
  }
  /** Whether input is still wanted: false once the peer's Close arrived or the connection failed. */
  get receiving(): boolean {
    return isReceiving(this.#state);
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
    if (!this.receiving) return;
    let input = data;
    if (this.#pendingInput.length > 0) {
      input = new Uint8Array(this.#pendingInput.length + data.length);
      input.set(this.#pendingInput, 0);
      input.set(data, this.#pendingInput.length);
      this.#pendingInput = EMPTY;
    }
    this.#inflatedThisRead = 0;
    const consumed = this.#parser.parse(input, this);
    if (consumed < input.length && this.#parser.suspended) {
      this.#parser.resumeAfterSuspend();
      // A copy: `data` may be the transport's reused read buffer.
      this.#pendingInput = input === data ? data.slice(consumed) : input.subarray(consumed);
    }
  }

  /** Whether input held back by the inflate budget waits for the next {@link receiveData} call. */
  get hasPendingInput(): boolean {
    return this.#pendingInput.length > 0 && this.receiving;
  }

  /** The extension in force, as agreed in the handshake ('' if none). */
  get extensions(): string {
    return this.#extension?.header ?? '';
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
    const remaining = this.#parser.payloadRemaining;
    if (remaining === 0 || remaining < min || !this.receiving || this.#pendingInput.length > 0)
      return null;
    if (isControlOpcode(this.#frameOpcode)) return null;
    const at = this.#msgLength;
    return this.#msgBuffer.subarray(at, at + remaining);
  }

  /** `n` bytes were written at the start of the last {@link payloadTarget}. */
  receiveInPlace(n: number): void {
    if (!this.receiving) return;
    this.#inflatedThisRead = 0;
    this.#parser.skipPayload(n, this);
    // Nothing of this input is left to hold back.
    this.#parser.resumeAfterSuspend();
  }

  /** Payload length of the last data frame whose header was read (0 before the first). */
  get lastDataFrameLength(): number {
    return this.#lastDataFrameLength;
  }

  /** The transport's input ended (TCP FIN or reset). */
  receiveEof(): void {
    this.#parser.stop();
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

  // ---- FrameHandler (called by the parser) -------------------------------

  /** @internal */
  frameStart(h: FrameHeader): boolean {
    this.#frameOpcode = h.opcode;
    this.#frameFin = h.fin;
    this.#frameMasked = h.masked;
    this.#frameMaskKey = h.maskKey;
    if (isControlOpcode(h.opcode)) {
      // A fresh array even when empty: the payload is handed out in an event, and
      // a consumer that detaches its buffer must not detach the shared EMPTY.
      this.#control = new Uint8Array(h.length);
      return true;
    }
    if (h.opcode === Opcode.CONTINUATION) {
      // RFC 6455 5.4: continuation frames only follow a non-final data frame.
      if (this.#msgOpcode === 0) {
        return this.#protocolError(
          'UNEXPECTED_CONTINUATION',
          'Continuation frame with no message to continue',
        );
      }
      // RFC 7692 6.1: "An endpoint MUST NOT set the "Per-Message Compressed" bit
      // of ... non-first fragments of a data message."
      if (h.rsv1) {
        return this.#protocolError('RESERVED_BITS', 'RSV1 set on a continuation frame');
      }
    } else {
      // RFC 6455 5.4: "The fragments of one message MUST NOT be interleaved between
      // the fragments of another message".
      if (this.#msgOpcode !== 0) {
        return this.#protocolError(
          'EXPECTED_CONTINUATION',
          'New data frame inside an unfinished fragmented message',
        );
      }
      this.#msgOpcode = h.opcode;
      // RFC 7692 6: the "Per-Message Compressed" bit is set on the first frame of a message.
      this.#msgCompressed = h.rsv1;
      this.#msgLength = 0;
      this.#msgFragments = 0;
      this.#msgBuffer = EMPTY;
      if (h.opcode === Opcode.TEXT) this.#utf8.reset();
    }
    if (++this.#msgFragments > this.maxFragments) {
      return this.#protocolError(
        'TOO_MANY_FRAGMENTS',
        `Message split into more than ${this.maxFragments} frames`,
      );
    }
    const total = this.#msgLength + h.length;
    // Checked from the header, before any allocation for this frame.
    if (total > this.maxMessageSize) {
      return this.#protocolError(
        'MESSAGE_TOO_BIG',
        `Message of more than ${this.maxMessageSize} bytes`,
      );
    }
    if (total > this.#msgBuffer.length) {
      // A single-frame message gets exactly its size; a fragmented one grows geometrically.
      const capacity =
        this.#msgFragments === 1
          ? total
          : Math.min(this.maxMessageSize, Math.max(total, this.#msgBuffer.length * 2));
      // Every byte up to the message's length is written before it is delivered.
      const grown = allocate(capacity);
      if (this.#msgLength > 0) grown.set(this.#msgBuffer.subarray(0, this.#msgLength));
      this.#msgBuffer = grown;
    }
    this.#msgStart = this.#msgLength;
    this.#lastDataFrameLength = h.length;
    return true;
  }

  /** @internal */
  framePayload(data: Uint8Array, start: number, end: number, offset: number): boolean {
    if (isControlOpcode(this.#frameOpcode)) {
      this.#copyIn(this.#control, offset, data, start, end, offset);
      return true;
    }
    const at = this.#msgStart + offset;
    this.#copyIn(this.#msgBuffer, at, data, start, end, offset);
    this.#msgLength = at + (end - start);
    if (
      this.#msgOpcode === Opcode.TEXT &&
      !this.#msgCompressed &&
      !this.#utf8.update(this.#msgBuffer, at, this.#msgLength)
    ) {
      return this.#protocolError('INVALID_UTF8', 'Text message is not valid UTF-8');
    }
    return true;
  }

  /** @internal */
  framePayloadInPlace(offset: number, length: number): boolean {
    const at = this.#msgStart + offset;
    const end = at + length;
    if (this.#frameMasked) maskInPlace(this.#msgBuffer, at, end, this.#frameMaskKey, offset);
    this.#msgLength = end;
    if (
      this.#msgOpcode === Opcode.TEXT &&
      !this.#msgCompressed &&
      !this.#utf8.update(this.#msgBuffer, at, end)
    ) {
      return this.#protocolError('INVALID_UTF8', 'Text message is not valid UTF-8');
    }
    return true;
  }

  /** @internal */
  frameEnd(): boolean {
    const opcode = this.#frameOpcode;
    if (isControlOpcode(opcode)) {
      const payload = this.#control;
      this.#control = EMPTY;
      if (opcode === Opcode.PING) {
        // RFC 6455 5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong
        // frame in response, unless it already received a Close frame." The Pong
        // "MUST have identical Application data" (5.5.3).
        if (this.#autoPong && !this.closeSent) this.#writer.control(Opcode.PONG, payload);
        this.#events.push({ type: 'ping', data: payload });
      } else if (opcode === Opcode.PONG) {
        this.#events.push({ type: 'pong', data: payload });
      } else {
        return this.#receiveClose(payload);
      }
      return true;
    }
    // A data frame ended; the message is done if FIN was set.
    if (!this.#frameFin) return true;
    let length = this.#msgLength;
    let buffer = this.#msgBuffer;
    this.#msgBuffer = EMPTY;
    const type = this.#msgOpcode;
    this.#msgOpcode = 0;
    if (this.#msgCompressed) {
      // Decoded within the message limit: a deflate bomb stops at maxMessageSize.
      const decoded = this.#extension!.decode(buffer.subarray(0, length), this.maxMessageSize);
      if (!decoded.ok) {
        return decoded.reason === 'too-big'
          ? this.#protocolError(
              'MESSAGE_TOO_BIG',
              `Message of more than ${this.maxMessageSize} bytes once decompressed`,
            )
          : this.#protocolError('INVALID_COMPRESSED_DATA', decoded.message);
      }
      buffer = decoded.data;
      length = buffer.length;
      this.#inflatedThisRead += length;
      if (type === Opcode.TEXT) {
        this.#utf8.reset();
        if (!this.#utf8.update(buffer, 0, length)) {
          return this.#protocolError('INVALID_UTF8', 'Text message is not valid UTF-8');
        }
      }
    }
    // Decompressed bytes: what the application receives.
    this.#messagesReceived++;
    this.#bytesReceived += length;
    if (type === Opcode.TEXT) {
      if (!this.#utf8.complete) {
        return this.#protocolError('INVALID_UTF8', 'Text message ends inside a UTF-8 sequence');
      }
      this.#events.push({
        type: 'text',
        data: length === 0 ? '' : textDecoder.decode(buffer.subarray(0, length)),
      });
    } else {
      // Never hand out the shared EMPTY (see frameStart); trim a grown buffer so
      // the message's ArrayBuffer holds exactly the message.
      if (buffer === EMPTY) buffer = new Uint8Array(0);
      else if (buffer.length !== length) buffer = buffer.slice(0, length);
      this.#events.push({ type: 'binary', data: buffer });
    }
    // The input's decode budget is spent: hold the rest of it back until asked again.
    if (this.#inflatedThisRead > this.#maxInflatePerRead) {
      this.#parser.suspend();
      return false;
    }
    return true;
  }

  /** @internal */
  frameError(error: ProtocolError): void {
    this.#violate(error);
  }

  #copyIn(
    dst: Uint8Array,
    dstStart: number,
    src: Uint8Array,
    start: number,
    end: number,
    keyOffset: number,
  ): void {
    if (this.#frameMasked) {
      copyUnmasked(dst, dstStart, src, start, end, this.#frameMaskKey, keyOffset);
    } else if (end - start <= 128) {
      for (let i = start, j = dstStart; i < end; i++, j++) dst[j] = src[i]!;
    } else {
      dst.set(src.subarray(start, end), dstStart);
    }
  }

  #receiveClose(payload: Uint8Array): boolean {
    const parsed = parseClosePayload(payload);
    if (!parsed.ok) {
      return this.#protocolError(
        parsed.error,
        parsed.error === 'CLOSE_PAYLOAD_TOO_SHORT'
          ? 'Close frame with a 1-byte payload'
          : parsed.error === 'INVALID_CLOSE_CODE'
            ? `Close frame with code ${(payload[0]! << 8) | payload[1]!}, which may not be sent`
            : 'Close frame reason is not valid UTF-8',
      );
    }
    const peerClose: PeerClose = { code: parsed.code, reason: parsed.reason };
    this.#parser.stop();
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

  #protocolError(code: ConstructorParameters<typeof ProtocolError>[0], message: string): false {
    this.#violate(new ProtocolError(code, message));
    return false;
  }

  /** Input stops at a violation; the events before it stand, nothing is queued for it yet. */
  #violate(error: ProtocolError): void {
    const state = this.#state;
    if (state.kind !== 'active' && state.kind !== 'closedByUs') return;
    this.#parser.stop();
    this.#msgBuffer = EMPTY;
    this.#state = { kind: 'violated', error, closeSent: state.kind === 'closedByUs' };
    this.#events.push({ type: 'violation', error });
  }

  #failWith(error: ProtocolError | ConnectionFailure): void {
    const state = this.#state;
    if (state.kind !== 'active' && state.kind !== 'closedByUs' && state.kind !== 'violated') return;
    this.#msgBuffer = EMPTY;
    this.#parser.stop();
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
    this.#failWith(
      typeof closeCodeOrError === 'number'
        ? new ConnectionFailure(closeCodeOrError, message)
        : closeCodeOrError,
    );
  }

  /**
   * Whether frames may still be queued: while `active`, and after a violation
   * until our Close (replies to what arrived before it).
   */
  get canSend(): boolean {
    return canSendIn(this.#state);
  }

  #assertCanSendData(): void {
    // RFC 6455 5.5.1: "After sending a Close frame, the endpoint MUST NOT send any further data frames."
    if (this.closeSent) throw new InvalidStateError('The closing handshake has started');
    if (!this.canSend) throw new InvalidStateError('The connection is closed');
  }
}
