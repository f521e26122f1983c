/**
 * The server side: every accepted connection is exposed with the same
 * `url`/`opened`/`closed`/`close()` shape as the client's WebSocketStream.
 *
 * `upgrade()` takes over a socket from a node:http(s) server's 'upgrade'
 * event (what Express, Fastify and Hono's Node server hand out); `serve()`
 * (in serve.ts) runs a standalone server on top of it.
 */
import './diagnostics.js';
import type { WebSocketStats } from '../streams/statistics.js';
import { headerPairs, type HeadersInput } from '../streams/options.js';
import { readDictionary } from '../streams/dictionary.js';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode } from '../core/close.js';
import { isToken, validateUserHeaders } from '../core/handshake/http.js';
import { Connection } from '../core/connection.js';
import { Session, type SessionOptions, type WebSocketMessage } from '../streams/session.js';
import { readMilliseconds, readSessionOptions } from '../streams/session-options.js';
import {
  createWebSocketError,
  readCloseInfo,
  validateCloseInfo,
  type WebSocketCloseInfo,
  type WebSocketError,
} from '../streams/websocket-error.js';
import {
  ConnectionLifecycle,
  type ClosedWatcher,
  type WebSocketOpenInfo,
} from '../streams/lifecycle.js';
import {
  DEFAULT_SERVER_HANDSHAKE_TIMEOUT,
  PendingHandshake,
  type HandshakeCallbacks,
  type HandshakeOptions,
} from './server-handshake.js';
import { takeSocket } from './socket-transport.js';

export { DEFAULT_SERVER_HANDSHAKE_TIMEOUT };

/** A refusal from {@link UpgradeOptions.authenticate}. */
export interface Refusal {
  /** HTTP status to answer with (e.g. 401, 403). */
  status: number;
  /** Short plain-text body. */
  message?: string;
  /**
   * Extra response headers (e.g. WWW-Authenticate), checked as
   * {@link UpgradeOptions.responseHeaders} are (at each refusal: an invalid one answers 500).
   */
  headers?: HeadersInput;
}

/** Options of {@link upgrade} (and of `serve()`, which adds its own). */
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
   * `false` or a {@link Refusal} to refuse (false answers 401), `true` or
   * nothing to accept. Any other object is taken for a refusal and checked
   * as one: without a 4xx/5xx `status` it answers 500 (a mistyped refusal
   * never lets a client in). May be async (bounded by `handshakeTimeout`). A
   * throw or a rejection answers 500, with no detail in the body.
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
   * Extra headers for the 101 response (e.g. Set-Cookie): a record (an array
   * value gives one line per element), pairs, a Headers or a Map. Names must be HTTP
   * tokens and values free of CR, LF and NUL (no response splitting) and
   * within U+00FF (sent one byte per character); the handshake's own fields
   * cannot be set. Read and checked when `upgrade()` or `serve()` is called:
   * an invalid one is a TypeError there.
   */
  responseHeaders?: HeadersInput;
}

/**
 * @internal The options of {@link upgrade} as read once, when they are given:
 * each member is read (own or inherited, as WebIDL reads a dictionary) and
 * the shared ones validated; the handshake and the session use what was read.
 */
export function readUpgradeOptions(options: UpgradeOptions): UpgradeOptions {
  return {
    protocols: readProtocols(options.protocols),
    selectProtocol: readHook(options.selectProtocol, 'selectProtocol'),
    allowOrigins: readStringList(options.allowOrigins, 'allowOrigins'),
    authenticate: readHook(options.authenticate, 'authenticate'),
    handshakeTimeout: options.handshakeTimeout,
    responseHeaders: readResponseHeaders(options.responseHeaders),
    ...readSessionOptions(options),
  };
}

/**
 * A list option of the handshake (`protocols`, `allowOrigins`): an array (or
 * any iterable of strings), copied now; undefined for the default. Anything
 * else throws TypeError: a string would be searched as a substring
 * ("https://good.example" would let "https://good.ex" in), a Set would throw
 * out of the server's 'upgrade' event at the first browser request, and null
 * is refused rather than guessed at (no origin, or any?).
 */
