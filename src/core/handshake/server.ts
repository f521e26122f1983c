/**
 * The server's side of the opening handshake (RFC 6455 4.2), as decisions
 * that return values, after python-websockets' ServerProtocol: {@link
 * ServerHandshake.check} validates a request, {@link ServerHandshake.accept}
 * and {@link ServerHandshake.reject} return the response to send. Writing it,
 * and anything asynchronous in between (authentication), is the I/O layer's.
 */
import { HandshakeError } from './errors.js';
import { NO_SERVER_EXTENSIONS, type ServerExtensions } from './extensions.js';
import { hasToken, isToken, latin1Bytes, splitList, validateUserHeaders } from './http.js';
import { acceptKey, isValidKey, WEBSOCKET_VERSION, type Sha1Base64 } from './keys.js';

/** What a valid client request carries. */
export interface ClientHandshake {
  key: string;
  /** Subprotocols offered, in the client's order of preference. */
  protocols: string[];
  /** The raw Sec-WebSocket-Extensions offer ('' if none). */
  extensions: string;
}

/** The parts of a request the server validates, however it was parsed. */
export interface RequestLike {
  method: string;
  httpVersion: string;
  /** Header lookup by lower-case name; repeated fields joined with ", ". */
  header(name: string): string | undefined;
  /** How many field lines carry `name`. */
  headerCount(name: string): number;
  /** How many header lines the request had in all (checked against `maxHeaderCount`). */
  headerLines?: number;
}

/** Whether an HTTP version ("1.0", "2"...) is 1.1 or higher. */
function atLeastHttp11(version: string): boolean {
  const [major, minor] = version.split('.').map(Number);
  return major !== undefined && (major > 1 || (major === 1 && (minor ?? 0) >= 1));
}

/**
 * Validates a client's opening handshake (RFC 6455 4.2.1). Throws
 * {@link HandshakeError} whose `status` and `headers` form the HTTP answer.
 */
export function validateClientRequest(req: RequestLike): ClientHandshake {
  // "An HTTP/1.1 or higher GET request"
  if (req.method !== 'GET') {
    throw new HandshakeError(
      'BAD_METHOD',
      `Method ${req.method} not allowed; a WebSocket handshake is a GET`,
      [['Allow', 'GET']],
    );
  }
  if (req.httpVersion !== '1.1' && !atLeastHttp11(req.httpVersion)) {
    throw new HandshakeError('BAD_HTTP_VERSION', 'A WebSocket handshake needs HTTP/1.1 or higher');
  }
  if (req.header('host') === undefined) {
    throw new HandshakeError('MISSING_HOST', 'Missing Host header');
  }
  // "An |Upgrade| header field containing the value "websocket""
  const upgrade = req.header('upgrade');
  if (upgrade === undefined) {
    throw new HandshakeError(
      'NOT_UPGRADE',
      'This is a WebSocket endpoint: send "Upgrade: websocket"',
      [
        ['Upgrade', 'websocket'],
        ['Connection', 'Upgrade'],
      ],
    );
  }
  if (!hasToken(upgrade, 'websocket')) {
    throw new HandshakeError(
      'BAD_UPGRADE',
      `Unsupported upgrade "${upgrade}"; expected "websocket"`,
    );
  }
  // "A |Connection| header field that includes the token "Upgrade""
  if (!hasToken(req.header('connection'), 'upgrade')) {
    throw new HandshakeError('BAD_CONNECTION', 'Missing "Upgrade" token in the Connection header');
  }
  // "A |Sec-WebSocket-Version| header field, with a value of 13." (4.2.2: else
  // answer with an error such as 426 and the versions the server supports)
  if (req.header('sec-websocket-version') !== WEBSOCKET_VERSION) {
    throw new HandshakeError(
      'BAD_VERSION',
      'Unsupported or missing Sec-WebSocket-Version; this server speaks version 13',
      [['Sec-WebSocket-Version', WEBSOCKET_VERSION]],
    );
  }
  // "A |Sec-WebSocket-Key| header field with a base64-encoded value that, when
  // decoded, is 16 bytes in length."
  const key = req.header('sec-websocket-key');
  if (key === undefined || req.headerCount('sec-websocket-key') !== 1 || !isValidKey(key)) {
    throw new HandshakeError('BAD_KEY', 'Missing or invalid Sec-WebSocket-Key');
  }
  const protocols: string[] = [];
  const protoHeader = req.header('sec-websocket-protocol');
  if (protoHeader !== undefined) {
    for (const p of splitList(protoHeader)) {
      if (!isToken(p) || protocols.includes(p)) {
        throw new HandshakeError('BAD_PROTOCOL_HEADER', 'Invalid Sec-WebSocket-Protocol header');
      }
      protocols.push(p);
    }
  }
  return { key, protocols, extensions: req.header('sec-websocket-extensions') ?? '' };
}

