/**
 * The server's opening handshake over a Node socket: a thin adapter around
 * the core's {@link ServerHandshake} decision. It reads what the decision
 * needs from the IncomingMessage, runs the application's asynchronous hooks
 * (`authenticate`, `selectProtocol`) under the handshake deadline while it
 * keeps the client's early bytes, and writes the response the core returned.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { PerMessageDeflateServer } from '../core/extensions/deflate-handshake.js';
import { resolveDeflateOption } from '../core/extensions/deflate-negotiation.js';
import type { MessageTransform } from '../core/extensions/extension.js';
import { PerMessageDeflate } from '../core/extensions/permessage-deflate.js';
import { nodeDeflateEngine } from './zlib-deflate.js';
import { CloseCode } from '../core/close.js';
import {
  serializeResponse,
  ServerHandshake,
  type ClientHandshake,
  type HandshakeResponse,
  type RequestLike,
  validateUserHeaders,
} from '../core/handshake/index.js';
import { createWebSocketError, type WebSocketError } from '../streams/websocket-error.js';
import type { Refusal, UpgradeOptions } from './server.js';
import { sha1Base64 } from './sha1.js';
import { SocketTransport } from './socket-transport.js';
import type { Transport } from '../streams/transport.js';

/**
 * Bytes a client may send between its request and our 101 that are kept for
 * the session; past it, reading stops until the handshake ends (a bound on
 * what a client can make us buffer while `authenticate` runs).
 */
const EARLY_DATA_LIMIT = 64 * 1024;

/** How long a refused client gets to read the answer before its socket is destroyed: 1 s. */
export const REFUSAL_LINGER = 1000;

/** Default of {@link UpgradeOptions.handshakeTimeout}: 10 s. */
export const DEFAULT_SERVER_HANDSHAKE_TIMEOUT = 10_000;

const noop = (): void => {};

/** Whether raw field name `field` is `name` (lower case), without lower-casing most names. */
function isField(field: string, name: string): boolean {
  return field.length === name.length && (field === name || field.toLowerCase() === name);
}

