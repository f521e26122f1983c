/**
 * The server's opening handshake over a Deno connection (a `wss:` server on
 * Deno, see serve-tls.ts): the request head was read and parsed by the
 * server; this runs the core's decision and the application's hooks as the
 * Node adapter does (src/node/server-handshake.ts), writes the answer with
 * Deno's own API and hands the connection to a {@link DenoConnTransport}.
 */
import type { IncomingMessage } from 'node:http';
import { CloseCode } from '../core/close.js';
import {
  serializeResponse,
  type ClientHandshake,
  type HandshakeResponse,
  type RequestHead,
  type RequestLike,
  type ServerHandshake,
} from '../core/handshake/index.js';
import type { PerMessageDeflateServer } from '../core/extensions/deflate-handshake.js';
import {
  agreedExtension,
  createDecision,
  DEFAULT_SERVER_HANDSHAKE_TIMEOUT,
  REFUSAL_LINGER,
  runHooks,
  type HandshakeCallbacks,
  type HandshakeOptions,
} from '../node/server-handshake.js';
import type { HandshakeInProgress } from '../node/server.js';
import { createWebSocketError, type WebSocketError } from '../streams/websocket-error.js';
import { DenoConnTransport, type DenoConn } from './conn-transport.js';

const noop = (): void => {};

/** The request as the core's decision reads it. */
export function headRequestLike(head: RequestHead): RequestLike {
  return {
    method: head.method,
    httpVersion: head.httpVersion,
    headerLines: head.headers.entries.length,
    header: (name) => head.headers.get(name),
    headerCount: (name) => head.headers.count(name),
  };
}

/**
 * Writes `text` (an error response), half-closes, then reads and drops what
 * the client still sends until its FIN or for at most {@link REFUSAL_LINGER},
 * so that closing does not reset the connection before the client read the
 * answer; then closes. Never rejects.
 */
export async function answerAndCloseConn(conn: DenoConn, text: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const close = (): void => {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  };
  try {
    timer = setTimeout(close, REFUSAL_LINGER);
    const bytes = new TextEncoder().encode(text);
    for (let offset = 0; offset < bytes.length;) offset += await conn.write(bytes.subarray(offset));
    await conn.closeWrite();
    const sink = new Uint8Array(16 * 1024);
    while ((await conn.read(sink)) !== null);
  } catch {
    // The client went away, or the linger ran out and closed the connection.
  }
  close();
}

/**
 * One server handshake in progress on a Deno connection whose request head
 * was read. Unlike the Node adapter it reads nothing while `authenticate` or
 * `selectProtocol` run: a client that hangs up meanwhile is noticed when they
 * are done (the handshake timeout bounds that wait), and bytes it sends early
 * (RFC 6455 4.1 says it MUST wait for the 101) stay in the kernel until the
 * session reads them.
 */
export class DenoPendingHandshake implements HandshakeInProgress {
  readonly #conn: DenoConn;
  readonly #options: HandshakeOptions;
  readonly #callbacks: HandshakeCallbacks;
  readonly #decision: ServerHandshake;
  readonly #deflate: PerMessageDeflateServer | null;
  /** Bytes read after the request head (at most one read), for the session. */
  readonly #early: Uint8Array | undefined;
  /** Set while the application's hooks run. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  #done = false;

  constructor(
    conn: DenoConn,
    request: IncomingMessage,
    head: RequestHead,
    early: Uint8Array,
    options: HandshakeOptions,
    callbacks: HandshakeCallbacks,
  ) {
    this.#conn = conn;
    this.#options = options;
    this.#callbacks = callbacks;
    this.#early = early.length > 0 ? early : undefined;
    ({ decision: this.#decision, deflate: this.#deflate } = createDecision(options));
    const checked = this.#decision.check(headRequestLike(head));
    if (!checked.ok) {
      this.#refuse(checked.response, checked.error.message);
      return;
    }
    const client = checked.request;
    if (options.authenticate === undefined && options.selectProtocol === undefined) {
      this.#accept(client, undefined);
      return;
    }
    this.#awaitHooks(request, client);
  }

  /** Ends the handshake at once, with no answer (the connection's close() or terminate()). */
  abort(error: WebSocketError): void {
    if (!this.#finish()) return;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    this.#callbacks.failed(error);
  }

  #awaitHooks(request: IncomingMessage, client: ClientHandshake): void {
    const timeout = this.#options.handshakeTimeout ?? DEFAULT_SERVER_HANDSHAKE_TIMEOUT;
    this.#timer = setTimeout(() => {
      this.abort(
        createWebSocketError(
          `Opening handshake did not complete within ${timeout} ms`,
          CloseCode.ABNORMAL_CLOSURE,
        ),
      );
    }, timeout);
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

  /** Marks the handshake done and stops waiting; false if it was done already. */
  #finish(): boolean {
    if (this.#done) return false;
    this.#done = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
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
    // The 101 is the transport's first write: the session's frames queue behind it.
    // A failure is the transport's error, reported to the session.
    const transport = new DenoConnTransport(this.#conn);
    transport.write([new TextEncoder().encode(serializeResponse(response))], noop);
    const selected = response.headers.find(([name]) => name === 'Sec-WebSocket-Protocol');
    this.#callbacks.opened(
      selected?.[1] ?? '',
      this.#early,
      agreedExtension(this.#deflate),
      transport,
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
    void answerAndCloseConn(this.#conn, serializeResponse(response));
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