function readStringList(value: unknown, name: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as Partial<Iterable<unknown>>)[Symbol.iterator] !== 'function'
  ) {
    throw new TypeError(
      `${name} must be an array of strings, not ${value === null ? 'null' : typeof value}`,
    );
  }
  const list: string[] = [];
  for (const item of value as Iterable<unknown>) {
    if (typeof item !== 'string') {
      throw new TypeError(`${name} must be an array of strings; it holds a ${typeof item}`);
    }
    list.push(item);
  }
  return list;
}

/**
 * `protocols`, read as {@link readStringList} reads a list; each must be an
 * HTTP token (RFC 6455 4.1), as the client requires of its offer: one that is
 * not could never be selected. A SyntaxError otherwise, as the client's.
 */
function readProtocols(value: unknown): string[] | undefined {
  const list = readStringList(value, 'protocols');
  for (const protocol of list ?? []) {
    if (!isToken(protocol)) {
      throw new DOMException(
        `Invalid subprotocol ${JSON.stringify(protocol)}: not an HTTP token`,
        'SyntaxError',
      );
    }
  }
  return list;
}

/**
 * `responseHeaders`, read and checked now (a TypeError for a name that is
 * not a token, CR/LF/NUL or a character beyond U+00FF in a value, a
 * handshake field): the pairs every 101 sends, or undefined for none.
 */
function readResponseHeaders(value: HeadersInput | undefined): Array<[string, string]> | undefined {
  return value === undefined ? undefined : validateUserHeaders(headerPairs(value));
}

/** A hook option (`authenticate`, `selectProtocol`): a function, or undefined or null for none. */
function readHook<T>(value: T | null | undefined, name: string): T | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'function') throw new TypeError(`${name} must be a function`);
  return value;
}

/** @internal An opening handshake in progress, as its connection sees it. */
export interface HandshakeInProgress {
  /** Ends the handshake at once, with no answer; `failed` is called with `error`. */
  abort(error: WebSocketError): void;
}

/** @internal Starts an opening handshake that reports to `callbacks`. */
export type StartHandshake = (callbacks: HandshakeCallbacks) => HandshakeInProgress;

/**
 * @internal The opening handshake over a Node socket handed out by an
 * 'upgrade' event. Throws if the socket was given to a handshake before (as
 * ws's handleUpgrade() does): two would both answer and both read its frames.
 */
export function nodeHandshake(
  request: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
  options: HandshakeOptions,
): StartHandshake {
  if (!takeSocket(socket)) {
    throw new Error('upgrade() was called more than once with the same socket');
  }
  return (callbacks) => new PendingHandshake(request, socket, head, options, callbacks);
}

/**
 * The URL a client asked for: the scheme from the socket, the host from the
 * Host header and the request target as sent. A target is a path even when it
 * starts with `//` or `/\` (RFC 7230 5.3.1): resolving it against the host
 * would let the client name another host. An absolute-form target (RFC 7230
 * 5.3.2) gives its own host and path (5.5); any other target, none. A Host
 * that is not a host (with `/`, `@`, ...) counts as absent.
 */
