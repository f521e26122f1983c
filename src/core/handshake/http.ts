/**
 * HTTP/1.1 for the opening handshake: the token and field-value grammar, an
 * incremental reader for a request or response head with size and count
 * limits, and the parsers of the head's first line and header lines.
 */
import { HandshakeError } from './errors.js';

/** Default of {@link HttpHeadReaderOptions.maxHeaderSize}: 16 KiB, as Node's HTTP parser. */
export const DEFAULT_MAX_HEADER_SIZE = 16 * 1024;
/**
 * Default of {@link HttpHeadReaderOptions.maxHeaderCount}: 100 header lines.
 * Both sides refuse a head with more lines as TOO_MANY_HEADERS (431).
 */
export const DEFAULT_MAX_HEADER_COUNT = 100;

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

/**
 * Whether a comma-separated header value contains `token` (ASCII
 * case-insensitive), element by element as {@link splitList} would split
 * them, without making the list: only an element of the token's length is
 * lower-cased. Runs for every handshake (`Upgrade`, `Connection`).
 */
export function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  const wanted = token.toLowerCase();
  for (let start = 0; ;) {
    const comma = value.indexOf(',', start);
    const element = (comma < 0 ? value.slice(start) : value.slice(start, comma)).trim();
    if (
      element.length === wanted.length &&
      (element === wanted || element.toLowerCase() === wanted)
    )
      return true;
    if (comma < 0) return false;
    start = comma + 1;
  }
}

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

/**
 * A head to send as bytes, one per character (ISO-8859-1): header values are
 * octets (RFC 9110 5.5), and {@link isValidHeaderValue} keeps every character
 * of a value within one byte. The counterpart of how heads are read, and what
 * browsers and Node's http send for a value such as `café`.
 */
export function latin1Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** Decodes ASCII heads (nearly every one) in one native call. */
const asciiDecoder = new TextDecoder('utf-8');

/**
 * The head's bytes as ISO-8859-1 text, one character per byte (RFC 9110 5.5:
 * field values are octets; obs-text stays what it was on the wire).
 */
function latin1(bytes: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i]! > 0x7f) {
      ascii = false;
      break;
    }
  }
  // For ASCII, UTF-8 decoding gives the same characters, natively.
  if (ascii) return asciiDecoder.decode(bytes);
  let s = '';
  const step = 8192;
  for (let i = 0; i < bytes.length; i += step) {
    s += String.fromCharCode.apply(
      null,
      bytes.subarray(i, Math.min(i + step, bytes.length)) as unknown as number[],
    );
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
    // As node:http refuses them: a header meant to be left out is never sent as "null".
    if (value === null || value === undefined) {
      throw new TypeError(`Invalid value for header ${name}: ${String(value)}`);
    }
    const v = String(value);
    if (!isValidHeaderValue(v)) {
      throw new TypeError(
        `Invalid value for header ${name}: CR, LF, NUL and characters beyond U+00FF are not allowed`,
      );
    }
    out.push([name, v]);
  }
  return out;
}
