/**
 * `serve()`: a standalone WebSocket server on node:http(s), built on
 * {@link upgrade}'s {@link WebSocketConnection}. It owns what a server adds
 * to single upgrades: handshake deadlines from the moment a socket is
 * accepted, 426 for plain HTTP, 431/400 for bad request heads, and the
 * graceful shutdown.
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import type * as NodeHttps from 'node:https';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { createRequire } from 'node:module';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  buildErrorResponse,
  DEFAULT_MAX_HEADER_COUNT,
  DEFAULT_MAX_HEADER_SIZE,
} from '../core/handshake/index.js';
import { readDictionary } from '../streams/dictionary.js';
import { readMilliseconds } from '../streams/session-options.js';
import {
  answerAndClose,
  DEFAULT_SERVER_HANDSHAKE_TIMEOUT,
  type HandshakeOptions,
} from './server-handshake.js';
import { denoListen, denoTlsCredentials, serveDenoTls } from '../deno/serve-tls.js';
import {
  ConnectionRegistry,
  answerOutsideHandshake,
  HandshakeDeadlines,
  refused,
  TOO_MANY_CONNECTIONS,
} from './serve-registry.js';
import {
  nodeHandshake,
  readUpgradeOptions,
  WebSocketConnection,
  type UpgradeOptions,
} from './server.js';

const noop = (): void => {};

/**
 * node:https (with all of TLS, 6 MB of RSS on Node 24), loaded only for a
 * `wss:` server. node:http stays an ESM import: on Node 22 and later that
 * loads the runtime's bundled undici (its namespace reads the lazy
 * `WebSocket` export), 8 MB of RSS at rest, but without it the CLI's 50 MB
 * pipe peaked 35 MB higher (docs/performance.md).
 */
const requireBuiltin = createRequire(import.meta.url);
let https: typeof NodeHttps | undefined;

/** TLS options of {@link serve} (node:https server options: `cert`, `key`, `ca`, ...). */
export type TlsServerOptions = HttpsServerOptions;

/** Options of {@link serve}. */
export interface ServeOptions extends UpgradeOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Address to listen on; default all interfaces (use "127.0.0.1" or "::1" for loopback only). */
  host?: string;
  /**
   * Listen on this Unix domain socket instead of TCP (not with `port` or
   * `host`); clients connect with the `socketPath` option. Node removes the
   * socket file when the server closes; a stale file from a crashed process
   * makes `serve()` reject with EADDRINUSE. Default: none (TCP).
   */
  path?: string;
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
   * Most request header lines accepted; default 100. A request with more is
   * refused with 431 Request Header Fields Too Large, as the client refuses a
   * response with more (never a crash: ws CVE-2024-37890). Stops header floods.
   */
  maxHeaderCount?: number;
  /**
   * Milliseconds `close()` waits for the clients to answer 1001 Going Away
   * before it drops the remaining connections; default 5 s. Stops one silent
   * client from holding a shutdown forever.
   */
  shutdownTimeout?: number;
  /**
   * Most WebSocket connections at once, counting those still in their opening
   * handshake; a positive integer, default `Infinity` (no limit, as in ws and
   * python-websockets: what a process can hold depends on what its handler
   * does). An upgrade request over the limit is answered 503 Service
   * Unavailable before any handshake work and its socket closed; the open
   * connections are not affected. A slot frees when a connection's `closed`
   * has settled and, if the handler returned a promise, that promise has
   * settled too: work a handler still does after its connection closed (a
   * child process yet to exit) keeps counting. Stops a flood of clients from
   * taking every file descriptor, and the memory and processes their
   * handlers hold.
   */
  maxConnections?: number;
  /**
   * Called with the request of each upgrade refused because of
   * `maxConnections` (after its 503 was written), to log or count refusals.
   * A throw is ignored. Default: none.
   */
  onConnectionRefused?: (request: IncomingMessage) => void;
}

/**
 * A limit on the request head (`maxHeaderSize`, `maxHeaderCount`): a positive
 * integer, or undefined (or null) for the default. Anything else throws: a NaN would
 * turn the limit off without a word, a negative one refuse every client.
 */
function readHeaderLimit(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0)
    throw new RangeError(
      `serve(): ${name} must be a positive integer, not ${typeof value === 'number' || typeof value === 'string' ? String(value) : typeof value}`,
    );
  return value;
}

/** Default of {@link ServeOptions.shutdownTimeout}: 5 s. */
export const DEFAULT_SHUTDOWN_TIMEOUT = 5_000;

