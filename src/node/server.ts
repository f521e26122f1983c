/**
 * The server side: every accepted connection is exposed with the same
 * `url`/`opened`/`closed`/`close()` shape as the client's WebSocketStream.
 *
 * `upgrade()` takes over a socket from a node:http(s) server's 'upgrade'
 * event (what Express, Fastify and Hono's Node server hand out); `serve()`
 * runs a standalone server on top of it.
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import {
  createServer as createHttpsServer,
  type ServerOptions as HttpsServerOptions,
} from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { CloseCode } from '../core/close.js';
import { Connection } from '../core/connection.js';
import {
  buildErrorResponse,
  buildServerResponse,
  DEFAULT_MAX_HEADER_COUNT,
  DEFAULT_MAX_HEADER_SIZE,
  HandshakeError,
  validateClientRequest,
  validateUserHeaders,
  type RequestLike,
} from '../core/handshake.js';
import {
  readBatchWrites,
  Session,
  type SessionOptions,
  type WebSocketMessage,
} from '../streams/session.js';
import {
  createWebSocketError,
  readCloseInfo,
  validateCloseInfo,
  type WebSocketCloseInfo,
  type WebSocketError,
} from '../streams/websocket-error.js';
import { ConnectionLifecycle, type WebSocketOpenInfo } from '../streams/lifecycle.js';
import { SocketTransport } from './socket-transport.js';
import {
  acceptOffer,
  resolveDeflateOption,
  type PerMessageDeflateOption,
} from '../core/extensions/deflate-negotiation.js';
import { PerMessageDeflate } from '../core/extensions/permessage-deflate.js';
import { nodeDeflateEngine } from './zlib-deflate.js';

/**
 * Bytes a client may send between its request and our 101 that are kept for
 * the session; past it, reading stops until the handshake ends (a bound on
 * what a client can make us buffer while `authenticate` runs).
 */
const EARLY_DATA_LIMIT = 64 * 1024;

/** Default of {@link UpgradeOptions.handshakeTimeout}: 10 s. */
export const DEFAULT_SERVER_HANDSHAKE_TIMEOUT = 10_000;

/** A refusal from {@link UpgradeOptions.authenticate}. */
export interface Refusal {
  /** HTTP status to answer with (e.g. 401, 403). */
  status: number;
  /** Short plain-text body. */
  message?: string;
  /**
   * Extra response headers (e.g. WWW-Authenticate), checked as
   * {@link UpgradeOptions.responseHeaders}; an invalid one answers 500 instead.
   */
  headers?: Record<string, string>;
}

/** Options of {@link upgrade} (and of {@link serve}). */
export interface UpgradeOptions extends SessionOptions {
  /**
   * Subprotocols this server speaks. The first protocol in the client's offer
   * that is in this list is selected; none selected if there is no match.
   * Ignored when `selectProtocol` is given.
   */
  protocols?: string[];
  /**
   * Chooses the subprotocol from the client's offer (in the client's order).
   * Return one of `offered`, or null/undefined/'' for none. May be async.
   * Returning a protocol the client did not offer answers 500.
   */
  selectProtocol?: (
    offered: string[],
    request: IncomingMessage,
  ) => string | null | undefined | Promise<string | null | undefined>;
  /**
   * Origins allowed to connect (exact `Origin` values such as
   * "https://example.com"). A browser request from any other origin is refused
   * with 403: the defence against cross-site WebSocket hijacking, where a
   * page on another site opens a socket with the user's cookies. Requests
   * without an Origin header (non-browser clients) are allowed. Default: any origin.
   */
  allowOrigins?: string[];
  /**
   * Called before the upgrade, after the handshake and origin checks; return
   * `false` or a {@link Refusal} to refuse (false answers 401), anything else
   * to accept. May be async (bounded by `handshakeTimeout`). A throw or a
   * rejection answers 500, with no detail in the body.
   */
  authenticate?: (
    request: IncomingMessage,
  ) => boolean | Refusal | void | Promise<boolean | Refusal | void>;
  /**
   * Milliseconds the opening handshake may take before the socket is dropped;
   * default 10 s. With `upgrade()` the clock starts at the 'upgrade' event and
   * covers `authenticate` and `selectProtocol`; with `serve()` it starts when
   * the connection is accepted (for wss, once TLS is up; the TLS handshake has
   * a limit of the same length), which also stops slowloris clients that
   * trickle their request head a byte at a time.
   */
  handshakeTimeout?: number;
  /**
   * Largest message accepted, in bytes; default 64 MiB. A larger one fails
   * the connection with 1009 before it is buffered. Stops memory exhaustion by
   * one huge message.
   */
  maxMessageSize?: number;
  /**
   * Most frames per message; default 16384. More fail the connection with
   * 1009. Stops memory exhaustion by floods of tiny fragments (ws CVE-2026-48779).
   */
  maxFragments?: number;
  /** Send messages longer than this many bytes as frames of at most this many payload bytes; default 0, never fragment. */
  fragmentSize?: number;
  /**
   * permessage-deflate (RFC 7692); default on: the first acceptable offer of
   * the client is accepted with window bits 12 and memLevel 5 (about 8 KiB
   * of history held per connection between messages, no zlib state), and
   * messages under 1 KiB are sent uncompressed. `false` turns it off; an
   * object tunes it (see docs/compression.md). `maxMessageSize` bounds the
   * decompressed size of each message.
   */
  perMessageDeflate?: PerMessageDeflateOption;
  /**
   * Extra headers for the 101 response (e.g. Set-Cookie). Names must be HTTP
   * tokens and values free of CR, LF and NUL (no response splitting); the
   * handshake's own fields cannot be set. An invalid one answers 500.
   */
  responseHeaders?: Record<string, string>;
}