function urlOf(req: IncomingMessage, secure: boolean): string {
  const scheme = secure ? 'wss' : 'ws';
  const header = req.headers.host;
  let host = header === undefined || /[/\\?#@\s]/.test(header) ? 'localhost' : header;
  const target = req.url ?? '/';
  let path = target;
  if (!target.startsWith('/')) {
    path = '/';
    try {
      const absolute = new URL(target);
      if (/^(?:http|ws)s?:$/.test(absolute.protocol)) {
        host = absolute.host;
        path = absolute.pathname + absolute.search;
      }
    } catch {
      // Neither a path nor a URL: no path to keep.
    }
  }
  try {
    return new URL(`${scheme}://${host}${path}`).href;
  } catch {
    return new URL(`${scheme}://localhost${path}`).href;
  }
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
  readonly #secure: boolean;
  #url: string | undefined;
  readonly #life = new ConnectionLifecycle();
  /** The opening handshake while it is in progress (dropped once it ended). */
  #handshake: HandshakeInProgress | null = null;

  /**
   * @internal Use {@link upgrade}. `start` runs the opening handshake over
   * the connection's socket (a Node socket, or a Deno connection on Deno's
   * `wss:` server) and reports to the callbacks it is given.
   */
  constructor(
    request: IncomingMessage,
    secure: boolean,
    options: HandshakeOptions,
    start: StartHandshake,
  ) {
    this.request = request;
    this.#secure = secure;
    const life = this.#life;
    life.describe(this, 'server');
    const handshake = start({
      opened: (protocol, early, extension, transport) => {
        this.#handshake = null;
        const connection = new Connection({
          role: 'server',
          maxMessageSize: options.maxMessageSize,
          maxFragments: options.maxFragments,
          fragmentSize: options.fragmentSize,
          extension,
        });
        let session: Session;
        try {
          session = new Session(connection, transport, options, early, life);
        } catch (error) {
          // A strategy the session cannot use (its highWaterMark getter throws
          // now): this connection fails, the server goes on.
          transport.destroy();
          life.fail(error);
          return;
        }
        life.open(session, protocol, extension?.header ?? '');
      },
      failed: (error) => {
        this.#handshake = null;
        life.fail(error);
      },
    });
    // A handshake that ended within the constructor (no hooks to wait for) is not kept.
    if (life.state === 'connecting') this.#handshake = handshake;
  }

  /** The URL the client asked for (scheme from the socket, host from the Host header). */
  get url(): string {
    this.#url ??= urlOf(this.request, this.#secure);
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

  /**
   * A snapshot of the connection's counters (extension): messages and bytes in
   * and out, socket bytes, what wsstream holds, the last ping's round trip.
   * Zeros before the connection opened.
   */
  get stats(): WebSocketStats {
    return this.#life.stats();
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
    if (this.#abortHandshake('The connection was closed before the handshake completed')) return;
    this.#life.session?.close(code, reason);
  }

  /**
   * @internal The server's handshake deadline passed (`serve()`'s runs from
   * accept): ends the handshake as its own timeout would, with the same
   * error, rather than with the socket's close.
   */
  handshakeTimedOut(timeout: number): void {
    if (!this.#abortHandshake(`Opening handshake did not complete within ${timeout} ms`)) {
      this.terminate();
    }
  }

  /** Drops the connection without a closing handshake (the outcome is 1006). */
  terminate(): void {
    if (this.#abortHandshake('The connection was terminated')) return;
    this.#life.session?.terminate();
  }

  /**
   * During the opening handshake: drops it, so that `opened` and `closed`
   * reject with a 1006 WebSocketError saying `message`, and returns true.
   * Afterwards returns false (the session, if any, takes over).
   */
  #abortHandshake(message: string): boolean {
    if (this.#life.state !== 'connecting') return false;
    this.#handshake?.abort(createWebSocketError(message, CloseCode.ABNORMAL_CLOSURE));
    return true;
  }

  /** @internal Has `watcher` told once `closed` settles (see ConnectionLifecycle.watch). */
  watchClosed(watcher: ClosedWatcher<WebSocketConnection>): void {
    this.#life.watch(watcher, this);
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
  options?: UpgradeOptions | null,
): WebSocketConnection {
  // The connection uses the values read now, not later (after a hook).
  options = readUpgradeOptions(readDictionary<UpgradeOptions>(options, 'upgrade options'));
  readMilliseconds(options.handshakeTimeout, 'handshakeTimeout', 0);
  return new WebSocketConnection(
    request,
    (socket as { encrypted?: boolean }).encrypted === true,
    options,
    nodeHandshake(request, socket, head, options),
  );
}

export type { WebSocketMessage, WebSocketOpenInfo };
