/**
 * Options of WebSocketStream: the two of the standard (`protocols`, `signal`)
 * and wsstream's documented extensions.
 */
import type { SessionOptions } from './session.js';

/** PEM text or DER bytes. */
export type PemOrDer = string | Uint8Array;

/** TLS options for `wss:` (extension). Passed to the platform's TLS client. */
export interface TlsClientOptions {
  /** Trusted CA certificates, replacing the default list (use for self-signed servers). */
  ca?: PemOrDer | PemOrDer[];
  /** Client certificate chain for mutual TLS. */
  cert?: PemOrDer | PemOrDer[];
  /** Private key of the client certificate. */
  key?: PemOrDer | PemOrDer[];
  /** Passphrase of the private key. */
  passphrase?: string;
  /** Server name for SNI and certificate checks; default the URL's host name (none for IP addresses). */
  servername?: string;
  /** Verify the server's certificate; default true. Setting false disables protection against impersonation. */
  rejectUnauthorized?: boolean;
}

/**
 * Headers: a record (a value that is an array gives one line per element,
 * as node:http's setHeader()), a list of pairs, a Headers or a Map.
 */
export type HeadersInput =
  | Record<string, string | readonly string[]>
  | Iterable<readonly [string, string]>
  | Headers
  | Map<string, string>;

/**
 * The name/value pairs of `headers`, in order, not yet validated (see
 * `validateUserHeaders`). A record's array value becomes one pair per
 * element: `{ 'Set-Cookie': ['a=1', 'b=2'] }` is two Set-Cookie lines, not
 * one joined with a comma.
 */
export function headerPairs(headers: HeadersInput): Array<readonly [string, string]> {
  if (Symbol.iterator in headers) return [...(headers as Iterable<readonly [string, string]>)];
  const pairs: Array<readonly [string, string]> = [];
  for (const [name, value] of Object.entries(headers)) {
    if (Array.isArray(value)) for (const v of value as unknown[]) pairs.push([name, v as string]);
    else pairs.push([name, value as string]);
  }
  return pairs;
}

/** Default of {@link WebSocketStreamOptions.handshakeTimeout}: 30 s. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 30_000;

export interface WebSocketStreamOptions extends SessionOptions {
  /** Subprotocols to offer, in order of preference (standard). */
  protocols?: string[];
  /** Aborts the connection attempt; no effect once the connection is open (standard). */
  signal?: AbortSignal;
  /**
   * Extra request headers (extension). Names must be HTTP tokens and values
   * free of CR, LF and NUL (header injection) and within U+00FF (sent one
   * byte per character, as browsers do); the handshake's own fields
   * (Upgrade, Connection, Sec-WebSocket-*) cannot be overridden. `Host` can.
   */
  headers?: HeadersInput;
  /** TLS options for `wss:` (extension). */
  tls?: TlsClientOptions;
  /**
   * HTTP proxy to tunnel through with CONNECT, for `ws:` and `wss:` alike
   * (extension): `http://[user:password@]host[:port]` (Basic authentication
   * from the URL's credentials), `'env'` to follow HTTPS_PROXY / HTTP_PROXY /
   * NO_PROXY, `false` or `null` for a direct connection. Default: direct,
   * unless Node runs with NODE_USE_ENV_PROXY=1 (then `'env'`). See docs/proxy.md.
   */
  proxy?: string | URL | false | null;
  /**
   * Connect to this Unix domain socket instead of the URL's host and port
   * (extension; ws's `ws+unix:`); the URL still gives the Host header, the
   * path and, for `wss:`, the name the certificate is checked against.
   * No proxy is used. Default: none.
   */
  socketPath?: string;
  /**
   * Milliseconds for TCP connect, TLS and the HTTP upgrade together before the
   * attempt fails (extension); default 30 s. Stops a silent server from
   * holding the attempt forever.
   */
  handshakeTimeout?: number;
}
