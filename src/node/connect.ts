/**
 * The Node.js connector: a socket from the Dialer (TCP, TLS, a Unix socket or
 * a proxy tunnel), then the opening handshake of RFC 6455 4.1 read with the
 * core's HTTP head reader.
 */
import './diagnostics.js';
import type { Socket } from 'node:net';
import { CloseCode } from '../core/close.js';
import type { ConnectRequest, ConnectResult } from '../streams/connector.js';
import { createWebSocketError } from '../streams/websocket-error.js';
import { urlForMessages } from '../streams/url-credentials.js';
import {
  ClientHandshake,
  closedDuringHandshake,
  connectionFailed,
  handshakeFailed,
} from './client-handshake.js';
import { Dialer, type Dialed } from './dial.js';
import { type ReadRelay, SocketTransport } from './socket-transport.js';

/** Opens a WebSocket connection to `request.url`. Rejects with a WebSocketError naming what went wrong. */
export function connectNode(request: ConnectRequest): Promise<ConnectResult> {
  const { url, signal } = request;
  // Error messages name the URL without its credentials.
  const target = urlForMessages(url);

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
    if (signal.aborted) queueMicrotask(onAbort);
    else signal.listen(onAbort);

    const handshake = new ClientHandshake(request);
    const onConnect = (dialed: Dialed): void => {
      if (done) return;
      socket = dialed.socket;
      relay = dialed.relay;
      if (relay !== undefined) relay.setReader({ onData });
      else socket.on('data', onData);
      socket.on('error', onError);
      socket.on('close', onClose);
      dialer.phase = `waiting for the handshake response of ${target}`;
      socket.write(handshake.requestHead(), 'latin1');
    };
    const onData = (chunk: Uint8Array): void => {
      try {
        const accepted = handshake.push(chunk);
        if (accepted === null || done) return;
        done = true;
        cleanup();
        socket!.pause();
        resolve({ transport: new SocketTransport(socket!, relay), ...accepted });
      } catch (error) {
        fail(handshakeFailed(target, error));
      }
    };
    const onError = (error: Error): void => fail(connectionFailed(target, error));
    const onClose = (): void => fail(closedDuringHandshake(target));
    const cleanup = (): void => {
      clearTimeout(timer);
      signal.listen(null);
      if (socket === undefined) return;
      if (relay !== undefined) relay.setReader(null);
      else socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
    };
    try {
      dialer.start(onConnect, fail);
    } catch (error) {
      // start() throws nothing; should it, the attempt fails and cleans up all the same.
      fail(connectionFailed(target, error));
    }
  });
}
