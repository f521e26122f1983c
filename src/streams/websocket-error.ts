/**
 * WebSocketError: the DOMException subclass of the WebSocketStream standard,
 * carrying the close code and reason of an unclean close or failed handshake.
 */
import { MAX_CLOSE_REASON_BYTES, utf8Length } from '../core/close.js';
import type { ConnectionFailure } from '../core/connection.js';
import { ProtocolError } from '../core/errors.js';

/** The close information of the standard (`closeCode`, not `code`: DOMException owns that name). */
export interface WebSocketCloseInfo {
  closeCode?: number;
  reason?: string;
}

/** Internal construction without the user-facing validation (1006 and 1002 are legitimate here). */
const INTERNAL = Symbol('internal');

/**
 * Converts a close code as WebIDL's `[EnforceRange] unsigned short` does:
 * a TypeError for NaN, infinities and values out of 0-65535.
 */
export function enforceUnsignedShort(value: unknown): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new TypeError('closeCode must be a finite number');
  const t = Math.trunc(n);
  if (t < 0 || t > 65535) throw new TypeError('closeCode must be between 0 and 65535');
  return t;
}

/**
 * Whether an application may send this close code: 1000 or 3000-4999 (the
 * rule of `close()`, and for the closeCode of abort and cancel reasons).
 */
export function isSendableCloseCode(code: number | null | undefined): boolean {
  return code === 1000 || (code != null && code >= 3000 && code <= 4999);
}

/**
 * "Validate close code and reason": a code must be 1000 or 3000-4999
 * (InvalidAccessError), the reason at most 123 bytes of UTF-8 (SyntaxError).
 * Returns the code to send: 1000 when only a reason is given.
 */
export function validateCloseInfo(code: number | undefined, reason: string): number | undefined {
  if (code !== undefined && !isSendableCloseCode(code)) {
    throw new DOMException(
      `Close code ${code} is not allowed: use 1000 or 3000-4999`,
      'InvalidAccessError',
    );
  }
  if (utf8Length(reason) > MAX_CLOSE_REASON_BYTES) {
    throw new DOMException(
      `Close reason is longer than ${MAX_CLOSE_REASON_BYTES} bytes of UTF-8`,
      'SyntaxError',
    );
  }
  if (code === undefined && reason !== '') return 1000;
  return code;
}

/**
 * Reads a close info dictionary as WebIDL would: `closeCode` with EnforceRange,
 * `reason` as a USVString. The legacy `code` key of early samples is accepted
 * when `closeCode` is absent.
 */
export function readCloseInfo(info: unknown): { code: number | undefined; reason: string } {
  if (info === undefined || info === null) return { code: undefined, reason: '' };
  if (typeof info !== 'object' && typeof info !== 'function') {
    throw new TypeError('close info must be an object');
  }
  const dict = info as { closeCode?: unknown; code?: unknown; reason?: unknown };
  const rawCode = dict.closeCode !== undefined ? dict.closeCode : dict.code;
  const code = rawCode === undefined ? undefined : enforceUnsignedShort(rawCode);
  // WebIDL converts any value to a string here, objects included.
  // eslint-disable-next-line @typescript-eslint/no-base-to-string
  const reason = dict.reason === undefined ? '' : toUSVString(String(dict.reason));
  return { code, reason };
}

/** Replaces lone surrogates with U+FFFD, as WebIDL's USVString conversion does. */
export function toUSVString(s: string): string {
  const wellFormed = (s as { toWellFormed?: () => string }).toWellFormed;
  if (typeof wellFormed === 'function') return wellFormed.call(s);
  return s.replace(
    /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    '\ufffd',
  );
}

/** Whether `value` is a WebSocketError made by its constructor (not merely one by its prototype). */
let isBranded: (value: unknown) => value is WebSocketError;

export class WebSocketError extends DOMException {
  readonly #closeCode: number | null;
  readonly #reason: string;

  /**
   * @param message human-readable description
   * @param init `closeCode` (1000 or 3000-4999) and `reason` (at most 123 UTF-8 bytes);
   *   a reason without a code implies 1000.
   */
  constructor(message = '', init?: WebSocketCloseInfo | null) {
    super(message, 'WebSocketError');
    // Node 24.6-24.7 lost the subclass prototype of DOMException subclasses
    // (nodejs/node#59677), hiding the getters below; restore it where needed.
    if (Object.getPrototypeOf(this) !== new.target.prototype)
      Object.setPrototypeOf(this, new.target.prototype);
    const internal =
      typeof init === 'object' &&
      init !== null &&
      (init as { [INTERNAL]?: boolean })[INTERNAL] === true;
    if (internal) {
      this.#closeCode = init.closeCode ?? null;
      this.#reason = init.reason ?? '';
      return;
    }
    const { code, reason } = readCloseInfo(init);
    this.#closeCode = validateCloseInfo(code, reason) ?? null;
    this.#reason = reason;
  }

  static {
    isBranded = (value: unknown): value is WebSocketError =>
      typeof value === 'object' && value !== null && #closeCode in value;
  }

  /** The close code, or null when there is none. */
  get closeCode(): number | null {
    return this.#closeCode;
  }

  /** The close reason ('' when there is none). */
  get reason(): string {
    return this.#reason;
  }
}

Object.defineProperty(WebSocketError.prototype, Symbol.toStringTag, {
  value: 'WebSocketError',
  configurable: true,
});

/**
 * Creates a WebSocketError with any close code (1006 for an abnormal closure,
 * 1002 for a protocol error...), bypassing the checks that apply to codes an
 * application may send. Not exported from the package.
 */
export function createWebSocketError(
  message: string,
  closeCode: number | null,
  reason = '',
  cause?: unknown,
): WebSocketError {
  const init = {
    closeCode: closeCode ?? undefined,
    reason,
    [INTERNAL]: true,
  } as WebSocketCloseInfo;
  const error = new WebSocketError(message, init);
  if (cause !== undefined) {
    Object.defineProperty(error, 'cause', { value: cause, configurable: true, writable: true });
  }
  return error;
}

/** The WebSocketError of a failed connection: the peer's violation or a local failure, with its close code. */
export function failureError(error: ProtocolError | ConnectionFailure): WebSocketError {
  const message =
    error instanceof ProtocolError ? `WebSocket protocol error: ${error.message}` : error.message;
  return createWebSocketError(message, error.closeCode, '', error);
}

/**
 * The close info an abort or cancel `reason` asks for: a WebSocketError's
 * code and reason if the code is sendable, otherwise none (a Close with no code).
 */
export function closeInfoOfReason(reason: unknown): WebSocketCloseInfo {
  // A brand check, not instanceof: an object that only has the prototype has
  // no code to read (its getters would throw): a Close with no code, as Chrome.
  return isBranded(reason) && isSendableCloseCode(reason.closeCode)
    ? { closeCode: reason.closeCode!, reason: reason.reason }
    : {};
}
