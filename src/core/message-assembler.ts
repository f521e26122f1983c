/**
 * The receive side of a {@link Connection}: parses frames, assembles data
 * messages from their fragments, validates text as UTF-8 as it arrives,
 * decodes compressed messages through the negotiated extension and enforces
 * the receive limits. Control frames, violations and whole messages go to
 * the connection through its {@link AssemblerHooks}; the connection decides
 * whether input is wanted at all.
 */
import type { ConnectionEvent } from './connection-state.js';
import { allocate } from './allocate.js';
import { ProtocolError, type ProtocolErrorCode } from './errors.js';
import type { MessageTransform } from './extensions/extension.js';
import { isControlOpcode, Opcode, type FrameHeader } from './frame.js';
import { copyUnmasked, maskInPlace } from './mask.js';
import { FrameParser, type InPlacePayloadHandler } from './parser.js';
import { decodeUtf8, decodeValidUtf8, fatalDecodeIsFast, Utf8Validator } from './utf8.js';

const EMPTY = new Uint8Array(0);

/** What the assembler reports to the connection around it. */
export interface AssemblerHooks {
  /** A whole data message arrived. */
  message(event: ConnectionEvent): void;
  /** A whole control frame arrived (the payload is the receiver's own). Returns false to stop parsing. */
  control(opcode: number, payload: Uint8Array): boolean;
  /** The peer broke the protocol; parsing stops at this point. */
  violation(error: ProtocolError): void;
}

/** Options of a {@link MessageAssembler}; the limits are those of {@link ConnectionOptions}. */
export interface AssemblerOptions {
  /** Frames must be masked (we are a server) or must not be (we are a client). */
  expectMasked: boolean;
  maxMessageSize: number;
  maxFragments: number;
  maxInflatePerRead: number;
  /** The negotiated per-message extension, or null. */
  extension: MessageTransform | null;
}

/** Assembles the messages of a {@link Connection} from the input (the parser's frame handler). */
export class MessageAssembler implements InPlacePayloadHandler {
  readonly #hooks: AssemblerHooks;
  readonly #parser: FrameParser;
  readonly #extension: MessageTransform | null;
  readonly #maxMessageSize: number;
  readonly #maxFragments: number;
  readonly #maxInflatePerRead: number;
  /** Decoded bytes produced by the current input call. */
  #inflatedThisRead = 0;
  /** Input held back by the inflate budget, parsed before any new input. */
  #pendingInput: Uint8Array = EMPTY;

  // The frame being received.
  #frameOpcode = 0;
  #frameFin = false;
  #frameMasked = false;
  #frameMaskKey: Uint8Array = EMPTY;
  #control: Uint8Array = EMPTY;

  // The message being assembled.
  #msgOpcode = 0;
  /** The message arrived with RSV1 set (compressed). */
  #msgCompressed = false;
  #msgBuffer: Uint8Array = EMPTY;
  #msgLength = 0;
  #msgFragments = 0;
  #msgStart = 0;
  readonly #utf8 = new Utf8Validator();
  /**
   * Bytes of the current text message were left to the final decode to
   * validate (the chunk that completed it: see {@link #checkText}).
   */
  #utf8Deferred = false;
  #lastDataFrameLength = 0;
  #messagesReceived = 0;
  #bytesReceived = 0;

