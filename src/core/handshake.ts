/**
 * The opening handshake (RFC 6455 section 4), sans I/O: keys, the client's
 * request and the server's response as text, an incremental reader for an
 * HTTP head with size and count limits, and the validation both sides must do.
 */
import { sha1 } from './sha1.js';

/** RFC 6455 1.3: the GUID concatenated with the key before hashing. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** The only protocol version (RFC 6455 4.1: "The value of this header field MUST be 13"). */
export const WEBSOCKET_VERSION = '13';

/** Default of {@link HttpHeadReaderOptions.maxHeaderSize}: 16 KiB, as Node's HTTP parser. */
export const DEFAULT_MAX_HEADER_SIZE = 16 * 1024;
/** Default of {@link HttpHeadReaderOptions.maxHeaderCount}: 100 header lines. */
export const DEFAULT_MAX_HEADER_COUNT = 100;

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
  UNREQUESTED_EXTENSION: 0,
  BAD_METHOD: 405,
  BAD_HTTP_VERSION: 400,
  MISSING_HOST: 400,
  BAD_KEY: 400,
  BAD_VERSION: 426,
  BAD_PROTOCOL_HEADER: 400,
  NOT_UPGRADE: 426,
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

// ---- keys ------------------------------------------------------------------

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Standard base64 with padding (RFC 4648 4). */
function toBase64(bytes: Uint8Array): string {
  let s = '';
  const n = bytes.length;
  let i = 0;
  for (; i + 3 <= n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    s += BASE64[v >>> 18]! + BASE64[(v >>> 12) & 63]! + BASE64[(v >>> 6) & 63]! + BASE64[v & 63]!;
  }
  if (i + 1 === n) {
    const v = bytes[i]! << 16;
    s += BASE64[v >>> 18]! + BASE64[(v >>> 12) & 63]! + '==';
  } else if (i + 2 === n) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    s += BASE64[v >>> 18]! + BASE64[(v >>> 12) & 63]! + BASE64[(v >>> 6) & 63]! + '=';
  }
  return s;
}

const utf8Encoder = new TextEncoder();

/**
 * Random bytes for keys, fetched 1 KiB (64 keys) at a time: one
 * getRandomValues call costs tens of microseconds on some runtimes.
 */
const KEY_POOL_SIZE = 1024;
const keyPool = new Uint8Array(KEY_POOL_SIZE);
let keyPoolOffset = KEY_POOL_SIZE;

/**
 * A fresh Sec-WebSocket-Key: 16 random bytes, base64. RFC 6455 4.1: "The
 * nonce MUST be selected randomly for each connection."
 */
export function generateKey(): string {
  if (keyPoolOffset === KEY_POOL_SIZE) {
    globalThis.crypto.getRandomValues(keyPool);
    keyPoolOffset = 0;
  }
  const bytes = keyPool.subarray(keyPoolOffset, keyPoolOffset + 16);
  keyPoolOffset += 16;
  return toBase64(bytes);
}

/** Sec-WebSocket-Accept for `key`: base64(SHA-1(key + GUID)) (RFC 6455 4.2.2). */
export function acceptKey(key: string): string {
  return toBase64(sha1(utf8Encoder.encode(key + WEBSOCKET_GUID)));
}

/** RFC 6455 4.2.1: the key "when decoded, is 16 bytes in length". */
export function isValidKey(key: string): boolean {
  // 16 bytes are 22 base64 characters and "==".
  if (key.length !== 24 || !key.endsWith('==')) return false;
  for (let i = 0; i < 22; i++) {
    const c = key.charCodeAt(i);
    const ok =
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === 0x2b ||
      c === 0x2f;
    if (!ok) return false;
  }
  // The last character before the padding carries 2 bits; the rest must be zero.
  return 'AQgw'.includes(key[21]!);
}

// ---- HTTP grammar ---------------------------------------------------------

const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** Whether `s` is an HTTP token (RFC 9110 5.6.2), as subprotocol names must be. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TCHAR[c] !== 1) return false;
  }
  return true;
}

/**
 * Whether `s` may be sent as a header value: no CR, LF or NUL (which would let
 * a value inject headers or a body) and no characters outside Latin-1.
 */
export function isValidHeaderValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x0d || c === 0x0a || c === 0x00 || c > 0xff) return false;
  }
  return true;
}

/** Splits a comma-separated header value into trimmed, non-empty elements (no regular expressions). */
export function splitList(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(',')) {
    const t = part.trim();
    if (t !== '') out.push(t);
  }
  return out;
}

/** Whether a comma-separated header value contains `token` (ASCII case-insensitive). */
export function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  const wanted = token.toLowerCase();
  return splitList(value).some((t) => t.toLowerCase() === wanted);
}

// ---- the HTTP head ----------------------------------------------------------

