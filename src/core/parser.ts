/**
 * Incremental frame parser (RFC 6455 5.2). Input may be split at any byte;
 * the parser keeps its position in explicit states and hands payload bytes to
 * its handler as slices of the input, without copying them itself. It enforces
 * the frame-level rules (reserved bits, reserved opcodes, control frame
 * length and fragmentation, masking direction, 64-bit length form); the
 * message-level rules belong to the handler.
 */
import { isControlOpcode, isKnownOpcode, MAX_CONTROL_PAYLOAD, type FrameHeader } from './frame.js';
import { ProtocolError } from './errors.js';

/** Receives frames as the parser finds them. Each method returns false to stop parsing. */
export interface FrameHandler {
  /** A frame header is complete and valid at frame level. */
  frameStart(header: FrameHeader): boolean;
  /**
   * Payload bytes `data[start..end)`, still masked if the frame is masked.
   * `offset` is the position within the frame's payload of `data[start]`.
   */
  framePayload(data: Uint8Array, start: number, end: number, offset: number): boolean;
  /** The frame's payload is complete. */
  frameEnd(): boolean;
  /** The input violates the protocol at frame level; parsing stops for good. */
  frameError(error: ProtocolError): void;
}

/** A handler that can also take payload bytes written straight into its buffer (see {@link FrameParser.skipPayload}). */
export interface InPlacePayloadHandler extends FrameHandler {
  /**
   * `length` payload bytes of the current frame, at payload position
   * `offset`, were written directly where the handler keeps them (still
   * masked if the frame is masked).
   */
  framePayloadInPlace(offset: number, length: number): boolean;
}

/** Options of {@link FrameParser}. */
export interface FrameParserOptions {
  /** Whether frames must be masked (we are a server) or must not be (we are a client). */
  expectMasked: boolean;
  /** Whether RSV1 may be set (an extension such as permessage-deflate was negotiated). */
  allowRsv1?: boolean;
}

const HEADER = 0;
const LENGTH_16 = 1;
const LENGTH_64 = 2;
const MASK_KEY = 3;
const PAYLOAD = 4;
const STOPPED = 5;

/** Bytes to collect in each header state. */
const NEED = [2, 2, 8, 4];

/** The mask key of a parser that has not seen a masked frame yet. */
const NO_MASK_KEY = new Uint8Array(0);

/** The largest payload length representable exactly (2^53 - 1); anything above is refused. */
const MAX_SAFE_HIGH_WORD = 0x1fffff;

