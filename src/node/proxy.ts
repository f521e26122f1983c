/**
 * HTTP CONNECT tunnels (RFC 9110 9.3.6): the request a client sends to its
 * proxy and the reading of the proxy's answer. Sans-I/O; the dialer writes
 * and reads the socket.
 */
import {
  HandshakeError,
  HttpHeadReader,
  isValidHeaderValue,
  parseResponseHead,
} from '../core/handshake/index.js';
import { redactProxyUrl } from '../streams/proxy-option.js';
import { portOf } from './proxy-env.js';

/**
 * Largest answer head accepted from a proxy, in bytes: 16 KiB (the core's
 * HTTP head limit). Stops a hostile or broken proxy from making the client
 * buffer an endless header section.
 */
export const MAX_PROXY_ANSWER_SIZE = 16 * 1024;

/** Why a proxy did not open the tunnel: the `cause` of the WebSocketError. */
export class ProxyError extends Error {
  override readonly name = 'ProxyError';
  /** The HTTP status the proxy answered with (407, 403, 502...); 0 when it gave no valid answer. */
  readonly status: number;
  /** The reason phrase of the answer ("" when none). */
  readonly statusText: string;
  /** The proxy, without credentials: `http://host:port`. */
  readonly proxy: string;

  constructor(message: string, proxy: string, status = 0, statusText = '') {
    super(message);
    this.proxy = proxy;
    this.status = status;
    this.statusText = statusText;
  }
}

/** `host:port` of the URL, as the request target of CONNECT (IPv6 in brackets). */
export function authorityOf(url: URL): string {
  return `${url.hostname}:${portOf(url)}`;
}

/** Basic credentials (RFC 7617) from the proxy URL's user and password, or null. */
export function proxyCredentials(proxy: URL): string | null {
  if (proxy.username === '' && proxy.password === '') return null;
  const pair = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
}

/** The CONNECT request for a tunnel to `target` through `proxy`. */
export function buildConnectRequest(target: URL, proxy: URL): string {
  const authority = authorityOf(target);
  // RFC 9110 9.3.6: "A client sending a CONNECT request MUST send the authority
  // form of request-target"; RFC 9112 3.2: "A client MUST send a Host header
  // field in all HTTP/1.1 request messages".
  let head = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
  const credentials = proxyCredentials(proxy);
  if (credentials !== null) {
    if (!isValidHeaderValue(credentials)) throw new TypeError('Invalid proxy credentials');
    head += `Proxy-Authorization: ${credentials}\r\n`;
  }
  return `${head}\r\n`;
}

/**
 * Reads the proxy's answer to CONNECT, split anywhere. `push` returns false
 * while the head is incomplete and true once the tunnel is open; it throws a
 * {@link ProxyError} when the proxy refused, sent something that is not HTTP,
 * an answer over {@link MAX_PROXY_ANSWER_SIZE}, or bytes after its answer.
 */
export class ConnectAnswerReader {
  readonly #reader = new HttpHeadReader({ maxHeaderSize: MAX_PROXY_ANSWER_SIZE });
  readonly #proxy: string;
  readonly #target: string;
  /** Bytes of the interim (1xx) answers skipped so far. */
  #interimBytes = 0;

  constructor(proxy: URL, target: URL) {
    this.#proxy = redactProxyUrl(proxy);
    this.#target = authorityOf(target);
  }

  push(chunk: Uint8Array): boolean {
    let result: ReturnType<HttpHeadReader['push']>;
    let status: number;
    let statusText: string;
    try {
      result = this.#reader.push(chunk);
      if (result === null) return false;
      ({ status, statusText } = parseResponseHead(result.head));
      // RFC 9110 15.2: a client "MUST be able to parse one or more 1xx
      // responses received prior to a final response" (100 Continue, 103
      // Early Hints): skipped, within the same bound as one answer.
      while (status >= 100 && status < 200) {
        this.#interimBytes += result.head.length + 4;
        if (this.#interimBytes > MAX_PROXY_ANSWER_SIZE) {
          throw new HandshakeError(
            'HEADERS_TOO_LARGE',
            `interim (1xx) answers of more than ${MAX_PROXY_ANSWER_SIZE} bytes`,
          );
        }
        result = this.#reader.push(result.rest);
        if (result === null) return false;
        ({ status, statusText } = parseResponseHead(result.head));
      }
    } catch (error) {
      const why = error instanceof HandshakeError ? error.message : String(error);
      throw new ProxyError(
        `Proxy ${this.#proxy} sent an invalid answer to CONNECT ${this.#target}: ${why}`,
        this.#proxy,
      );
    }
    // RFC 9110 9.3.6: "Any 2xx (Successful) response indicates that the sender
    // (and all inbound proxies) will switch to tunnel mode"; any other status
    // means the tunnel was not opened.
    if (status < 200 || status > 299) {
      const hint =
        status === 407 || status === 401
          ? ' (credentials missing or rejected: put them in the proxy URL, http://user:password@host:port)'
          : '';
      throw new ProxyError(
        `Proxy ${this.#proxy} refused CONNECT ${this.#target}: ${status}${statusText === '' ? '' : ` ${statusText}`}${hint}`,
        this.#proxy,
        status,
        statusText,
      );
    }
    // The origin cannot speak before the client does (the WebSocket request, or
    // the TLS ClientHello), so bytes here are not the origin's.
    if (result.rest.length > 0) {
      throw new ProxyError(
        `Proxy ${this.#proxy} sent ${result.rest.length} unexpected bytes after its answer to CONNECT ${this.#target}`,
        this.#proxy,
        status,
        statusText,
      );
    }
    return true;
  }
}
