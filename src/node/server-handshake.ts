/**
 * The server's opening handshake over a Node socket: the I/O around the
 * decision flow of {@link HandshakeFlow} (the core's `ServerHandshake` and
 * the application's hooks under the handshake deadline). It reads what the
 * decision needs from the IncomingMessage, keeps the client's early bytes
 * while the hooks run, and writes the response the core returned.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { MessageTransform } from '../core/extensions/extension.js';
import { CloseCode } from '../core/close.js';
import {
  encodeResponse,
  serializeResponse,
  type HandshakeResponse,
  type RequestLike,
} from '../core/handshake/index.js';
import { createWebSocketError, type WebSocketError } from '../streams/websocket-error.js';
import type { Transport } from '../streams/transport.js';
import { HandshakeFlow } from './handshake-flow.js';
import type { UpgradeOptions } from './server.js';
import { SocketTransport } from './socket-transport.js';

/**
 * Bytes a client may send between its request and our 101 that are kept for
 * the session; past it, reading stops until the handshake ends (a bound on
 * what a client can make us buffer while `authenticate` runs).
 */
const EARLY_DATA_LIMIT = 64 * 1024;

/** How long a refused client gets to read the answer before its socket is destroyed: 1 s. */
export const REFUSAL_LINGER = 1000;

export { DEFAULT_SERVER_HANDSHAKE_TIMEOUT } from './handshake-flow.js';

const noop = (): void => {};

/** Whether raw field name `field` is `name` (lower case), without lower-casing most names. */
function isField(field: string, name: string): boolean {
  return field.length === name.length && (field === name || field.toLowerCase() === name);
}

/** The request as the core's decision reads it (raw header lines, so repeats are seen). */
class RawHeaderRequest implements RequestLike {
  readonly method: string;
  readonly httpVersion: string;
  readonly headerLines: number;
  readonly #raw: string[];

  constructor(req: IncomingMessage) {
    this.#raw = req.rawHeaders;
    this.method = req.method ?? '';
    this.httpVersion = req.httpVersion;
    this.headerLines = this.#raw.length / 2;
  }

  header(name: string): string | undefined {
    const raw = this.#raw;
    let out: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      if (isField(raw[i]!, name)) out = out === undefined ? raw[i + 1]! : `${out}, ${raw[i + 1]!}`;
    }
    return out;
  }

  headerCount(name: string): number {
    const raw = this.#raw;
    let count = 0;
    for (let i = 0; i < raw.length; i += 2) if (isField(raw[i]!, name)) count++;
    return count;
  }
}

/** The request as the core's decision reads it (raw header lines, so repeats are seen). */
export function requestLike(req: IncomingMessage): RequestLike {
  return new RawHeaderRequest(req);
}

/**
 * Writes an error response and closes: the answer, then reading on (so the
 * client's FIN is seen and closing does not reset the connection before the
 * client read the answer), then destroying the socket after at most
 * {@link REFUSAL_LINGER}. The one way every refusal is sent.
 */
export function answerAndClose(socket: Duplex, response: HandshakeResponse | string): void {
  if (socket.destroyed) return;
  socket.on('error', noop);
  socket.end(typeof response === 'string' ? response : encodeResponse(response));
  linger(socket);
}

/**
 * After an answer (ours, or one the application wrote itself): reads on and
 * discards, then destroys the socket after at most {@link REFUSAL_LINGER}.
 */
function linger(socket: Duplex): void {
  socket.on('data', noop);
  socket.resume();
  setTimeout(() => socket.destroy(), REFUSAL_LINGER).unref();
}

/** What the handshake reports to the connection it opens. */
export interface HandshakeCallbacks {
  /**
   * The 101 was written (or queued on `transport` ahead of anything else):
   * start the session over `transport` with the selected protocol and the
   * client's early bytes.
   */
  opened(
    protocol: string,
    early: Uint8Array | undefined,
    extension: MessageTransform | undefined,
    transport: Transport,
  ): void;
  /** The handshake failed or was refused (the answer, if any, is written). */
  failed(error: WebSocketError): void;
}