/** Header fields in arrival order, names lower-cased. */
export class HeaderList {
  readonly entries: Array<[string, string]> = [];

  add(name: string, value: string): void {
    this.entries.push([name.toLowerCase(), value]);
  }

  /** All values of `name`, joined with ", " as RFC 9110 5.3 allows; undefined if absent. */
  get(name: string): string | undefined {
    const n = name.toLowerCase();
    let out: string | undefined;
    for (const [k, v] of this.entries) {
      if (k === n) out = out === undefined ? v : `${out}, ${v}`;
    }
    return out;
  }

  /** How many field lines named `name` there are. */
  count(name: string): number {
    const n = name.toLowerCase();
    let c = 0;
    for (const [k] of this.entries) if (k === n) c++;
    return c;
  }
}

/** A parsed HTTP response head. */
export interface ResponseHead {
  httpVersion: string;
  status: number;
  statusText: string;
  headers: HeaderList;
}

/** A parsed HTTP request head. */
export interface RequestHead {
  method: string;
  target: string;
  httpVersion: string;
  headers: HeaderList;
}

/** Limits of {@link HttpHeadReader}. */
export interface HttpHeadReaderOptions {
  /** Largest head accepted, in bytes; default 16 KiB. Stops memory exhaustion by endless headers. */
  maxHeaderSize?: number;
  /** Most header lines accepted; default 100. Stops header floods (ws CVE-2024-37890). */
  maxHeaderCount?: number;
}

const CRLFCRLF = [0x0d, 0x0a, 0x0d, 0x0a];

/**
 * Collects bytes until the blank line that ends an HTTP head. Input may be
 * split anywhere; bytes after the head are returned as `rest`.
 */
export class HttpHeadReader {
  readonly maxHeaderSize: number;
  readonly maxHeaderCount: number;
  #chunks: Uint8Array[] = [];
  #size = 0;
  /** How many bytes of CRLFCRLF the input so far ends with. */
  #matched = 0;

  constructor(options: HttpHeadReaderOptions = {}) {
    this.maxHeaderSize = options.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE;
    this.maxHeaderCount = options.maxHeaderCount ?? DEFAULT_MAX_HEADER_COUNT;
  }

  /**
   * Feeds bytes. Returns null while the head is incomplete, else the head's
   * text (without the final blank line) and the bytes that followed it.
   * Throws {@link HandshakeError} when the head exceeds `maxHeaderSize`.
   */
  push(chunk: Uint8Array): { head: string; rest: Uint8Array } | null {
    let matched = this.#matched;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === CRLFCRLF[matched]) matched++;
      else matched = b === 0x0d ? 1 : 0;
      if (matched === 4) {
        const headBytes = this.#size + i + 1;
        if (headBytes > this.maxHeaderSize) break;
        this.#chunks.push(chunk.subarray(0, i + 1));
        const all = concat(this.#chunks, headBytes);
        this.#chunks = [];
        this.#size = 0;
        this.#matched = 0;
        return { head: latin1(all.subarray(0, headBytes - 4)), rest: chunk.subarray(i + 1) };
      }
    }
    this.#matched = matched;
    this.#size += chunk.length;
    if (this.#size > this.maxHeaderSize) {
      throw new HandshakeError(
        'HEADERS_TOO_LARGE',
        `HTTP head larger than ${this.maxHeaderSize} bytes`,
      );
    }
    this.#chunks.push(chunk.slice());
    return null;
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  const step = 8192;
  for (let i = 0; i < bytes.length; i += step) {
    s += String.fromCharCode(...bytes.subarray(i, Math.min(i + step, bytes.length)));
  }
  return s;
}

function parseHeaderLines(lines: string[], maxHeaderCount: number): HeaderList {
  if (lines.length > maxHeaderCount) {
    throw new HandshakeError('TOO_MANY_HEADERS', `More than ${maxHeaderCount} header fields`);
  }
  const headers = new HeaderList();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HandshakeError('MALFORMED_HTTP', 'Malformed header line');
    const name = line.slice(0, colon);
    // RFC 9112 5.1: no whitespace between the field name and the colon; 5.2: obs-fold is rejected.
    if (!isToken(name)) throw new HandshakeError('MALFORMED_HTTP', 'Malformed header field name');
    const value = line.slice(colon + 1).trim();
    if (!isValidHeaderValue(value))
      throw new HandshakeError('MALFORMED_HTTP', 'Malformed header field value');
    headers.add(name, value);
  }
  return headers;
}