/** The request as the core's decision reads it (raw header lines, so repeats are seen). */
export function requestLike(req: IncomingMessage): RequestLike {
  const raw = req.rawHeaders;
  return {
    method: req.method ?? '',
    httpVersion: req.httpVersion,
    headerLines: raw.length / 2,
    header(name: string): string | undefined {
      let out: string | undefined;
      for (let i = 0; i < raw.length; i += 2) {
        if (isField(raw[i]!, name))
          out = out === undefined ? raw[i + 1]! : `${out}, ${raw[i + 1]!}`;
      }
      return out;
    },
    headerCount(name: string): number {
      let count = 0;
      for (let i = 0; i < raw.length; i += 2) if (isField(raw[i]!, name)) count++;
      return count;
    },
  };
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
  socket.end(typeof response === 'string' ? response : serializeResponse(response));
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

/** The result of the application's hooks. */
export type Verdict =
  | { accept: true; protocol: string | undefined }
  | { accept: false; refusal: Refusal; headers: Array<readonly [string, string]> };

/** Options the handshake reads: those of `upgrade()`, and `serve()`'s header count. */
export type HandshakeOptions = UpgradeOptions & { maxHeaderCount?: number };

/**
 * The core's decision for `options`, with permessage-deflate unless turned
 * off (the first acceptable offer is taken).
 */
export function createDecision(options: HandshakeOptions): {
  decision: ServerHandshake;
  deflate: PerMessageDeflateServer | null;
} {
  const resolved = resolveDeflateOption(options.perMessageDeflate);
  const deflate = resolved === null ? null : new PerMessageDeflateServer(resolved);
  const decision = new ServerHandshake({
    protocols: options.protocols,
    allowOrigins: options.allowOrigins,
    maxHeaderCount: options.maxHeaderCount,
    sha1Base64,
    extensions: deflate ?? undefined,
  });
  return { decision, deflate };
}

/** The extension a 101 agreed on (zlib from node:zlib, on Deno and Bun too), if any. */
export function agreedExtension(
  deflate: PerMessageDeflateServer | null,
): MessageTransform | undefined {
  const agreed = deflate?.agreed ?? null;
  return agreed === null
    ? undefined
    : new PerMessageDeflate('server', agreed, nodeDeflateEngine, deflate!.options);
}

/**
 * Runs the application's `authenticate` and `selectProtocol` for a valid
 * request: a refusal (false answers 401; a refusal object is checked), or the
 * protocol to select (undefined: the core picks from `protocols`). Throws or
 * rejects what the hooks throw, and a RangeError or TypeError for a bad
 * refusal: the caller answers those with 500.
 */
export async function runHooks(
  options: HandshakeOptions,
  request: IncomingMessage,
  offered: string[],
): Promise<Verdict> {
  const { authenticate, selectProtocol } = options;
  if (authenticate !== undefined) {
    const verdict = await authenticate(request);
    if (verdict === false) {
      return { accept: false, refusal: { status: 401, message: 'Unauthorized' }, headers: [] };
    }
    if (typeof verdict === 'object' && verdict !== null) {
      const status = verdict.status;
      if (!Number.isInteger(status) || status < 400 || status > 599) {
        throw new RangeError(`A refusal needs a 4xx or 5xx status, got ${status}`);
      }
      // Checked as response headers: CR/LF/NUL or a handshake field answers 500.
      const headers = validateUserHeaders(Object.entries(verdict.headers ?? {}));
      return { accept: false, refusal: verdict, headers };
    }
  }
  if (selectProtocol === undefined) return { accept: true, protocol: undefined };
  const chosen = await selectProtocol(offered, request);
  return { accept: true, protocol: chosen ?? '' };
}

/** One server handshake in progress on a socket. */
export class PendingHandshake {
  readonly #socket: Duplex;
  readonly #options: HandshakeOptions;
  readonly #callbacks: HandshakeCallbacks;
  readonly #decision: ServerHandshake;
  readonly #deflate: PerMessageDeflateServer | null;
  /** Bytes the client sent after its request head, kept for the session. */
  readonly #early: Uint8Array[];
  #earlyBytes: number;
  /** Set while the application's hooks run. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  #done = false;

  constructor(
    request: IncomingMessage,
    socket: Duplex,
    head: Uint8Array,
    options: HandshakeOptions,
    callbacks: HandshakeCallbacks,
  ) {
    this.#socket = socket;
    this.#options = options;
    this.#callbacks = callbacks;
    this.#early = head.length > 0 ? [head] : [];
    this.#earlyBytes = head.length;
    ({ decision: this.#decision, deflate: this.#deflate } = createDecision(options));
    (socket as Socket).pause();

    const checked = this.#decision.check(requestLike(request));
    if (!checked.ok) {
      this.#refuse(checked.response, checked.error.message);
      return;
    }
    const client = checked.request;
    if (options.authenticate === undefined && options.selectProtocol === undefined) {
      // Nothing to wait for: answer within the 'upgrade' event.
      this.#accept(client, undefined);
      return;
    }
    this.#awaitHooks(request, client);
  }

  /** Ends the handshake at once, with no answer (the connection's close() or terminate()). */
  abort(error: WebSocketError): void {
    if (!this.#finish()) return;
    this.#socket.destroy();
    this.#callbacks.failed(error);
  }

  /**
   * Runs authenticate and selectProtocol. Reads on meanwhile, so a client that
   * hangs up is noticed at once; keeps what it sends early (RFC 6455 4.1 says
   * it MUST wait for the 101, but some do not) for the session, up to a bound.
   */
  #awaitHooks(request: IncomingMessage, client: ClientHandshake): void {
    const socket = this.#socket;
    const timeout = this.#options.handshakeTimeout ?? DEFAULT_SERVER_HANDSHAKE_TIMEOUT;
    this.#timer = setTimeout(() => {
      this.abort(
        createWebSocketError(
          `Opening handshake did not complete within ${timeout} ms`,
          CloseCode.ABNORMAL_CLOSURE,
        ),
      );
    }, timeout);
    socket.on('close', this.#onEarlyClose);
    socket.on('error', noop);
    socket.on('data', this.#onEarlyData);
    socket.on('end', this.#onEarlyClose);
    socket.resume();
    runHooks(this.#options, request, client.protocols).then(
      (verdict) => {
        if (verdict.accept) {
          this.#accept(client, verdict.protocol);
        } else {
          const { refusal } = verdict;
          const message = refusal.message ?? 'Refused';
          this.#refuse(this.#decision.reject(refusal.status, message, verdict.headers), message);
        }
      },
      // The application's error stays on the server: `opened` rejects with it as `cause`.
      (error: unknown) => this.#internalError(error),
    );
  }

  readonly #onEarlyData = (chunk: Buffer): void => {
    this.#early.push(chunk);
    this.#earlyBytes += chunk.length;
    if (this.#earlyBytes >= EARLY_DATA_LIMIT) (this.#socket as Socket).pause();
  };

  readonly #onEarlyClose = (): void => {
    this.abort(
      createWebSocketError(
        'The client closed the connection during the opening handshake',
        CloseCode.ABNORMAL_CLOSURE,
      ),
    );
  };

  /** Marks the handshake done and stops waiting; false if it was done already. */
  #finish(): boolean {
    if (this.#done) return false;
    this.#done = true;
    if (this.#timer === undefined) return true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const socket = this.#socket;
    (socket as Socket).pause();
    socket.removeListener('data', this.#onEarlyData);
    socket.removeListener('end', this.#onEarlyClose);
    socket.removeListener('close', this.#onEarlyClose);
    socket.removeListener('error', noop);
    return true;
  }

  #accept(client: ClientHandshake, protocol: string | undefined): void {
    let response: HandshakeResponse;
    try {
      response = this.#decision.accept(client, {
        protocol,
        headers: Object.entries(this.#options.responseHeaders ?? {}),
      });
    } catch (error) {
      // A protocol the client did not offer, an invalid response header: ours, not the client's.
      this.#internalError(error);
      return;
    }
    if (response.status !== 101) {
      this.#refuse(response, response.body.trimEnd());
      return;
    }
    if (!this.#finish()) return;
    const socket = this.#socket as Socket;
    if (socket.destroyed) {
      this.#callbacks.failed(
        createWebSocketError(
          'The client closed the connection during the opening handshake',
          CloseCode.ABNORMAL_CLOSURE,
        ),
      );
      return;
    }
    socket.setTimeout(0);
    socket.setNoDelay(true);
    socket.write(serializeResponse(response));
    const early = this.#early;
    const selected = response.headers.find(([name]) => name === 'Sec-WebSocket-Protocol');
    this.#callbacks.opened(
      selected?.[1] ?? '',
      early.length <= 1 ? early[0] : Buffer.concat(early),
      agreedExtension(this.#deflate),
      new SocketTransport(socket),
    );
  }

  #internalError(cause: unknown): void {
    this.#refuse(
      this.#decision.reject(500, 'Internal Server Error'),
      'Internal Server Error',
      cause,
    );
  }

  #refuse(response: HandshakeResponse, message: string, cause?: unknown): void {
    if (!this.#finish()) return;
    answerAndClose(this.#socket, response);
    this.#callbacks.failed(
      createWebSocketError(
        `Opening handshake refused with ${response.status}: ${message}`,
        null,
        '',
        cause,
      ),
    );
  }
}