/** A running server returned by {@link serve}. */
export interface WebSocketServer {
  /** The bound address (port included); for a Unix socket `{ address: path, family: 'unix', port: 0 }`. */
  readonly address: AddressInfo;
  /**
   * `ws://host:port/` (or `wss:`) of the bound address; for a Unix socket
   * `ws://localhost/` (connect with `{ socketPath: server.socketPath }`).
   */
  readonly url: string;
  /** The Unix socket listened on (the `path` option), else undefined. */
  readonly socketPath: string | undefined;
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
 * closes its connection with 1011. The promise a handler returns keeps the
 * connection's slot of `maxConnections` taken until it settles (even after the
 * close). Plain HTTP requests get 426 Upgrade Required.
 *
 * ```ts
 * const server = await serve({ port: 8080 }, async (connection) => {
 *   const { readable, writable } = await connection.opened;
 *   await readable.pipeTo(writable);
 * });
 * ```
 */
export async function serve(
  options: ServeOptions | null | undefined,
  handler: (connection: WebSocketConnection) => void | Promise<void>,
): Promise<WebSocketServer> {
  options = readDictionary<ServeOptions>(options, 'serve options');
  if (typeof handler !== 'function') {
    throw new TypeError('serve() needs a handler function as its second argument');
  }
  const upgradeOptions = readUpgradeOptions(options);
  const socketPath = options.path;
  if (socketPath !== undefined && (options.port !== undefined || options.host !== undefined))
    throw new TypeError('serve(): path cannot be combined with port or host');
  const maxConnections = options.maxConnections ?? Infinity;
  if (maxConnections !== Infinity && !(Number.isSafeInteger(maxConnections) && maxConnections > 0))
    throw new RangeError(
      `serve(): maxConnections must be a positive integer or Infinity, not ${String(maxConnections)}`,
    );
  const onConnectionRefused = options.onConnectionRefused;
  if (onConnectionRefused !== undefined && typeof onConnectionRefused !== 'function')
    throw new TypeError('serve(): onConnectionRefused must be a function');
  const handshakeTimeout = readMilliseconds(
    options.handshakeTimeout,
    'handshakeTimeout',
    DEFAULT_SERVER_HANDSHAKE_TIMEOUT,
  );
  const maxHeaderCount =
    readHeaderLimit(options.maxHeaderCount, 'maxHeaderCount') ?? DEFAULT_MAX_HEADER_COUNT;
  const maxHeaderSize = readHeaderLimit(options.maxHeaderSize, 'maxHeaderSize');
  const handshakeOptions: HandshakeOptions = { ...upgradeOptions, maxHeaderCount };
  const registry = new ConnectionRegistry(maxConnections, handler);
  const shutdownTimeout = readMilliseconds(
    options.shutdownTimeout,
    'shutdownTimeout',
    DEFAULT_SHUTDOWN_TIMEOUT,
    true,
  );
  const tls = options.tls;
  // Deno: wss: over Deno.listenTls, whose connections stop reading when asked
  // (docs/runtimes.md); what that API cannot express goes through node:https.
  const deno =
    tls !== undefined && socketPath === undefined && options.backlog === undefined
      ? denoListen()
      : undefined;
  const credentials = deno !== undefined ? denoTlsCredentials(tls!) : null;
  if (deno !== undefined && credentials !== null) {
    const denoServer = serveDenoTls(deno, {
      host: options.host,
      port: options.port ?? 0,
      ...credentials,
      handshakeTimeout,
      maxHeaderSize,
      maxHeaderCount,
      shutdownTimeout,
      handshakeOptions,
      registry,
      onConnectionRefused,
    });
    const address = denoServer.address;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    let shutdown: Promise<void> | null = null;
    return {
      address,
      url: `wss://${shownHost}:${address.port}/`,
      socketPath: undefined,
      connections: registry.connections,
      get httpServer(): HttpServer {
        throw new TypeError(
          'serve(): a wss: server on Deno listens with Deno.listenTls and has no node:https server',
        );
      },
      close(): Promise<void> {
        shutdown ??= denoServer.close();
        return shutdown;
      },
    };
  }
  const httpOptions = { maxHeaderSize: maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE };
  const server: HttpServer =
    tls !== undefined
      ? (https ??= requireBuiltin('node:https') as typeof NodeHttps).createServer({
          handshakeTimeout,
          ...tls,
          ...httpOptions,
        })
      : createHttpServer(httpOptions);
  // One line more than the limit is read, so that the handshake sees a head
  // over it and refuses it with 431, as the client refuses such a response.
  server.maxHeadersCount = maxHeaderCount + 1;
  server.headersTimeout = handshakeTimeout;
  server.requestTimeout = handshakeTimeout;
  /** Every TCP socket, for the last step of close(). */
  const tcpSockets = new Set<Socket>();
  /** HTTP-level sockets (TLS sockets for wss) that have not sent an upgrade request. */
  const idle = new Set<Duplex>();
  /**
   * The handshake deadline of each socket whose opening handshake has not
   * finished yet; settled as soon as it is accepted or answered with an
   * error, so an open connection keeps none.
   */
  const deadlines = new HandshakeDeadlines(handshakeTimeout);
  let closing = false;

  // The handshake deadline runs from the moment the connection is accepted
  // (for wss, once TLS is up: the TLS handshake has its own), so a client that
  // trickles its request head a byte at a time (slowloris) is dropped too.
  const accepted = (socket: Duplex): void => {
    idle.add(socket);
    deadlines.add(socket);
  };
  const gone = (socket: Duplex): void => {
    deadlines.settle(socket);
    idle.delete(socket);
  };
  // One 'close' listener per socket ('close' comes once), the same function
  // for all (the socket is `this`): an open connection holds no closure for it.
  function tcpClosed(this: Socket): void {
    tcpSockets.delete(this);
    if (tls === undefined) gone(this);
  }
  function tlsClosed(this: Socket): void {
    gone(this);
  }
  server.on('connection', (socket: Socket) => {
    tcpSockets.add(socket);
    if (tls === undefined) accepted(socket);
    socket.on('close', tcpClosed);
  });
  if (tls !== undefined) {
    server.on('secureConnection', (socket: Socket) => {
      accepted(socket);
      socket.on('close', tlsClosed);
    });
  }
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    // Only the HTTP parser's errors (HPE_*) get an HTTP answer. node:https
    // reports TLS failures here too (a TLS handshake timeout, a client that
    // is not speaking TLS): nothing can be answered on a socket without a
    // TLS session, and lingering would stretch the TLS handshake's limit.
    if (!socket.writable || error.code?.startsWith('HPE_') !== true) {
      socket.destroy();
      return;
    }
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    answerAndClose(
      socket,
      buildErrorResponse(
        status,
        status === 431 ? 'Request header fields too large' : 'Bad Request',
      ),
    );
  });
  // Accept errors (EMFILE...) are transient: the server keeps listening.
  server.on('error', noop);
  // node:http hands here what is not an upgrade request: the same answers
  // as the Deno wss: server's (serve-registry.ts).
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const answer =
      answerOutsideHandshake(req.method ?? '', req.headers.upgrade, req.headers.connection) ??
      // Unreachable (node:http routes those to 'upgrade'); the plain answer.
      answerOutsideHandshake('GET', undefined, undefined)!;
    res.writeHead(answer.status, answer.statusText, answer.headers.flat());
    res.end(answer.body);
  });
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    idle.delete(socket);
    deadlines.settle(socket);
    answerAndClose(socket, answerOutsideHandshake('CONNECT', undefined, undefined)!);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    idle.delete(socket);
    if (closing) {
      deadlines.settle(socket);
      answerAndClose(socket, buildErrorResponse(503, 'Server is shutting down'));
      return;
    }
    // Checked before any handshake work: a refused client costs one short answer.
    if (registry.full) {
      deadlines.settle(socket);
      answerAndClose(socket, buildErrorResponse(503, TOO_MANY_CONNECTIONS));
      refused(onConnectionRefused, req);
      return;
    }
    const connection = new WebSocketConnection(
      req,
      tls !== undefined,
      handshakeOptions,
      nodeHandshake(req, socket, head, handshakeOptions),
    );
    registry.admit(connection, () => deadlines.settle(socket));
    deadlines.handOver(socket, () => connection.handshakeTimedOut(handshakeTimeout));
  });

  await new Promise<void>((resolve, reject) => {
    const onListenError = (error: Error): void => reject(error);
    server.once('error', onListenError);
    const where =
      socketPath !== undefined
        ? { path: socketPath }
        : { port: options.port ?? 0, host: options.host };
    server.listen({ ...where, backlog: options.backlog }, () => {
      server.removeListener('error', onListenError);
      resolve();
    });
  });
  const scheme = tls !== undefined ? 'wss' : 'ws';
  let address: AddressInfo;
  let url: string;
  if (socketPath !== undefined) {
    address = { address: socketPath, family: 'unix', port: 0 };
    url = `${scheme}://localhost/`;
  } else {
    address = server.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    url = `${scheme}://${shownHost}:${address.port}/`;
  }
  const serverClosed = new Promise<void>((resolve) => server.once('close', () => resolve()));
  let shutdown: Promise<void> | null = null;

  const close = async (): Promise<void> => {
    closing = true;
    server.close();
    for (const socket of idle) socket.destroy();
    deadlines.dispose();
    await registry.shutdown(shutdownTimeout);
    for (const socket of tcpSockets) socket.destroy();
    await serverClosed;
  };

  return {
    address,
    url,
    socketPath,
    connections: registry.connections,
    httpServer: server,
    close(): Promise<void> {
      shutdown ??= close();
      return shutdown;
    },
  };
}