function requestLike(req: IncomingMessage): RequestLike {
  const raw = req.rawHeaders;
  return {
    method: req.method ?? '',
    httpVersion: req.httpVersion,
    header(name: string): string | undefined {
      let out: string | undefined;
      for (let i = 0; i < raw.length; i += 2) {
        if (raw[i]!.toLowerCase() === name)
          out = out === undefined ? raw[i + 1]! : `${out}, ${raw[i + 1]!}`;
      }
      return out;
    },
    headerCount(name: string): number {
      let c = 0;
      for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) c++;
      return c;
    },
  };
}

function urlOf(req: IncomingMessage, socket: Duplex): string {
  const secure = (socket as { encrypted?: boolean }).encrypted === true;
  const host = req.headers.host ?? 'localhost';
  try {
    return new URL(req.url ?? '/', `${secure ? 'wss' : 'ws'}://${host}`).href;
  } catch {
    return `${secure ? 'wss' : 'ws'}://localhost${req.url ?? '/'}`;
  }
}

const noop = (): void => {};

/** The validated `responseHeaders`; throws if one is invalid (answered with 500). */
function responseHeadersOf(options: UpgradeOptions): Array<[string, string]> {
  const headers = options.responseHeaders;
  return headers === undefined ? [] : validateUserHeaders(Object.entries(headers));
}

/** The outcome of authentication and subprotocol selection. */
interface Negotiation {
  protocol: string;
  /** Validated extra headers: of the 101 response, or of the refusal. */
  headers: Array<[string, string]>;
  refusal?: Refusal;
}

/**
 * A WebSocket connection accepted by the server, with the client's shape:
 * `opened` fulfils with the streams once the 101 response is sent (or rejects
 * with a WebSocketError if the handshake was refused), `closed` reports the
 * outcome, `close()` starts the closing handshake.
 */
export class WebSocketConnection {
  /** The HTTP upgrade request (headers, URL, `socket.remoteAddress`). */
  readonly request: IncomingMessage;
  readonly #socket: Duplex;
  #url: string | undefined;
  readonly #life = new ConnectionLifecycle();
  #abort: ((error: WebSocketError) => void) | null = null;

  /** @internal Use {@link upgrade}. */
  constructor(request: IncomingMessage, socket: Duplex, head: Uint8Array, options: UpgradeOptions) {
    this.request = request;
    this.#socket = socket;
    const life = this.#life;
    const s = socket as Socket;
    s.pause();
    /** Bytes the client sent after its request head, kept for the session. */
    const early: Uint8Array[] = head.length > 0 ? [head] : [];
    /** Set while an asynchronous handshake (authenticate, selectProtocol) is in progress. */
    let waiting: { timer: ReturnType<typeof setTimeout>; stop: () => void } | null = null;
    this.#abort = (error) => {
      this.#abort = null;
      waiting?.stop();
      socket.destroy();
      life.fail(error);
    };

