/**
 * The server's opening handshake over a Deno connection (a `wss:` server on
 * Deno, see serve-tls.ts): the request head was read and parsed by the
 * server; the decision flow is the Node adapter's ({@link HandshakeFlow}),
 * and this writes the answer with Deno's own API and hands the connection to
 * a {@link DenoConnTransport}.
 */
import type { IncomingMessage } from 'node:http';
import type { MessageTransform } from '../core/extensions/extension.js';
import {
  encodeResponse,
  type HandshakeResponse,
  type RequestHead,
  type RequestLike,
} from '../core/handshake/index.js';
import { HandshakeFlow } from '../node/handshake-flow.js';
import {
  REFUSAL_LINGER,
  type HandshakeCallbacks,
  type HandshakeOptions,
} from '../node/server-handshake.js';
import type { HandshakeInProgress } from '../node/server.js';
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
 * Writes `response` (an error response: internal ASCII text, or bytes from `encodeResponse`), half-closes, then reads and drops what
 * the client still sends until its FIN or for at most {@link REFUSAL_LINGER},
 * so that closing does not reset the connection before the client read the
 * answer; then closes. Never rejects.
 */
export async function answerAndCloseConn(
  conn: DenoConn,
  response: string | Uint8Array,
): Promise<void> {
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
    const bytes = typeof response === 'string' ? new TextEncoder().encode(response) : response;
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
export class DenoPendingHandshake extends HandshakeFlow implements HandshakeInProgress {
  readonly #conn: DenoConn;
  /** Bytes read after the request head (at most one read), for the session. */
  readonly #early: Uint8Array | undefined;

  constructor(
    conn: DenoConn,
    request: IncomingMessage,
    head: RequestHead,
    early: Uint8Array,
    options: HandshakeOptions,
    callbacks: HandshakeCallbacks,
  ) {
    super(options, callbacks);
    this.#conn = conn;
    this.#early = early.length > 0 ? early : undefined;
    this.start(headRequestLike(head), request);
  }

  protected waitForHooks(): void {
    // Nothing is read meanwhile (see above).
  }

  protected stopWaiting(): void {
    // Nothing was started.
  }

  protected closeNow(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  protected answer(response: HandshakeResponse): void {
    void answerAndCloseConn(this.#conn, encodeResponse(response));
  }

  protected open(
    response: HandshakeResponse,
    protocol: string,
    extension: MessageTransform | undefined,
  ): void {
    // The 101 is the transport's first write: the session's frames queue behind it.
    // A failure is the transport's error, reported to the session.
    const transport = new DenoConnTransport(this.#conn);
    transport.write([encodeResponse(response)], noop);
    this.callbacks.opened(protocol, this.#early, extension, transport);
  }
}
