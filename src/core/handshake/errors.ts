/**
 * Why an opening handshake failed, on either side, with the HTTP status a
 * server answers each case with.
 */

/** Why a handshake failed. `status` is the HTTP status a server answers with. */
export const HandshakeErrorCode = {
  HEADERS_TOO_LARGE: 431,
  TOO_MANY_HEADERS: 431,
  MALFORMED_HTTP: 400,
  UNEXPECTED_STATUS: 0,
  REDIRECT: 0,
  BAD_UPGRADE: 400,
  BAD_CONNECTION: 400,
  BAD_ACCEPT: 0,
  UNREQUESTED_PROTOCOL: 0,
  MISSING_PROTOCOL: 0,
  UNREQUESTED_EXTENSION: 0,
  BAD_METHOD: 405,
  BAD_HTTP_VERSION: 400,
  MISSING_HOST: 400,
  BAD_KEY: 400,
  BAD_VERSION: 426,
  BAD_PROTOCOL_HEADER: 400,
  NOT_UPGRADE: 426,
  FORBIDDEN_ORIGIN: 403,
  MALFORMED_EXTENSION_OFFER: 400,
} as const;
export type HandshakeErrorCode = keyof typeof HandshakeErrorCode;

/** A failed opening handshake, on either side. */
export class HandshakeError extends Error {
  override readonly name = 'HandshakeError';
  readonly code: HandshakeErrorCode;
  /** HTTP status a server answers this with (0 for errors only a client detects). */
  readonly status: number;
  /** Extra response headers a server sends with the error (e.g. the supported version). */
  readonly headers: ReadonlyArray<readonly [string, string]>;

  constructor(
    code: HandshakeErrorCode,
    message: string,
    headers: ReadonlyArray<readonly [string, string]> = [],
  ) {
    super(message);
    this.code = code;
    this.status = HandshakeErrorCode[code];
    this.headers = headers;
  }
}