/** An HTTP response of the handshake: 101 to accept, a 4xx or 5xx status to refuse. */
export interface HandshakeResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** Plain-text body; '' for a 101. An error response closes the connection after it. */
  readonly body: string;
}

const STATUS_TEXT: Record<number, string> = {
  101: 'Switching Protocols',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** The 101 response that accepts a request with Sec-WebSocket-Key `key` (RFC 6455 4.2.2). */
export function acceptResponse(o: {
  key: string;
  /** The SHA-1 the I/O layer supplies. */
  sha1Base64: Sha1Base64;
  protocol?: string;
  extensions?: string;
  headers?: ReadonlyArray<readonly [string, string]>;
}): HandshakeResponse {
  const headers: Array<readonly [string, string]> = [
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Accept', acceptKey(o.key, o.sha1Base64)],
  ];
  if (o.protocol !== undefined && o.protocol !== '')
    headers.push(['Sec-WebSocket-Protocol', o.protocol]);
  if (o.extensions !== undefined && o.extensions !== '')
    headers.push(['Sec-WebSocket-Extensions', o.extensions]);
  if (o.headers !== undefined) for (const header of o.headers) headers.push(header);
  return { status: 101, statusText: STATUS_TEXT[101]!, headers, body: '' };
}

/** An error response with a short plain-text body; the connection closes after it. */
export function rejectResponse(
  status: number,
  message: string,
  headers: ReadonlyArray<readonly [string, string]> = [],
): HandshakeResponse {
  const body = `${message}\n`;
  return {
    status,
    statusText: STATUS_TEXT[status] ?? 'Error',
    headers: [
      ['Connection', 'close'],
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Content-Length', String(utf8Encoder.encode(body).length)],
      ...headers,
    ],
    body,
  };
}

const utf8Encoder = new TextEncoder();

/** The response as text: status line, header lines, blank line, body. */
export function serializeResponse(response: HandshakeResponse): string {
  let text = `HTTP/1.1 ${response.status} ${response.statusText}\r\n`;
  const headers = response.headers;
  for (let i = 0; i < headers.length; i++) text += `${headers[i]![0]}: ${headers[i]![1]}\r\n`;
  return `${text}\r\n${response.body}`;
}

/**
 * The response as bytes: the head one byte per character (its values are
 * Latin-1, see {@link latin1Bytes}), the body as UTF-8 (`rejectResponse`'s
 * `Content-Type`).
 */
export function encodeResponse(response: HandshakeResponse): Uint8Array {
  const body = response.body;
  if (body === '') return latin1Bytes(serializeResponse(response));
  const head = latin1Bytes(serializeResponse({ ...response, body: '' }));
  const tail = utf8Encoder.encode(body);
  const bytes = new Uint8Array(head.length + tail.length);
  bytes.set(head);
  bytes.set(tail, head.length);
  return bytes;
}

/** The server's 101 response as text (RFC 6455 4.2.2). */
export function buildServerResponse(o: Parameters<typeof acceptResponse>[0]): string {
  return serializeResponse(acceptResponse(o));
}

/** A complete HTTP error response with a short plain-text body; the connection closes after it. */
export function buildErrorResponse(
  status: number,
  message: string,
  headers: ReadonlyArray<readonly [string, string]> = [],
): string {
  return serializeResponse(rejectResponse(status, message, headers));
}

/** Options of {@link ServerHandshake}. */
export interface ServerHandshakeOptions {
  /** SHA-1 for the accept key, from the I/O layer (node:crypto's, in Node, Deno and Bun). */
  sha1Base64: Sha1Base64;
  /**
   * Subprotocols the server speaks: the first protocol of the client's offer
   * that is in this list is selected; default none.
   */
  protocols?: readonly string[];
  /**
   * Origins allowed to connect (exact `Origin` values); a request from any
   * other origin is refused with 403. Stops cross-site WebSocket hijacking.
   * Requests without an Origin header (non-browser clients) pass. Default: any.
   */
  allowOrigins?: readonly string[];
  /**
   * Most header lines a request may have; more are refused with 431 (as the
   * client refuses such a response). Stops header floods (ws
   * CVE-2024-37890). Default: no check here (the HTTP parser's own limit).
   */
  maxHeaderCount?: number;
  /** Extension negotiation; default none ({@link NO_SERVER_EXTENSIONS}). */
  extensions?: ServerExtensions;
}

/** The outcome of {@link ServerHandshake.check}. */
export type RequestCheck =
  | { readonly ok: true; readonly request: ClientHandshake }
  | { readonly ok: false; readonly error: HandshakeError; readonly response: HandshakeResponse };

/** The server's accept/reject decision for opening handshakes, sans I/O. */
export class ServerHandshake {
  readonly #protocols: readonly string[];
  readonly #allowOrigins: readonly string[] | undefined;
  readonly #maxHeaderCount: number;
  readonly #extensions: ServerExtensions;
  readonly #sha1Base64: Sha1Base64;

  constructor(options: ServerHandshakeOptions) {
    this.#sha1Base64 = options.sha1Base64;
    this.#protocols = options.protocols ?? [];
    this.#allowOrigins = options.allowOrigins;
    this.#maxHeaderCount = options.maxHeaderCount ?? Infinity;
    this.#extensions = options.extensions ?? NO_SERVER_EXTENSIONS;
  }

  /**
   * Checks a request: the header count, RFC 6455 4.2.1, then the origin.
   * Returns the client's handshake, or the error and the response that refuses it.
   */
  check(req: RequestLike): RequestCheck {
    try {
      if ((req.headerLines ?? 0) > this.#maxHeaderCount) {
        throw new HandshakeError(
          'TOO_MANY_HEADERS',
          `More than ${this.#maxHeaderCount} header fields`,
        );
      }
      const request = validateClientRequest(req);
      const origin = req.header('origin');
      if (
        this.#allowOrigins !== undefined &&
        origin !== undefined &&
        !this.#allowOrigins.includes(origin)
      ) {
        throw new HandshakeError('FORBIDDEN_ORIGIN', `Origin ${origin} is not allowed`);
      }
      return { ok: true, request };
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      return {
        ok: false,
        error,
        response: this.reject(error.status, error.message, error.headers),
      };
    }
  }

  /** The subprotocol for an offer: the first offered one this server speaks, '' for none. */
  selectProtocol(offered: readonly string[]): string {
    return offered.find((p) => this.#protocols.includes(p)) ?? '';
  }

  /**
   * The response that accepts a checked request: 101 with the accept key, the
   * subprotocol (`protocol`, or {@link selectProtocol}'s choice when
   * undefined), the extensions the negotiation agreed to, and extra
   * `headers`. A refusal (400) if the extension offer is malformed. Throws
   * TypeError when `protocol` was not offered or a header is not valid to
   * send: the application's mistake, for the caller to answer with 500.
   */
  accept(
    request: ClientHandshake,
    options: { protocol?: string; headers?: Iterable<readonly [string, string]> } = {},
  ): HandshakeResponse {
    let protocol = options.protocol;
    if (protocol === undefined) {
      protocol = this.selectProtocol(request.protocols);
    } else if (protocol !== '' && !request.protocols.includes(protocol)) {
      // RFC 6455 4.2.2: the selected subprotocol is one "the client has indicated".
      throw new TypeError(`Subprotocol "${protocol}" was not offered by the client`);
    }
    const headers =
      options.headers === undefined ? undefined : validateUserHeaders(options.headers);
    let extensions: string;
    try {
      extensions = this.#extensions.respond(request.extensions);
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      return this.reject(error.status, error.message, error.headers);
    }
    return acceptResponse({
      key: request.key,
      sha1Base64: this.#sha1Base64,
      protocol,
      extensions,
      headers,
    });
  }

  /** The response that refuses a request: `status` (4xx or 5xx) with `message` as its body. */
  reject(
    status: number,
    message: string,
    headers: ReadonlyArray<readonly [string, string]> = [],
  ): HandshakeResponse {
    return rejectResponse(status, message, headers);
  }
}