/** Options the handshake reads: those of `upgrade()`, and `serve()`'s header count. */
export type HandshakeOptions = UpgradeOptions & { maxHeaderCount?: number };

/** One server handshake in progress on a socket. */
export class PendingHandshake extends HandshakeFlow {
  readonly #socket: Duplex;
  /** Bytes the client sent after its request head, kept for the session. */
  readonly #early: Uint8Array[];
  #earlyBytes: number;
  /** The socket's listeners while the hooks run. */
  #listeners: { data: (chunk: Buffer) => void; close: () => void } | null = null;

  constructor(
    request: IncomingMessage,
    socket: Duplex,
    head: Uint8Array,
    options: HandshakeOptions,
    callbacks: HandshakeCallbacks,
  ) {
    super(options, callbacks);
    this.#socket = socket;
    this.#early = head.length > 0 ? [head] : [];
    this.#earlyBytes = head.length;
    (socket as Socket).pause();
    this.start(requestLike(request), request);
  }

  /**
   * While authenticate and selectProtocol run, reads on, so a client that
   * hangs up is noticed at once; keeps what it sends early (RFC 6455 4.1 says
   * it MUST wait for the 101, but some do not) for the session, up to a bound.
   */
  protected waitForHooks(): void {
    const socket = this.#socket;
    // Made only here: most handshakes have no hooks to wait for.
    const listeners = {
      data: (chunk: Buffer): void => this.#onEarlyData(chunk),
      close: (): void => this.#onEarlyClose(),
    };
    this.#listeners = listeners;
    socket.on('close', listeners.close);
    socket.on('error', noop);
    socket.on('data', listeners.data);
    socket.on('end', listeners.close);
    socket.resume();
  }

  protected stopWaiting(): void {
    const socket = this.#socket;
    (socket as Socket).pause();
    const listeners = this.#listeners;
    if (listeners === null) return;
    this.#listeners = null;
    socket.removeListener('data', listeners.data);
    socket.removeListener('end', listeners.close);
    socket.removeListener('close', listeners.close);
    socket.removeListener('error', noop);
  }

  protected closeNow(): void {
    this.#socket.destroy();
  }

  protected answer(response: HandshakeResponse): void {
    answerAndClose(this.#socket, response);
  }

  protected open(
    response: HandshakeResponse,
    protocol: string,
    extension: MessageTransform | undefined,
  ): void {
    const socket = this.#socket as Socket;
    if (socket.destroyed) {
      this.callbacks.failed(
        createWebSocketError(
          'The client closed the connection during the opening handshake',
          CloseCode.ABNORMAL_CLOSURE,
        ),
      );
      return;
    }
    // The application already answered and ended the socket (its own refusal,
    // say): nothing can be sent on it, and its answer is left to finish, for
    // as long as one of ours would be (the socket is paused, and no deadline
    // holds it any more: left alone, a client that never closes keeps it).
    if (!socket.writable || socket.writableEnded) {
      socket.on('error', noop);
      linger(socket);
      this.callbacks.failed(
        createWebSocketError(
          'The socket was already ended or not writable when the handshake completed',
          CloseCode.ABNORMAL_CLOSURE,
        ),
      );
      return;
    }
    // No idle timeout on an open connection (keepalive is the session's);
    // node:http sets one only when its server has a `timeout`.
    if (socket.timeout) socket.setTimeout(0);
    socket.setNoDelay(true);
    socket.write(serializeResponse(response), 'latin1');
    const early = this.#early;
    this.callbacks.opened(
      protocol,
      early.length <= 1 ? early[0] : Buffer.concat(early),
      extension,
      new SocketTransport(socket),
    );
  }

  #onEarlyData(chunk: Buffer): void {
    this.#early.push(chunk);
    this.#earlyBytes += chunk.length;
    if (this.#earlyBytes >= EARLY_DATA_LIMIT) (this.#socket as Socket).pause();
  }

  #onEarlyClose(): void {
    this.abort(
      createWebSocketError(
        'The client closed the connection during the opening handshake',
        CloseCode.ABNORMAL_CLOSURE,
      ),
    );
  }
}
