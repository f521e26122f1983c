/**
 * Protocol violations detected by the core. Each has a stable `code` string
 * and the close code the connection is failed with; the table below is the
 * rule each one enforces.
 */
import { CloseCode } from './close.js';

/** Every violation the core detects, with the close code it causes. */
export const ProtocolErrorCode = {
  /** RFC 6455 5.2: RSV1-3 "MUST be 0 unless an extension is negotiated that defines meanings". */
  RESERVED_BITS: CloseCode.PROTOCOL_ERROR,
  /** RFC 6455 5.2: opcodes 0x3-0x7 and 0xB-0xF are reserved; "If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket Connection_". */
  RESERVED_OPCODE: CloseCode.PROTOCOL_ERROR,
  /** RFC 6455 5.5: "All control frames MUST have a payload length of 125 bytes or less". */
  CONTROL_FRAME_TOO_LONG: CloseCode.PROTOCOL_ERROR,
  /** RFC 6455 5.5: control frames "MUST NOT be fragmented". */
  CONTROL_FRAME_FRAGMENTED: CloseCode.PROTOCOL_ERROR,
  /** RFC 6455 5.4: a continuation frame with no fragmented message in progress. */
  UNEXPECTED_CONTINUATION: CloseCode.PROTOCOL_ERROR,
  /** RFC 6455 5.4: a new text or binary frame while a fragmented message is unfinished. */
  EXPECTED_CONTINUATION: CloseCode.PROTOCOL_ERROR,
  /** RFC 6455 5.1: "The server MUST close the connection upon receiving a frame that is not masked." */
  UNMASKED_FRAME: CloseCode.PROTOCOL_ERROR,
  /** RFC 6455 5.1: "A client MUST close a connection if it detects a masked frame." */
  MASKED_FRAME: CloseCode.PROTOCOL_ERROR,
  /** RFC 6455 5.2: "the most significant bit MUST be 0" in a 64-bit payload length. */
  INVALID_LENGTH: CloseCode.PROTOCOL_ERROR,
  /** RFC 6455 7.4: a Close frame carried a code that is not allowed on the wire. */
  INVALID_CLOSE_CODE: CloseCode.PROTOCOL_ERROR,
  /** RFC 6455 5.5.1: a Close body, if any, starts with a 2-byte code; 1 byte is malformed. */
  CLOSE_PAYLOAD_TOO_SHORT: CloseCode.PROTOCOL_ERROR,
  /** RFC 6455 8.1: a text message is not valid UTF-8. */
  INVALID_UTF8: CloseCode.INVALID_FRAME_PAYLOAD_DATA,
  /** RFC 6455 5.5.1: the reason of a Close frame is not valid UTF-8. */
  INVALID_CLOSE_REASON: CloseCode.INVALID_FRAME_PAYLOAD_DATA,
  /** Limit `maxMessageSize`: a message (or a single frame's declared length) is larger than allowed. */
  MESSAGE_TOO_BIG: CloseCode.MESSAGE_TOO_BIG,
  /** RFC 7692 8: a compressed message that does not inflate (ws closes with 1007 too). */
  INVALID_COMPRESSED_DATA: CloseCode.INVALID_FRAME_PAYLOAD_DATA,
  /** Limit `maxFragments`: a message has more frames than allowed (stops tiny-fragment memory exhaustion). */
  TOO_MANY_FRAGMENTS: CloseCode.MESSAGE_TOO_BIG,
} as const;
export type ProtocolErrorCode = keyof typeof ProtocolErrorCode;

/** A protocol violation by the peer. `closeCode` is what the connection is failed with. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ProtocolErrorCode;
  readonly closeCode: number;

  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.code = code;
    this.closeCode = ProtocolErrorCode[code];
  }
}