/** Parses a response head as returned by {@link HttpHeadReader.push}. */
export function parseResponseHead(
  head: string,
  maxHeaderCount = DEFAULT_MAX_HEADER_COUNT,
): ResponseHead {
  const lines = head.split('\r\n');
  const statusLine = lines.shift() ?? '';
  // status-line = HTTP-version SP status-code SP [ reason-phrase ]
  const sp1 = statusLine.indexOf(' ');
  const version = statusLine.slice(0, sp1);
  const codeText = statusLine.slice(sp1 + 1, sp1 + 4);
  // The 3 digits end the line or are followed by SP: "HTTP/1.1 1010" is not a 101.
  const afterCode = statusLine.charAt(sp1 + 4);
  if (
    sp1 < 0 ||
    !version.startsWith('HTTP/') ||
    !/^[1-5][0-9][0-9]$/.test(codeText) ||
    (afterCode !== '' && afterCode !== ' ')
  ) {
    throw new HandshakeError('MALFORMED_HTTP', 'Malformed HTTP status line');
  }
  return {
    httpVersion: version.slice(5),
    status: Number(codeText),
    statusText: statusLine.slice(sp1 + 5),
    headers: parseHeaderLines(lines, maxHeaderCount),
  };
}

/** Parses a request head as returned by {@link HttpHeadReader.push}. */
export function parseRequestHead(
  head: string,
  maxHeaderCount = DEFAULT_MAX_HEADER_COUNT,
): RequestHead {
  const lines = head.split('\r\n');
  const requestLine = lines.shift() ?? '';
  const parts = requestLine.split(' ');
  if (
    parts.length !== 3 ||
    !isToken(parts[0]!) ||
    parts[1] === '' ||
    !parts[2]!.startsWith('HTTP/')
  ) {
    throw new HandshakeError('MALFORMED_HTTP', 'Malformed HTTP request line');
  }
  return {
    method: parts[0]!,
    target: parts[1]!,
    httpVersion: parts[2]!.slice(5),
    headers: parseHeaderLines(lines, maxHeaderCount),
  };
}

// ---- client side ------------------------------------------------------------

/** Header names the handshake sets itself; user headers may not set them. */
const RESERVED_REQUEST_HEADERS = new Set([
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'sec-websocket-accept',
  'content-length',
  'transfer-encoding',
]);

/**
 * Checks user-supplied request headers: names must be HTTP tokens, values free
 * of CR/LF/NUL (no header injection), and none of the handshake's own fields.
 * `Host` may be overridden. Throws TypeError naming the offending header.
 */
export function validateUserHeaders(
  headers: Iterable<readonly [string, string]>,
): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, value] of headers) {
    if (!isToken(name)) throw new TypeError(`Invalid header name ${JSON.stringify(name)}`);
    if (RESERVED_REQUEST_HEADERS.has(name.toLowerCase())) {
      throw new TypeError(
        `Header ${name} is set by the WebSocket handshake and cannot be overridden`,
      );
    }
    const v = String(value);
    if (!isValidHeaderValue(v)) {
      throw new TypeError(`Invalid value for header ${name}: CR, LF and NUL are not allowed`);
    }
    out.push([name, v]);
  }
  return out;
}

/** What a client needs to build its request. */
export interface ClientRequestOptions {
  /** Host header value: host[:port], IPv6 in brackets, default port omitted. */
  host: string;
  /** Request target: path and query. */
  path: string;
  key: string;
  protocols?: readonly string[];
  extensions?: string;
  /** Validated user headers ({@link validateUserHeaders}). */
  headers?: ReadonlyArray<readonly [string, string]>;
}

/** The client's opening handshake request (RFC 6455 4.1). */
export function buildClientRequest(o: ClientRequestOptions): string {
  let hostSet = false;
  let extra = '';
  for (const [name, value] of o.headers ?? []) {
    if (name.toLowerCase() === 'host') hostSet = true;
    extra += `${name}: ${value}\r\n`;
  }
  let req = `GET ${o.path} HTTP/1.1\r\n`;
  if (!hostSet) req += `Host: ${o.host}\r\n`;
  req += 'Upgrade: websocket\r\nConnection: Upgrade\r\n';
  req += `Sec-WebSocket-Key: ${o.key}\r\nSec-WebSocket-Version: ${WEBSOCKET_VERSION}\r\n`;
  if (o.protocols !== undefined && o.protocols.length > 0) {
    req += `Sec-WebSocket-Protocol: ${o.protocols.join(', ')}\r\n`;
  }
  if (o.extensions !== undefined && o.extensions !== '')
    req += `Sec-WebSocket-Extensions: ${o.extensions}\r\n`;
  return `${req}${extra}\r\n`;
}

/** What the client offered, to check the response against. */
export interface ClientOffer {
  key: string;
  protocols: readonly string[];
  /** Extension names offered; default none. */
  extensions?: readonly string[];
}

/** The negotiated result of a successful handshake. */
export interface Negotiated {
  protocol: string;
  extensions: string;
}

/**
 * Validates the server's response (RFC 6455 4.1, "the client MUST validate
 * the server's response"). Throws {@link HandshakeError} with a message a user
 * can act on.
 */
