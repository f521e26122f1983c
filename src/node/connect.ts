/**
 * The Node.js connector: a socket from the Dialer (TCP, TLS, a Unix socket or
 * a proxy tunnel), then the opening handshake of RFC 6455 4.1 read with the
 * core's HTTP head reader.
 */
import './diagnostics.js';
import type { Socket } from 'node:net';
import { CloseCode } from '../core/close.js';
import {
  buildClientRequest,
  generateKey,
  HandshakeError,
  HttpHeadReader,
  parseResponseHead,
  validateServerResponse,
} from '../core/handshake/index.js';
import { PerMessageDeflateClient } from '../core/extensions/deflate-handshake.js';
import { PerMessageDeflate } from '../core/extensions/permessage-deflate.js';
import { sha1Base64 } from './sha1.js';
import type { ConnectRequest, ConnectResult } from '../streams/connector.js';
import { createWebSocketError } from '../streams/websocket-error.js';
import { Dialer, type Dialed } from './dial.js';
import { type ReadRelay, SocketTransport } from './socket-transport.js';
import { nodeDeflateEngine } from './zlib-deflate.js';

/** Opens a WebSocket connection to `request.url`. Rejects with a WebSocketError naming what went wrong. */
export function connectNode(request: ConnectRequest): Promise<ConnectResult> {
  const { url, signal } = request;
  const target = url.href;

  return new Promise<ConnectResult>((resolve, reject) => {
    let done = false;
    let socket: Socket | undefined;
    let relay: ReadRelay | undefined;
    // TCP, TLS, a Unix socket or a proxy tunnel: see dial.ts.
    const dialer = new Dialer(request);

    const fail = (error: unknown): void => {
      if (done) return;
      done = true;
      cleanup();
      dialer.destroy();
      // An abort rejects with the signal's reason as given, whatever it is (WebSocketStream standard).
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      reject(error);
    };
    // The deadline covers everything: proxy CONNECT, TLS and the HTTP upgrade.
    const timer = setTimeout(() => {
      fail(
        createWebSocketError(
          `Opening handshake with ${target} timed out after ${request.handshakeTimeout} ms (${dialer.phase})`,
          CloseCode.ABNORMAL_CLOSURE,
        ),
      );
    }, request.handshakeTimeout);
    const onAbort = (): void => fail(signal.reason);
    if (signal.aborted) {
      queueMicrotask(onAbort);
    } else {
      signal.addEventListener('abort', onAbort, { once: true });
    }

    const key = generateKey();
    const deflate =
      request.perMessageDeflate === null
        ? undefined
        : new PerMessageDeflateClient(request.perMessageDeflate);
    const reader = new HttpHeadReader();
    const onConnect = (dialed: Dialed): void => {
      if (done) return;
      socket = dialed.socket;
      relay = dialed.relay;
      if (relay !== undefined) relay.setHandler(onData);
      else socket.on('data', onData);
      socket.on('error', onError);
      socket.on('close', onClose);
      dialer.phase = `waiting for the handshake response of ${target}`;
      const path = `${url.pathname === '' ? '/' : url.pathname}${url.search}`;
      socket.write(
        buildClientRequest({
          host: url.host,
          path,
          key,
          protocols: request.protocols,
          headers: request.headers,
          extensions: deflate?.offer(),
        }),
      );
    };
    const onData = (chunk: Uint8Array): void => {
      let result: ReturnType<HttpHeadReader['push']>;
      try {
        result = reader.push(chunk);
        if (result === null) return;
        const response = parseResponseHead(result.head, reader.maxHeaderCount);
        const negotiated = validateServerResponse(response, {
          key,
          sha1Base64,
          protocols: request.protocols,
          // RFC 7692 7.1: a bad answer fails the handshake, naming the parameter.
          extensions: deflate,
        });
        const agreed = deflate?.agreed ?? null;
        if (done) return;
        done = true;
        cleanup();
        socket!.pause();
        resolve({
          transport: new SocketTransport(socket!, relay),
          protocol: negotiated.protocol,
          extensions: negotiated.extensions,
          extension:
            agreed === null
              ? undefined
              : new PerMessageDeflate('client', agreed, nodeDeflateEngine, deflate!.options),
          // A copy: the chunk may be a view of the reused read buffer.
          rest: Uint8Array.prototype.slice.call(result.rest),
        });
      } catch (error) {
        const message = error instanceof HandshakeError ? error.message : String(error);
        fail(
          createWebSocketError(
            `WebSocket handshake with ${target} failed: ${message}`,
            CloseCode.ABNORMAL_CLOSURE,
            '',
            error,
          ),
        );
      }
    };
    const onError = (error: Error): void => {
      fail(
        createWebSocketError(
          `Connection to ${target} failed: ${error.message}`,
          CloseCode.ABNORMAL_CLOSURE,
          '',
          error,
        ),
      );
    };
    const onClose = (): void => {
      fail(
        createWebSocketError(
          `Connection to ${target} closed during the opening handshake`,
          CloseCode.ABNORMAL_CLOSURE,
        ),
      );
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (socket === undefined) return;
      if (relay !== undefined) relay.setHandler(null);
      else socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
    };
    dialer.start(onConnect, fail);
  });
}