export class FrameParser {
  readonly #expectMasked: boolean;
  readonly #allowRsv1: boolean;
  #state = HEADER;
  /** The handler suspended parsing at a frame boundary (see {@link suspend}). */
  #suspended = false;
  /**
   * Header bytes collected so far in the current state, when they arrive
   * split; made the first time one does (most connections never see one).
   */
  #scratch: Uint8Array | null = null;
  #have = 0;
  #remaining = 0;
  #offset = 0;
  readonly #header: FrameHeader = {
    fin: false,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode: 0,
    masked: false,
    length: 0,
    // Made at the first masked frame: a client's parser never needs one.
    maskKey: NO_MASK_KEY,
  };

  constructor(options: FrameParserOptions) {
    this.#expectMasked = options.expectMasked;
    this.#allowRsv1 = options.allowRsv1 ?? false;
  }

  /** Whether the parser stopped (an error, or the handler asked it to). */
  get stopped(): boolean {
    return this.#state === STOPPED;
  }

  /** Whether the parser sits between frames (no partial frame buffered). */
  get atFrameBoundary(): boolean {
    return this.#state === HEADER && this.#have === 0;
  }

  /**
   * Called by a handler in frameEnd() before it returns false: parsing stops
   * after this frame, but only for this call; {@link resumeAfterSuspend} then
   * readies the parser for the next frame.
   */
  suspend(): void {
    this.#suspended = true;
  }

  /** Whether the last parse() stopped because the handler suspended it. */
  get suspended(): boolean {
    return this.#suspended && this.#state === STOPPED;
  }

  /** Continues after a suspension: the next input starts with a frame header. */
  resumeAfterSuspend(): void {
    if (!this.#suspended) return;
    this.#suspended = false;
    if (this.#state === STOPPED) this.#state = HEADER;
  }

  /** Stops parsing for good; later input is ignored. */
  stop(): void {
    this.#state = STOPPED;
    this.#suspended = false;
  }

  /**
   * Parses `data`, calling `handler` for each frame part found. Returns the
   * number of bytes consumed (all of them unless parsing stopped).
   */
  parse(data: Uint8Array, handler: FrameHandler): number {
    const n = data.length;
    let i = 0;
    while (i < n) {
      const state = this.#state;
      if (state === PAYLOAD) {
        const take = Math.min(this.#remaining, n - i);
        const offset = this.#offset;
        this.#offset += take;
        this.#remaining -= take;
        if (!handler.framePayload(data, i, i + take, offset)) return this.#halt(i + take);
        i += take;
        if (this.#remaining === 0) {
          this.#state = HEADER;
          if (!handler.frameEnd()) return this.#halt(i);
        }
        continue;
      }
      if (state === STOPPED) return i;
      // Header states: collect NEED[state] bytes, straight from the input when possible.
      const need = NEED[state]!;
      let src: Uint8Array;
      let at: number;
      if (this.#have === 0 && n - i >= need) {
        src = data;
        at = i;
        i += need;
      } else {
        const take = Math.min(need - this.#have, n - i);
        const scratch = (this.#scratch ??= new Uint8Array(8));
        for (let j = 0; j < take; j++) scratch[this.#have + j] = data[i + j]!;
        this.#have += take;
        i += take;
        if (this.#have < need) break;
        this.#have = 0;
        src = scratch;
        at = 0;
      }
      if (!this.#headerPart(state, src, at, handler)) return this.#halt(i);
    }
    return n;
  }

  /** Payload bytes of the current frame still to come; 0 outside a payload. */
  get payloadRemaining(): number {
    return this.#state === PAYLOAD ? this.#remaining : 0;
  }

  /**
   * Accounts for `n` (at most {@link payloadRemaining}) payload bytes of the
   * current frame that reached the handler by other means, as parse() would
   * for the same bytes: framePayloadInPlace, then frameEnd at the end of the
   * payload.
   */
  skipPayload(n: number, handler: InPlacePayloadHandler): void {
    if (this.#state !== PAYLOAD || n <= 0) return;
    if (n > this.#remaining) throw new RangeError('More bytes than the payload has left');
    const offset = this.#offset;
    this.#offset += n;
    this.#remaining -= n;
    if (!handler.framePayloadInPlace(offset, n)) {
      this.#state = STOPPED;
      return;
    }
    if (this.#remaining === 0) {
      this.#state = HEADER;
      if (!handler.frameEnd()) this.#state = STOPPED;
    }
  }

  #halt(consumed: number): number {
    this.#state = STOPPED;
    return consumed;
  }

  #fail(handler: FrameHandler, error: ProtocolError): false {
    this.#state = STOPPED;
    handler.frameError(error);
    return false;
  }

  /** Decodes one header part; returns false when parsing must stop. */
  #headerPart(state: number, src: Uint8Array, at: number, handler: FrameHandler): boolean {
    const h = this.#header;
    switch (state) {
      case HEADER: {
        const b0 = src[at]!;
        const b1 = src[at + 1]!;
        h.fin = (b0 & 0x80) !== 0;
        h.rsv1 = (b0 & 0x40) !== 0;
        h.rsv2 = (b0 & 0x20) !== 0;
        h.rsv3 = (b0 & 0x10) !== 0;
        h.opcode = b0 & 0x0f;
        h.masked = (b1 & 0x80) !== 0;
        const len7 = b1 & 0x7f;
        // RFC 6455 5.2: "If a nonzero value is received and none of the negotiated
        // extensions defines the meaning of such a nonzero value, the receiving
        // endpoint MUST _Fail the WebSocket Connection_."
        if (h.rsv2 || h.rsv3 || (h.rsv1 && !this.#allowRsv1)) {
          return this.#fail(
            handler,
            new ProtocolError(
              'RESERVED_BITS',
              'Reserved bits set in a frame header with no extension negotiated that defines them',
            ),
          );
        }
        if (!isKnownOpcode(h.opcode)) {
          return this.#fail(
            handler,
            new ProtocolError('RESERVED_OPCODE', `Reserved opcode 0x${h.opcode.toString(16)}`),
          );
        }
        if (isControlOpcode(h.opcode)) {
          // RFC 6455 5.5: "All control frames MUST have a payload length of 125
          // bytes or less and MUST NOT be fragmented."
          if (len7 > MAX_CONTROL_PAYLOAD) {
            return this.#fail(
              handler,
              new ProtocolError(
                'CONTROL_FRAME_TOO_LONG',
                'Control frame payload longer than 125 bytes',
              ),
            );
          }
          if (!h.fin) {
            return this.#fail(
              handler,
              new ProtocolError('CONTROL_FRAME_FRAGMENTED', 'Fragmented control frame'),
            );
          }
          if (h.rsv1) {
            // RFC 7692 6.1: "An endpoint MUST NOT set the "Per-Message Compressed" bit of control frames".
            return this.#fail(
              handler,
              new ProtocolError('RESERVED_BITS', 'RSV1 set on a control frame'),
            );
          }
        }
        if (h.masked !== this.#expectMasked) {
          return this.#fail(
            handler,
            this.#expectMasked
              ? new ProtocolError('UNMASKED_FRAME', 'A client sent an unmasked frame')
              : new ProtocolError('MASKED_FRAME', 'A server sent a masked frame'),
          );
        }
        if (len7 === 126) {
          this.#state = LENGTH_16;
          return true;
        }
        if (len7 === 127) {
          this.#state = LENGTH_64;
          return true;
        }
        h.length = len7;
        return this.#afterLength(handler);
      }
      case LENGTH_16:
        h.length = (src[at]! << 8) | src[at + 1]!;
        return this.#afterLength(handler);
      case LENGTH_64: {
        const hi =
          ((src[at]! << 24) | (src[at + 1]! << 16) | (src[at + 2]! << 8) | src[at + 3]!) >>> 0;
        const lo =
          ((src[at + 4]! << 24) | (src[at + 5]! << 16) | (src[at + 6]! << 8) | src[at + 7]!) >>> 0;
        if (hi >= 0x80000000) {
          return this.#fail(
            handler,
            new ProtocolError(
              'INVALID_LENGTH',
              'Most significant bit of a 64-bit payload length is set',
            ),
          );
        }
        if (hi > MAX_SAFE_HIGH_WORD) {
          return this.#fail(
            handler,
            new ProtocolError('MESSAGE_TOO_BIG', 'Frame payload length of 2^53 bytes or more'),
          );
        }
        h.length = hi * 0x100000000 + lo;
        return this.#afterLength(handler);
      }
      case MASK_KEY: {
        const key = h.maskKey.length === 4 ? h.maskKey : (h.maskKey = new Uint8Array(4));
        key[0] = src[at]!;
        key[1] = src[at + 1]!;
        key[2] = src[at + 2]!;
        key[3] = src[at + 3]!;
        return this.#startPayload(handler);
      }
      default:
        return false;
    }
  }

  #afterLength(handler: FrameHandler): boolean {
    if (this.#header.masked) {
      this.#state = MASK_KEY;
      return true;
    }
    return this.#startPayload(handler);
  }

  #startPayload(handler: FrameHandler): boolean {
    if (!handler.frameStart(this.#header)) {
      this.#state = STOPPED;
      return false;
    }
    if (this.#header.length === 0) {
      this.#state = HEADER;
      return handler.frameEnd();
    }
    this.#state = PAYLOAD;
    this.#remaining = this.#header.length;
    this.#offset = 0;
    return true;
  }
}
