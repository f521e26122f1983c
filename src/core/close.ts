/**
 * Close codes and Close frame payloads (RFC 6455 5.5.1, 7.4).
 */
import { Utf8Validator } from './utf8.js';

/** Close status codes (RFC 6455 7.4.1 and the IANA registry). */
export const CloseCode = {
  NORMAL_CLOSURE: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  /** Never on the wire: the peer's Close frame had no status code. */
  NO_STATUS_RECEIVED: 1005,
  /** Never on the wire: the connection closed without a closing handshake. */
  ABNORMAL_CLOSURE: 1006,
  INVALID_FRAME_PAYLOAD_DATA: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_GATEWAY: 1014,
  /** Never on the wire: the TLS handshake failed. */
  TLS_HANDSHAKE: 1015,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** RFC 6455 5.5: control frame payloads are at most 125 bytes; 2 of them hold the code. */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * Whether `code` may appear in a Close frame on the wire: 1000-1003, 1007-1014
 * (RFC 6455 7.4.1 and IANA), and 3000-4999 (registered and private use, 7.4.2).
 * 0-999, 1004-1006, 1015, 1016-2999 and 5000+ are invalid (RFC 6455 7.4.1:
 * 1005, 1006 and 1015 "MUST NOT be set as a status code in a Close control frame"),
 * and so is any non-integer (it would be truncated to another code when encoded).
 */
export function isValidWireCloseCode(code: number): boolean {
  return (
    Number.isInteger(code) &&
    ((code >= 1000 && code <= 1003) ||
      (code >= 1007 && code <= 1014) ||
      (code >= 3000 && code <= 4999))
  );
}

/** The result of parsing a Close payload. */
export type ClosePayload =
  | { ok: true; code: number; reason: string }
  | { ok: false; error: 'CLOSE_PAYLOAD_TOO_SHORT' | 'INVALID_CLOSE_CODE' | 'INVALID_CLOSE_REASON' };

const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * Parses a Close frame's payload. An empty payload means "no status"
 * ({@link CloseCode.NO_STATUS_RECEIVED}); a 1-byte payload, a code that may not
 * appear on the wire, or a reason that is not valid UTF-8 is an error.
 */
export function parseClosePayload(payload: Uint8Array): ClosePayload {
  if (payload.length === 0) return { ok: true, code: CloseCode.NO_STATUS_RECEIVED, reason: '' };
  // RFC 6455 5.5.1: "If there is a body, the first two bytes of the body MUST be
  // a 2-byte unsigned integer (in network byte order) representing a status code".
  if (payload.length === 1) return { ok: false, error: 'CLOSE_PAYLOAD_TOO_SHORT' };
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isValidWireCloseCode(code)) return { ok: false, error: 'INVALID_CLOSE_CODE' };
  if (payload.length === 2) return { ok: true, code, reason: '' };
  const validator = new Utf8Validator();
  if (!validator.update(payload, 2) || !validator.complete) {
    return { ok: false, error: 'INVALID_CLOSE_REASON' };
  }
  return { ok: true, code, reason: decoder.decode(payload.subarray(2)) };
}

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/**
 * Builds a Close payload. `code` undefined gives an empty payload (the peer
 * then reports 1005). The caller has validated the code and the reason length.
 */
export function encodeClosePayload(code: number | undefined, reason = ''): Uint8Array {
  if (code === undefined) return new Uint8Array(0);
  const reasonBytes = reason === '' ? EMPTY : encoder.encode(reason);
  const payload = new Uint8Array(2 + reasonBytes.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  return payload;
}

/** UTF-8 length of `reason`, to check it against {@link MAX_CLOSE_REASON_BYTES}. */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}
