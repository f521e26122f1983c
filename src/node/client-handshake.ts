/**
 * The client's side of the opening handshake (RFC 6455 4.1), shared by the
 * Node and Deno connectors: the request head to write, then the response
 * head read and checked, whatever carries the bytes. Also the errors both
 * connectors reject with, so that they name failures the same way.
 */
import { CloseCode } from '../core/close.js';
import { PerMessageDeflateClient } from '../core/extensions/deflate-handshake.js';
import { PerMessageDeflate } from '../core/extensions/permessage-deflate.js';
import {
  buildClientRequest,
  generateKey,
  HandshakeError,
  HttpHeadReader,
  parseResponseHead,
  validateServerResponse,
} from '../core/handshake/index.js';
import type { ConnectRequest, ConnectResult } from '../streams/connector.js';
import { createWebSocketError, type WebSocketError } from '../streams/websocket-error.js';
import { sha1Base64 } from './sha1.js';
import { nodeDeflateEngine } from './zlib-deflate.js';

/** A handshake that succeeded: everything of a {@link ConnectResult} but the transport. */
export type AcceptedHandshake = Omit<ConnectResult, 'transport'>;

/** One opening handshake of a client: its key, its permessage-deflate offer, its response reader. */
export class ClientHandshake {
  readonly #request: ConnectRequest;
  readonly #key = generateKey();
  /** The permessage-deflate offer (zlib from node:zlib, on Deno too), or undefined for none. */
  readonly #deflate: PerMessageDeflateClient | undefined;
  readonly #reader = new HttpHeadReader();
  /** Bytes of the interim (1xx) response heads skipped so far. */
  #interimBytes = 0;

  constructor(request: ConnectRequest) {
    this.#request = request;
    this.#deflate =
      request.perMessageDeflate === null
        ? undefined
        : new PerMessageDeflateClient(request.perMessageDeflate);
  }

  /** The HTTP upgrade request to send. */
  requestHead(): string {
    const { url } = this.#request;
    return buildClientRequest({
      host: url.host,
      path: `${url.pathname === '' ? '/' : url.pathname}${url.search}`,
      key: this.#key,
      protocols: this.#request.protocols,
      headers: this.#request.headers,
      extensions: this.#deflate?.offer(),
    });
  }

  /**
   * Takes bytes of the response: null while its head is incomplete, then
   * what was agreed. Throws a HandshakeError for a response that fails the
   * checks of RFC 6455 4.1 (and RFC 7692 7.1 for the extension's answer).
   */
  push(chunk: Uint8Array): AcceptedHandshake | null {
    let result = this.#reader.push(chunk);
    if (result === null) return null;
    let response = parseResponseHead(result.head, this.#reader.maxHeaderCount);
    // RFC 9110 15.2: a client "MUST be able to parse one or more 1xx responses
    // received prior to a final response". Interim answers (100 Continue,
    // 103 Early Hints from a proxy or CDN) are skipped, as Fetch and ws do; 101
    // is the answer itself. All of them together count against the head limit.
    while (response.status >= 100 && response.status < 200 && response.status !== 101) {
      this.#interimBytes += result.head.length + 4;
      if (this.#interimBytes > this.#reader.maxHeaderSize) {
        throw new HandshakeError(
          'HEADERS_TOO_LARGE',
          `Interim (1xx) responses of more than ${this.#reader.maxHeaderSize} bytes before the 101`,
        );
      }
      result = this.#reader.push(result.rest);
      if (result === null) return null;
      response = parseResponseHead(result.head, this.#reader.maxHeaderCount);
    }
    const deflate = this.#deflate;
    const negotiated = validateServerResponse(response, {
      key: this.#key,
      sha1Base64,
      protocols: this.#request.protocols,
      // RFC 7692 7.1: a bad answer fails the handshake, naming the parameter.
      extensions: deflate,
    });
    const agreed = deflate?.agreed ?? null;
    return {
      protocol: negotiated.protocol,
      extensions: negotiated.extensions,
      extension:
        agreed === null || deflate === undefined
          ? undefined
          : new PerMessageDeflate('client', agreed, nodeDeflateEngine, deflate.options),
      // A copy: the chunk may be a view of a reused read buffer (a Buffer's
      // slice() would be a view too, hence Uint8Array's).
      rest: Uint8Array.prototype.slice.call(result.rest),
    };
  }
}

/** The response was refused (a HandshakeError) or could not be read. */
export function handshakeFailed(target: string, error: unknown): WebSocketError {
  const message = error instanceof HandshakeError ? error.message : String(error);
  return createWebSocketError(
    `WebSocket handshake with ${target} failed: ${message}`,
    CloseCode.ABNORMAL_CLOSURE,
    '',
    error,
  );
}

/** The connection failed before the handshake completed (`what`: "Connection", "Connection (TLS)"). */
export function connectionFailed(
  target: string,
  error: unknown,
  what = 'Connection',
): WebSocketError {
  return createWebSocketError(
    `${what} to ${target} failed: ${(error as Error).message}`,
    CloseCode.ABNORMAL_CLOSURE,
    '',
    error,
  );
}

/** The peer closed the connection before its handshake response was complete. */
export function closedDuringHandshake(target: string): WebSocketError {
  return createWebSocketError(
    `Connection to ${target} closed during the opening handshake`,
    CloseCode.ABNORMAL_CLOSURE,
  );
}