    const refuse = (
      status: number,
      message: string,
      headers: ReadonlyArray<readonly [string, string]> = [],
      cause?: unknown,
    ): void => {
      if (this.#abort === null) return;
      this.#abort = null;
      waiting?.stop();
      if (!socket.destroyed) {
        socket.on('error', noop);
        socket.end(buildErrorResponse(status, message, headers));
        // Discard whatever the client still sends, so its FIN is seen and the
        // socket closes; do not wait more than a second for it.
        socket.resume();
        setTimeout(() => socket.destroy(), 1000).unref();
      }
      life.fail(
        createWebSocketError(
          `Opening handshake refused with ${status}: ${message}`,
          null,
          '',
          cause,
        ),
      );
    };

    const accept = (protocol: string, headers: ReadonlyArray<readonly [string, string]>): void => {
      if (this.#abort === null) return;
      this.#abort = null;
      waiting?.stop();
      if (socket.destroyed) {
        life.fail(
          createWebSocketError(
            'The client closed the connection during the opening handshake',
            CloseCode.ABNORMAL_CLOSURE,
          ),
        );
        return;
      }
      s.setTimeout(0);
      s.setNoDelay(true);
      // The first acceptable permessage-deflate offer, if any (never throws on what the client sent).
      const deflate = resolveDeflateOption(options.perMessageDeflate);
      const agreed = deflate === null ? null : acceptOffer(handshake.extensions, deflate);
      socket.write(
        buildServerResponse({ key: handshake.key, protocol, headers, extensions: agreed?.header }),
      );
      const connection = new Connection({
        role: 'server',
        maxMessageSize: options.maxMessageSize,
        maxFragments: options.maxFragments,
        fragmentSize: options.fragmentSize,
        extension:
          agreed === null
            ? undefined
            : new PerMessageDeflate('server', agreed, nodeDeflateEngine, deflate ?? {}),
      });
      const session = new Session(
        connection,
        new SocketTransport(s),
        options,
        early.length === 1 ? early[0] : Buffer.concat(early),
      );
      life.open(session, protocol, agreed?.header ?? '');
    };

    let handshake: ReturnType<typeof validateClientRequest>;
    try {
      handshake = validateClientRequest(requestLike(request));
    } catch (error) {
      if (error instanceof HandshakeError) refuse(error.status, error.message, error.headers);
      else refuse(400, 'Bad Request');
      return;
    }
    const origin = request.headers.origin;
    if (
      options.allowOrigins !== undefined &&
      origin !== undefined &&
      !options.allowOrigins.includes(origin)
    ) {
      refuse(403, `Origin ${origin} is not allowed`);
      return;
    }

    if (options.authenticate === undefined && options.selectProtocol === undefined) {
      // Nothing to wait for: answer within the 'upgrade' event.
      let headers: ReadonlyArray<readonly [string, string]>;
      try {
        headers = responseHeadersOf(options);
      } catch (error) {
        refuse(500, 'Internal Server Error', [], error);
        return;
      }
      const offered = handshake.protocols;
      const mine = options.protocols;
      accept(mine === undefined ? '' : (offered.find((p) => mine.includes(p)) ?? ''), headers);
      return;
    }

    // Read on while the application decides (authentication may take a
    // while), so a client that hangs up is noticed at once; keep what it sends
    // early (RFC 6455 4.1 says it MUST wait for the 101, but some do not) for
    // the session, up to a bound.
    const timeout = options.handshakeTimeout ?? DEFAULT_SERVER_HANDSHAKE_TIMEOUT;
    const onEarlyClose = (): void => {
      this.#abort?.(
        createWebSocketError(
          'The client closed the connection during the opening handshake',
          CloseCode.ABNORMAL_CLOSURE,
        ),
      );
    };
    let earlyBytes = head.length;
    const onEarlyData = (chunk: Buffer): void => {
      early.push(chunk);
      earlyBytes += chunk.length;
      if (earlyBytes >= EARLY_DATA_LIMIT) s.pause();
    };
    waiting = {
      timer: setTimeout(() => {
        this.#abort?.(
          createWebSocketError(
            `Opening handshake did not complete within ${timeout} ms`,
            CloseCode.ABNORMAL_CLOSURE,
          ),
        );
      }, timeout),
      stop: () => {
        clearTimeout(waiting!.timer);
        s.pause();
        socket.removeListener('data', onEarlyData);
        socket.removeListener('end', onEarlyClose);
        socket.removeListener('close', onEarlyClose);
        socket.removeListener('error', noop);
        waiting = null;
      },
    };
    socket.on('close', onEarlyClose);
    socket.on('error', noop);
    socket.on('data', onEarlyData);
    socket.on('end', onEarlyClose);
    s.resume();
    void this.#negotiate(request, handshake.protocols, options).then(
      (result) => {
        if (result.refusal !== undefined) {
          const r = result.refusal;
          refuse(r.status, r.message ?? 'Refused', result.headers);
        } else {
          accept(result.protocol, result.headers);
        }
      },
      // The application's error stays on the server: `opened` rejects with it as `cause`.
      (error: unknown) => refuse(500, 'Internal Server Error', [], error),
    );
  }

  async #negotiate(
    request: IncomingMessage,
    offered: string[],
    options: UpgradeOptions,
  ): Promise<Negotiation> {
    if (options.authenticate !== undefined) {
      const verdict = await options.authenticate(request);
      if (verdict === false) {
        return { protocol: '', headers: [], refusal: { status: 401, message: 'Unauthorized' } };
      }
      if (typeof verdict === 'object' && verdict !== null) {
        const status = verdict.status;
        if (!Number.isInteger(status) || status < 400 || status > 599) {
          throw new RangeError(`A refusal needs a 4xx or 5xx status, got ${status}`);
        }
        // Throws on CR/LF/NUL or a handshake field: answered with 500.
        const headers = validateUserHeaders(Object.entries(verdict.headers ?? {}));
        return { protocol: '', headers, refusal: verdict };
      }
    }
    let protocol = '';
    if (options.selectProtocol !== undefined) {
      const chosen = await options.selectProtocol(offered, request);
      if (chosen !== null && chosen !== undefined && chosen !== '') {
        if (!offered.includes(chosen))
          throw new Error(`selectProtocol returned "${chosen}", which the client did not offer`);
        protocol = chosen;
      }
    } else if (options.protocols !== undefined) {
      protocol = offered.find((p) => options.protocols!.includes(p)) ?? '';
    }
    return {
      protocol,
      headers: responseHeadersOf(options),
    };
  }

  /** The URL the client asked for (scheme from the socket, host from the Host header). */
  get url(): string {
    this.#url ??= urlOf(this.request, this.#socket);
    return this.#url;
  }

  /** Fulfils with the streams once the handshake succeeded; rejects if it was refused or failed. */
  get opened(): Promise<WebSocketOpenInfo> {
    return this.#life.opened;
  }

  /** Fulfils with `{closeCode, reason}` after a clean close; rejects with a WebSocketError otherwise. */
  get closed(): Promise<Required<WebSocketCloseInfo>> {
    return this.#life.closed;
  }

  /** The client's address. */
  get remoteAddress(): string | undefined {
    return this.request.socket.remoteAddress;
  }

  /**
   * Starts the closing handshake, as the client's `close()`: `closeCode` 1000
   * or 3000-4999, `reason` at most 123 bytes. During the handshake the
   * connection is dropped instead.
   */
  close(closeInfo?: WebSocketCloseInfo): void {
    const { code: rawCode, reason } = readCloseInfo(closeInfo);
    const code = validateCloseInfo(rawCode, reason);
    this.#closeWith(code, reason);
  }

  /** @internal Close with any sendable code (1001 Going Away on shutdown). */
  closeWithCode(code: number, reason = ''): void {
    this.#closeWith(code, reason);
  }

  #closeWith(code: number | undefined, reason: string): void {
    if (this.#life.state === 'connecting') {
      this.#abort?.(
        createWebSocketError(
          'The connection was closed before the handshake completed',
          CloseCode.ABNORMAL_CLOSURE,
        ),
      );
      return;
    }
    this.#life.session?.close(code, reason);
  }

  /** Drops the connection without a closing handshake (the outcome is 1006). */
  terminate(): void {
    if (this.#life.state === 'connecting') {
      this.#abort?.(
        createWebSocketError('The connection was terminated', CloseCode.ABNORMAL_CLOSURE),
      );
      return;
    }
    this.#life.session?.terminate();
  }

  /** @internal The session, once open. */
  get session(): Session | null {
    return this.#life.session;
  }
}