  constructor(options: AssemblerOptions, hooks: AssemblerHooks) {
    this.#hooks = hooks;
    this.#extension = options.extension;
    this.#maxMessageSize = options.maxMessageSize;
    this.#maxFragments = options.maxFragments;
    this.#maxInflatePerRead = options.maxInflatePerRead;
    // RFC 6455 5.1: frames from a client are masked, frames from a server are not.
    // RFC 6455 5.2: RSV1 "MUST be 0 unless an extension is negotiated that defines meanings".
    this.#parser = new FrameParser({
      expectMasked: options.expectMasked,
      allowRsv1: options.extension !== null,
    });
  }

  /** Data messages received whole so far. */
  get messagesReceived(): number {
    return this.#messagesReceived;
  }

  /** Payload bytes of the data messages received whole so far (decompressed). */
  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  /** Bytes held for the message being assembled. */
  get bufferedMessageBytes(): number {
    return this.#msgBuffer.length;
  }

  /** Payload length of the last data frame whose header was read (0 before the first). */
  get lastDataFrameLength(): number {
    return this.#lastDataFrameLength;
  }

  /** Whether input held back by the inflate budget waits for the next {@link receive} call. */
  get hasPendingInput(): boolean {
    return this.#pendingInput.length > 0;
  }

  /** Parses `data` (see {@link Connection.receiveData}). */
  receive(data: Uint8Array): void {
    let input = data;
    if (this.#pendingInput.length > 0) {
      input = new Uint8Array(this.#pendingInput.length + data.length);
      input.set(this.#pendingInput, 0);
      input.set(data, this.#pendingInput.length);
      this.#pendingInput = EMPTY;
    }
    this.#inflatedThisRead = 0;
    const consumed = this.#parser.parse(input, this);
    if (this.#parser.suspended) {
      this.#parser.resumeAfterSuspend();
      // The budget ran out before the end of the input: the rest waits for the next
      // call. A copy: `data` may be the transport's reused read buffer. Ran out at
      // the very end: nothing is held back, and the next input is parsed as usual.
      if (consumed < input.length) {
        this.#pendingInput = input === data ? data.slice(consumed) : input.subarray(consumed);
      }
    }
  }

  /** Where the rest of the current data frame's payload may be written (see {@link Connection.payloadTarget}). */
  payloadTarget(min: number): Uint8Array | null {
    const remaining = this.#parser.payloadRemaining;
    if (remaining === 0 || remaining < min || this.#pendingInput.length > 0) return null;
    if (isControlOpcode(this.#frameOpcode)) return null;
    const at = this.#msgLength;
    return this.#msgBuffer.subarray(at, at + remaining);
  }

  /** `n` bytes were written at the start of the last {@link payloadTarget}. */
  receiveInPlace(n: number): void {
    this.#inflatedThisRead = 0;
    this.#parser.skipPayload(n, this);
    // Nothing of this input is left to hold back.
    this.#parser.resumeAfterSuspend();
  }

  /** Parsing ends for good (the peer's Close arrived, or the input ended). */
  stop(): void {
    this.#parser.stop();
  }

  /** Parsing ends for good and the message being assembled is dropped (a violation or a failure). */
  abandon(): void {
    this.#parser.stop();
    this.#msgBuffer = EMPTY;
  }

  // ---- InPlacePayloadHandler (called by the parser) -----------------------

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
      if (h.opcode === Opcode.TEXT) {
        this.#utf8.reset();
        this.#utf8Deferred = false;
      }
    }
    if (++this.#msgFragments > this.#maxFragments) {
      return this.#protocolError(
        'TOO_MANY_FRAGMENTS',
        `Message split into more than ${this.#maxFragments} frames`,
      );
    }
    const total = this.#msgLength + h.length;
    // Checked from the header, before any allocation for this frame.
    if (total > this.#maxMessageSize) {
      return this.#protocolError(
        'MESSAGE_TOO_BIG',
        `Message of more than ${this.#maxMessageSize} bytes`,
      );
    }
    // Room the decoder writes into past a compressed payload, so that it does
    // not copy the message to extend it.
    const slack = this.#msgCompressed ? this.#extension!.decodeSlack : 0;
    if (total + slack > this.#msgBuffer.length) {
      // A single-frame message gets exactly its size; a fragmented one grows geometrically.
      const capacity =
        slack +
        (this.#msgFragments === 1
          ? total
          : Math.min(this.#maxMessageSize, Math.max(total, this.#msgBuffer.length * 2)));
      // Every byte up to the message's length is written before it is delivered.
      // The size comes from the peer's header: a limit above what the runtime can
      // allocate (or memory that is not there) fails this connection, never the
      // caller.
      let grown: Uint8Array;
      try {
        grown = allocate(capacity);
      } catch {
        return this.#protocolError(
          'MESSAGE_TOO_BIG',
          `Message of ${total} bytes or more: a buffer of ${capacity} bytes could not be allocated`,
        );
      }
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
    return this.#checkText(at, this.#msgLength);
  }

  /** @internal */
  framePayloadInPlace(offset: number, length: number): boolean {
    const at = this.#msgStart + offset;
    const end = at + length;
    if (this.#frameMasked) maskInPlace(this.#msgBuffer, at, end, this.#frameMaskKey, offset);
    this.#msgLength = end;
    return this.#checkText(at, end);
  }

  /**
   * Validates the bytes `[at, end)` of an uncompressed text message as they
   * arrive, so that an invalid message fails as soon as its invalid prefix is
   * here (RFC 6455 8.1: "When an endpoint is to interpret a byte stream as
   * UTF-8 but finds that the byte stream is not, in fact, a valid UTF-8
   * stream, that endpoint MUST _Fail the WebSocket Connection_"). The chunk
   * that completes the message is left to frameEnd, which the parser calls
   * next with no input in between: where the runtime's fatal decoder is fast,
   * it validates and decodes the whole message in one pass there, so a message
   * that arrives in one read is read once.
   */
  #checkText(at: number, end: number): boolean {
    if (this.#msgOpcode !== Opcode.TEXT || this.#msgCompressed) return true;
    if (fatalDecodeIsFast && this.#frameFin && this.#parser.payloadRemaining === 0) {
      this.#utf8Deferred = true;
      return true;
    }
    if (!this.#utf8.update(this.#msgBuffer, at, end)) {
      return this.#protocolError('INVALID_UTF8', 'Text message is not valid UTF-8');
    }
    return true;
  }

  /** @internal */
  frameEnd(): boolean {
    if (isControlOpcode(this.#frameOpcode)) {
      const payload = this.#control;
      this.#control = EMPTY;
      return this.#hooks.control(this.#frameOpcode, payload);
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
      const decoded = this.#extension!.decode(
        buffer.subarray(0, length),
        this.#maxMessageSize,
        buffer.length - length,
      );
      if (!decoded.ok) {
        return decoded.reason === 'too-big'
          ? this.#protocolError(
              'MESSAGE_TOO_BIG',
              `Message of more than ${this.#maxMessageSize} bytes once decompressed`,
            )
          : this.#protocolError('INVALID_COMPRESSED_DATA', decoded.message);
      }
      buffer = decoded.data;
      length = buffer.length;
      this.#inflatedThisRead += length;
    }
    let event: ConnectionEvent;
    if (type === Opcode.TEXT) {
      const bytes = buffer.subarray(0, length);
      let text: string | null;
      try {
        if (this.#msgCompressed || this.#utf8Deferred) {
          // The whole message is here (decompressed, or its last bytes just
          // arrived): validated and decoded in one call where that is fast.
          text = decodeUtf8(bytes);
        } else {
          // Validated as it arrived; it must not end inside a sequence.
          text = this.#utf8.complete ? decodeValidUtf8(bytes) : null;
        }
      } catch {
        // Valid UTF-8 (an invalid message is null above) that makes a string longer
        // than the runtime's longest (V8: 2^29 - 24 characters).
        return this.#protocolError(
          'MESSAGE_TOO_BIG',
          `Text message of ${length} bytes is longer than the runtime's longest string`,
        );
      }
      if (text === null) {
        return this.#protocolError('INVALID_UTF8', 'Text message is not valid UTF-8');
      }
      event = { type: 'text', data: text };
    } else {
      // Never hand out the shared EMPTY (see frameStart); trim a grown buffer so
      // the message's ArrayBuffer holds exactly the message.
      if (buffer === EMPTY) buffer = new Uint8Array(0);
      else if (buffer.length !== length) buffer = buffer.slice(0, length);
      event = { type: 'binary', data: buffer };
    }
    // Decompressed bytes: what the application receives.
    this.#messagesReceived++;
    this.#bytesReceived += length;
    this.#hooks.message(event);
    // The input's decode budget is spent: hold the rest of it back until asked again.
    if (this.#inflatedThisRead > this.#maxInflatePerRead) {
      this.#parser.suspend();
      return false;
    }
    return true;
  }

  /** @internal */
  frameError(error: ProtocolError): void {
    this.#hooks.violation(error);
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

  #protocolError(code: ProtocolErrorCode, message: string): false {
    this.#hooks.violation(new ProtocolError(code, message));
    return false;
  }
}
