/**
 * Options of WebSocketStream: the two of the standard (`protocols`, `signal`)
 * and wsstream's documented extensions.
 */
import type { PerMessageDeflateOption } from '../core/extensions/deflate-negotiation.js';
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

/** Request headers: a record, a list of pairs, a Headers or a Map. */
export type HeadersInput =
  Record<string, string> | Iterable<readonly [string, string]> | Headers | Map<string, string>;

/** Default of {@link WebSocketStreamOptions.handshakeTimeout}: 30 s. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 30_000;

export interface WebSocketStreamOptions extends SessionOptions {
  /** Subprotocols to offer, in order of preference (standard). */
  protocols?: string[];
  /** Aborts the connection attempt; no effect once the connection is open (standard). */
  signal?: AbortSignal;
  /**
   * Extra request headers (extension). Names must be HTTP tokens and values
   * free of CR, LF and NUL (header injection); the handshake's own fields
   * (Upgrade, Connection, Sec-WebSocket-*) cannot be overridden. `Host` can.
   */
  headers?: HeadersInput;
  /** TLS options for `wss:` (extension). */
  tls?: TlsClientOptions;
  /**
   * Milliseconds for TCP connect, TLS and the HTTP upgrade together before the
   * attempt fails (extension); default 30 s. Stops a silent server from
   * holding the attempt forever.
   */
  handshakeTimeout?: number;
  /**
   * Largest message accepted, in bytes (extension); default 64 MiB. Larger
   * messages fail the connection with 1009 before they are buffered.
   */
  maxMessageSize?: number;
  /** Most frames per message (extension); default 16384. More fail the connection with 1009. */
  maxFragments?: number;
  /**
   * Send messages longer than this many bytes as several frames of at most
   * this many payload bytes (extension); default 0, never fragment. Lets a
   * peer with small buffers (or an intermediary) process a large message as
   * it arrives. Text is split between bytes, so a fragment may end inside a
   * UTF-8 sequence, as RFC 6455 5.4 allows.
   */
  fragmentSize?: number;
  /**
   * permessage-deflate, RFC 7692 (extension); default on: offers
   * `permessage-deflate; client_max_window_bits` as browsers do, and
   * `extensions` in `opened` shows what the server agreed to. `false` offers
   * nothing; an object tunes the offer (see docs/compression.md). Messages
   * under 1 KiB are sent uncompressed; `maxMessageSize` bounds the
   * decompressed size of each message received.
   */
  perMessageDeflate?: PerMessageDeflateOption;
}