/**
 * Accepts a WebSocket upgrade from a node:http(s) server's 'upgrade' event.
 * Returns at once; `opened` fulfils when the handshake succeeded and rejects
 * (after an HTTP error was answered) when it was refused.
 *
 * ```ts
 * server.on('upgrade', (req, socket, head) => {
 *   const ws = upgrade(req, socket, head, { protocols: ['chat'] });
 *   ws.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
 * });
 * ```
 */
export function upgrade(
  request: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
  options: UpgradeOptions = {},
): WebSocketConnection {
  readBatchWrites(options.batchWrites);
  resolveDeflateOption(options.perMessageDeflate);
  return new WebSocketConnection(request, socket, head, options);
}

/** TLS options of {@link serve} (node:https server options: `cert`, `key`, `ca`, ...). */
export type TlsServerOptions = HttpsServerOptions;

/** Options of {@link serve}. */
export interface ServeOptions extends UpgradeOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Address to listen on; default all interfaces (use "127.0.0.1" or "::1" for loopback only). */
  host?: string;
  /** Length of the queue of pending TCP connections; default 511 (Node's). */
  backlog?: number;
  /**
   * Serve `wss:` with these node:https options (at least `cert` and `key`).
   * Their `handshakeTimeout` (the TLS handshake) defaults to this server's
   * `handshakeTimeout`, so a client that opens TCP and never speaks TLS is dropped too.
   */
  tls?: TlsServerOptions;
  /**
   * Largest HTTP request head, in bytes; default 16 KiB. Larger heads are
   * answered with 431. Stops memory exhaustion by endless header lines.
   */
  maxHeaderSize?: number;
  /**
   * Most request header lines read; default 100. Node ignores the lines past
   * it, so a request whose Sec-WebSocket-Key comes later is answered with 400
   * (never a crash: ws CVE-2024-37890). Stops header floods.
   */
  maxHeaderCount?: number;
  /**
   * Milliseconds `close()` waits for the clients to answer 1001 Going Away
   * before it drops the remaining connections; default 5 s. Stops one silent
   * client from holding a shutdown forever.
   */
  shutdownTimeout?: number;
}