export function validateServerResponse(res: ResponseHead, offer: ClientOffer): Negotiated {
  if (res.status !== 101) {
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location !== undefined) {
      throw new HandshakeError(
        'REDIRECT',
        `Server responded with ${res.status} ${res.statusText}, redirecting to ${location}; redirects are not followed`,
      );
    }
    throw new HandshakeError(
      'UNEXPECTED_STATUS',
      `Server responded with ${res.status} ${res.statusText} instead of 101 Switching Protocols`.replace(
        '  ',
        ' ',
      ),
    );
  }
  // "If the response lacks an |Upgrade| header field or the |Upgrade| header field
  // contains a value that is not an ASCII case-insensitive match for the value
  // "websocket", the client MUST _Fail the WebSocket Connection_."
  const upgrade = res.headers.get('upgrade');
  if (upgrade === undefined || upgrade.trim().toLowerCase() !== 'websocket') {
    throw new HandshakeError('BAD_UPGRADE', 'Server response lacks "Upgrade: websocket"');
  }
  // "If the response lacks a |Connection| header field or the |Connection| header
  // field doesn't contain a token that is an ASCII case-insensitive match for the
  // value "Upgrade", the client MUST _Fail the WebSocket Connection_."
  if (!hasToken(res.headers.get('connection'), 'upgrade')) {
    throw new HandshakeError('BAD_CONNECTION', 'Server response lacks "Connection: Upgrade"');
  }
  const accept = res.headers.get('sec-websocket-accept');
  if (res.headers.count('sec-websocket-accept') !== 1 || accept !== acceptKey(offer.key)) {
    throw new HandshakeError(
      'BAD_ACCEPT',
      'Server response has a missing or wrong Sec-WebSocket-Accept',
    );
  }
  // "If the response includes a |Sec-WebSocket-Extensions| header field and this
  // header field indicates the use of an extension that was not present in the
  // client's handshake ..., the client MUST _Fail the WebSocket Connection_."
  const extHeader = res.headers.get('sec-websocket-extensions');
  const offeredExt = offer.extensions ?? [];
  let extensions = '';
  if (extHeader !== undefined && extHeader.trim() !== '') {
    for (const ext of splitList(extHeader)) {
      const name = ext.split(';')[0]!.trim().toLowerCase();
      if (!offeredExt.some((e) => e.toLowerCase() === name)) {
        throw new HandshakeError(
          'UNREQUESTED_EXTENSION',
          `Server accepted extension "${name}", which was not offered`,
        );
      }
    }
    extensions = extHeader.trim();
  }
  // "If the response includes a |Sec-WebSocket-Protocol| header field and this
  // header field indicates the use of a subprotocol that was not present in the
  // client's handshake ..., the client MUST _Fail the WebSocket Connection_."
  const protoHeader = res.headers.get('sec-websocket-protocol');
  let protocol = '';
  if (protoHeader !== undefined) {
    protocol = protoHeader.trim();
    if (res.headers.count('sec-websocket-protocol') !== 1 || !offer.protocols.includes(protocol)) {
      throw new HandshakeError(
        'UNREQUESTED_PROTOCOL',
        `Server selected subprotocol "${protocol}", which was not offered`,
      );
    }
  }
  return { protocol, extensions };
}

// ---- server side ------------------------------------------------------------

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
  const [major, minor] = req.httpVersion.split('.').map(Number);
  if (major === undefined || !(major > 1 || (major === 1 && (minor ?? 0) >= 1))) {
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

/** The server's 101 response (RFC 6455 4.2.2). */
export function buildServerResponse(o: {
  key: string;
  protocol?: string;
  extensions?: string;
  headers?: ReadonlyArray<readonly [string, string]>;
}): string {
  let res =
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${acceptKey(o.key)}\r\n`;
  if (o.protocol !== undefined && o.protocol !== '')
    res += `Sec-WebSocket-Protocol: ${o.protocol}\r\n`;
  if (o.extensions !== undefined && o.extensions !== '')
    res += `Sec-WebSocket-Extensions: ${o.extensions}\r\n`;
  for (const [name, value] of o.headers ?? []) res += `${name}: ${value}\r\n`;
  return `${res}\r\n`;
}

const STATUS_TEXT: Record<number, string> = {
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

/** A complete HTTP error response with a short plain-text body; the connection closes after it. */
export function buildErrorResponse(
  status: number,
  message: string,
  headers: ReadonlyArray<readonly [string, string]> = [],
): string {
  const body = `${message}\n`;
  const bodyLength = new TextEncoder().encode(body).length;
  let res = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\n`;
  res += `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${bodyLength}\r\n`;
  for (const [name, value] of headers) res += `${name}: ${value}\r\n`;
  return `${res}\r\n${body}`;
}