/** Default of {@link ServeOptions.shutdownTimeout}: 5 s. */
export const DEFAULT_SHUTDOWN_TIMEOUT = 5_000;

/** A running server returned by {@link serve}. */
export interface WebSocketServer {
  /** The bound address (port included). */
  readonly address: AddressInfo;
  /** `ws://host:port/` (or `wss:`) of the bound address. */
  readonly url: string;
  /** The open connections (added once `opened` fulfilled, removed once `closed` settled). */
  readonly connections: ReadonlySet<WebSocketConnection>;
  /** The underlying node:http(s) server. */
  readonly httpServer: HttpServer;
  /**
   * Graceful shutdown: stops accepting, drops handshakes in progress, sends
   * 1001 Going Away to every connection, waits up to `shutdownTimeout` for
   * clean closes, then drops the rest. Fulfils once every socket is closed.
   */
  close(): Promise<void>;
}

/**
 * Starts a standalone WebSocket server and calls `handler` for every accepted
 * connection (after its `opened` fulfilled). A handler that throws or rejects
 * closes its connection with 1011. Plain HTTP requests get 426 Upgrade Required.
 *
 * ```ts
 * const server = await serve({ port: 8080 }, async (connection) => {
 *   const { readable, writable } = await connection.opened;
 *   await readable.pipeTo(writable);
 * });
 * ```
 */
export async function serve(
  options: ServeOptions,
  handler: (connection: WebSocketConnection) => void | Promise<void>,
): Promise<WebSocketServer> {
  readBatchWrites(options.batchWrites);
  resolveDeflateOption(options.perMessageDeflate);
  const handshakeTimeout = options.handshakeTimeout ?? DEFAULT_SERVER_HANDSHAKE_TIMEOUT;
  const httpOptions = { maxHeaderSize: options.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE };
  const tls = options.tls;
  const server: HttpServer =
    tls !== undefined
      ? createHttpsServer({ handshakeTimeout, ...tls, ...httpOptions })
      : createHttpServer(httpOptions);
  server.maxHeadersCount = options.maxHeaderCount ?? DEFAULT_MAX_HEADER_COUNT;
  server.headersTimeout = handshakeTimeout;
  server.requestTimeout = handshakeTimeout;
  const connections = new Set<WebSocketConnection>();
  /** Connections whose opening handshake is in progress. */
  const pending = new Set<WebSocketConnection>();
  /** Every TCP socket, for the last step of close(). */
  const tcpSockets = new Set<Socket>();
  /** HTTP-level sockets (TLS sockets for wss) that have not sent an upgrade request. */
  const idle = new Set<Duplex>();
  /**
   * The handshake deadline of each socket whose opening handshake has not
   * finished yet; cleared as soon as it is accepted or answered with an
   * error, so an open connection keeps no timer.
   */
  const deadlines = new Map<Duplex, ReturnType<typeof setTimeout>>();
  const settle = (socket: Duplex): void => {
    const timer = deadlines.get(socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    deadlines.delete(socket);
  };
  let closing = false;

  // The handshake deadline runs from the moment the connection is accepted
  // (for wss, once TLS is up: the TLS handshake has its own), so a client that
  // trickles its request head a byte at a time (slowloris) is dropped too.
  const accepted = (socket: Duplex): void => {
    idle.add(socket);
    deadlines.set(
      socket,
      setTimeout(() => {
        deadlines.delete(socket);
        socket.destroy();
      }, handshakeTimeout),
    );
  };
  const gone = (socket: Duplex): void => {
    settle(socket);
    idle.delete(socket);
  };
  // One 'close' listener per socket ('close' comes once).
  server.on('connection', (socket: Socket) => {
    tcpSockets.add(socket);
    if (tls === undefined) accepted(socket);
    socket.on('close', () => {
      tcpSockets.delete(socket);
      if (tls === undefined) gone(socket);
    });
  });
  if (tls !== undefined) {
    server.on('secureConnection', (socket: Socket) => {
      accepted(socket);
      socket.on('close', () => gone(socket));
    });
  }
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    socket.end(
      buildErrorResponse(
        status,
        status === 431 ? 'Request header fields too large' : 'Bad Request',
      ),
    );
    // Read and discard what the client still sends, so closing does not reset
    // the connection before the client has read the answer.
    socket.on('data', noop);
    socket.resume();
    setTimeout(() => socket.destroy(), 1000).unref();
  });
  // Accept errors (EMFILE...) are transient: the server keeps listening.
  server.on('error', noop);
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    const body = 'This is a WebSocket endpoint: connect with "Upgrade: websocket"\n';
    res.writeHead(426, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      Upgrade: 'websocket',
      Connection: 'Upgrade, close',
    });
    res.end(body);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    idle.delete(socket);
    if (closing) {
      settle(socket);
      socket.on('error', noop);
      socket.end(buildErrorResponse(503, 'Server is shutting down'));
      socket.resume();
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    const connection = upgrade(req, socket, head, options);
    pending.add(connection);
    connection.opened.then(
      () => {
        pending.delete(connection);
        settle(socket);
        connections.add(connection);
        const done = (): void => {
          connections.delete(connection);
        };
        connection.closed.then(done, done);
        let result: void | Promise<void>;
        try {
          result = handler(connection);
        } catch {
          connection.closeWithCode(CloseCode.INTERNAL_ERROR, 'Internal error');
          return;
        }
        if (result instanceof Promise) {
          result.catch(() => connection.closeWithCode(CloseCode.INTERNAL_ERROR, 'Internal error'));
        }
      },
      () => {
        pending.delete(connection);
        settle(socket);
      },
    );
  });

  await new Promise<void>((resolve, reject) => {
    const onListenError = (error: Error): void => reject(error);
    server.once('error', onListenError);
    server.listen({ port: options.port ?? 0, host: options.host, backlog: options.backlog }, () => {
      server.removeListener('error', onListenError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${tls !== undefined ? 'wss' : 'ws'}://${shownHost}:${address.port}/`;
  const shutdownTimeout = options.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT;
  const serverClosed = new Promise<void>((resolve) => server.once('close', () => resolve()));
  let shutdown: Promise<void> | null = null;

  const close = async (): Promise<void> => {
    closing = true;
    server.close();
    for (const socket of idle) socket.destroy();
    for (const c of pending) c.terminate();
    const live = [...connections];
    for (const c of live) c.closeWithCode(CloseCode.GOING_AWAY, 'Server shutting down');
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled(live.map((c) => c.closed)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, shutdownTimeout);
      }),
    ]);
    clearTimeout(timer);
    for (const c of connections) c.terminate();
    for (const socket of tcpSockets) socket.destroy();
    await serverClosed;
  };

  return {
    address,
    url,
    connections,
    httpServer: server,
    close(): Promise<void> {
      shutdown ??= close();
      return shutdown;
    },
  };
}

export type { WebSocketMessage, WebSocketOpenInfo };
