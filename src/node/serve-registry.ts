/**
 * What every `serve()` listener shares, whatever accepts its sockets
 * (node:http(s), or `Deno.listenTls` for `wss:` on Deno): the connections
 * open and in their handshake, the `maxConnections` check, running the
 * application's handler, and the connection steps of a graceful shutdown.
 */
import type { IncomingMessage } from 'node:http';
import { CloseCode } from '../core/close.js';
import { hasToken, rejectResponse, type HandshakeResponse } from '../core/handshake/index.js';
import type { ClosedWatcher } from '../streams/lifecycle.js';
import { callHook, thenOf } from '../streams/user-hook.js';
import type { WebSocketConnection } from './server.js';

/** The body of the 426 that answers a plain HTTP request. */
export const PLAIN_HTTP_BODY = 'This is a WebSocket endpoint: connect with "Upgrade: websocket"\n';

/** The 426 that answers a plain HTTP request: this endpoint speaks WebSocket only. */
const PLAIN_HTTP_RESPONSE: HandshakeResponse = {
  status: 426,
  statusText: 'Upgrade Required',
  headers: [
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['Content-Length', String(PLAIN_HTTP_BODY.length)],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade, close'],
  ],
  body: PLAIN_HTTP_BODY,
};

/**
 * What `serve()` answers, on every runtime, to a request that is not for
 * the opening handshake, or null for one that is (the handshake decides).
 * A request is for the handshake as node:http routes it to 'upgrade': an
 * `Upgrade` header and the "upgrade" token in `Connection`, and not a
 * CONNECT (which node:http routes elsewhere). The others get:
 *  - a CONNECT: 405 with `Allow: GET`, as any method but GET;
 *  - `Upgrade: websocket` without the Connection token: the handshake's own
 *    answer (405 for a method other than GET, checked first as the
 *    handshake checks it, else 400 naming the Connection header), not a
 *    426 asking for the upgrade it asked for;
 *  - anything else: 426 Upgrade Required.
 */
export function answerOutsideHandshake(
  method: string,
  upgrade: string | undefined,
  connection: string | undefined,
): HandshakeResponse | null {
  const websocket = hasToken(upgrade, 'websocket');
  if (method !== 'CONNECT' && upgrade !== undefined && hasToken(connection, 'upgrade')) {
    return null;
  }
  if (method === 'CONNECT' || (websocket && method !== 'GET')) {
    return rejectResponse(405, `Method ${method} not allowed; a WebSocket handshake is a GET`, [
      ['Allow', 'GET'],
    ]);
  }
  if (websocket) return rejectResponse(400, 'Missing "Upgrade" token in the Connection header');
  return PLAIN_HTTP_RESPONSE;
}

/** The body of the 503 that refuses an upgrade over `maxConnections`. */
export const TOO_MANY_CONNECTIONS = 'Too many connections, try again later';

/**
 * Calls `onConnectionRefused`, if any; a hook that throws, or an async one
 * that rejects, must not take the server down.
 */
export function refused(
  hook: ((request: IncomingMessage) => void) | undefined,
  request: IncomingMessage,
): void {
  callHook(hook, request);
}

/**
 * The connections of one server. It is told of each connection's end by the
 * connection itself (it is the connections' {@link ClosedWatcher}), not by
 * a reaction to `closed`: an open connection costs it a map entry and the
 * reaction to the handler's promise, and `closed` is made only if the
 * application asks for it.
 */
export class ConnectionRegistry implements ClosedWatcher<WebSocketConnection> {
  /** Open connections (added once `opened` fulfilled, removed once `closed` settled). */
  readonly connections = new Set<WebSocketConnection>();
  /** Connections whose opening handshake is in progress. */
  readonly #pending = new Set<WebSocketConnection>();
  /**
   * Opened connections that hold a slot of `maxConnections`, each with the
   * count of what it waits for: `closed` to settle, and the promise its
   * handler returned (if any) to settle.
   */
  readonly #held = new Map<WebSocketConnection, number>();
  readonly #maxConnections: number;
  readonly #handler: (connection: WebSocketConnection) => void | Promise<void>;

  constructor(
    maxConnections: number,
    handler: (connection: WebSocketConnection) => void | Promise<void>,
  ) {
    this.#maxConnections = maxConnections;
    this.#handler = handler;
  }

  /**
   * Whether `maxConnections` slots are taken: by connections in their
   * handshake, open ones, and closed ones whose handler's promise has not
   * settled yet.
   */
  get full(): boolean {
    return this.#pending.size + this.#held.size >= this.#maxConnections;
  }

  /**
   * Tracks a connection through its handshake and, once `opened` fulfilled,
   * runs the handler (a throw or a rejection closes the connection with 1011).
   * Its slot is held until `closed` and the handler's promise (if any) have
   * settled. `settled` runs when `opened` settles either way.
   */
  admit(connection: WebSocketConnection, settled: () => void): void {
    const pending = this.#pending;
    pending.add(connection);
    connection.opened.then(
      () => {
        pending.delete(connection);
        settled();
        this.#run(connection);
      },
      () => {
        pending.delete(connection);
        settled();
      },
    );
  }

  /**
   * Runs the handler of a connection whose `opened` fulfilled. A method of
   * its own, so that the reactions to the handler's promise (kept as long as
   * the connection) hold only the connection, not what `admit()` was given.
   */
  #run(connection: WebSocketConnection): void {
    this.connections.add(connection);
    this.#held.set(connection, 2);
    // At once if the connection has ended already.
    connection.watchClosed(this);
    let result: unknown = undefined;
    try {
      result = this.#handler(connection);
    } catch {
      connection.closeWithCode(CloseCode.INTERNAL_ERROR, 'Internal error');
    }
    // A promise, or any thenable; a `then` getter that throws makes
    // Promise.resolve() reject, which closes with 1011 like a rejection.
    // For a native promise it reads `constructor` first: a getter there
    // that throws counts as a rejection too (thrown out of this reaction,
    // it would be an unhandled rejection that keeps the slot taken).
    let thenable: boolean;
    try {
      thenable = thenOf(result) !== null;
    } catch {
      thenable = true;
    }
    if (!thenable) {
      this.#release(connection);
      return;
    }
    let settles: Promise<unknown>;
    try {
      settles = Promise.resolve(result);
    } catch (error) {
      // Only that it failed matters (1011 below).
      settles = Promise.reject(new Error("The handler's promise failed", { cause: error }));
    }
    settles.then(
      () => this.#release(connection),
      () => {
        connection.closeWithCode(CloseCode.INTERNAL_ERROR, 'Internal error');
        this.#release(connection);
      },
    );
  }

  /** ClosedWatcher: the connection's `closed` settled. */
  closedSettled(connection: WebSocketConnection): void {
    this.connections.delete(connection);
    this.#release(connection);
  }

  /** One of the two things a connection's slot waits for ended. */
  #release(connection: WebSocketConnection): void {
    const held = this.#held;
    const left = held.get(connection)! - 1;
    if (left === 0) held.delete(connection);
    else held.set(connection, left);
  }

  /**
   * The connections' part of a graceful shutdown: drops handshakes in
   * progress, sends 1001 Going Away to every open connection, waits up to
   * `timeout` ms for their clean closes, then drops the rest.
   */
  async shutdown(timeout: number): Promise<void> {
    for (const c of this.#pending) c.terminate();
    const live = [...this.connections];
    for (const c of live) c.closeWithCode(CloseCode.GOING_AWAY, 'Server shutting down');
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled(live.map((c) => c.closed)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeout);
      }),
    ]);
    clearTimeout(timer);
    for (const c of this.connections) c.terminate();
  }
}

/**
 * The handshake deadlines of a server's sockets, on one timer. Every socket
 * gets the same timeout, so deadlines fall in the order sockets were added:
 * the timer is armed for the oldest, and when it fires it destroys every
 * socket past its deadline and is armed again for the next one. A socket
 * costs one map entry, not a timer of its own. The timer is unref'd: it never
 * keeps the process alive (a pending socket does).
 */
export class HandshakeDeadlines {
  readonly #timeout: number;
  /** Each pending socket and when it was added (performance.now()). */
  readonly #since = new Map<{ destroy(): void }, number>();
  /**
   * What to do instead of destroying a socket whose handshake has a
   * connection now. A Map, not a WeakMap (whose entries V8's collector
   * revisits in every collection): {@link settle} removes each entry, and
   * every socket is settled, by its handshake's end or by its close.
   */
  readonly #instead = new Map<{ destroy(): void }, () => void>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(timeout: number) {
    this.#timeout = timeout;
  }

  /** Starts `socket`'s deadline: it is destroyed unless settled within the timeout. */
  add(socket: { destroy(): void }): void {
    this.#since.set(socket, performance.now());
    if (this.#timer === undefined) this.#arm(this.#timeout);
  }

  /**
   * The socket's handshake is now a connection's: at the deadline, `expire`
   * ends it (so that its `opened` says the handshake timed out) instead of
   * the socket being destroyed under it.
   */
  handOver(socket: { destroy(): void }, expire: () => void): void {
    if (this.#since.has(socket)) this.#instead.set(socket, expire);
  }

  /** The socket's handshake ended (or it closed): no deadline any more. */
  settle(socket: { destroy(): void }): void {
    this.#since.delete(socket);
    this.#instead.delete(socket);
  }

  /** Stops the timer (the server is closing; what is pending is destroyed by its caller). */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#since.clear();
    this.#instead.clear();
  }

  #arm(delay: number): void {
    // Beyond 2^31 - 1 ms a timer would fire at once; the re-arm covers the rest.
    this.#timer = setTimeout(this.#expire, Math.min(delay, 0x7fffffff));
    this.#timer.unref?.();
  }

  readonly #expire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    for (const [socket, since] of this.#since) {
      const left = since + this.#timeout - now;
      if (left > 0) {
        this.#arm(left);
        return;
      }
      this.#since.delete(socket);
      const expire = this.#instead.get(socket);
      this.#instead.delete(socket);
      if (expire === undefined) socket.destroy();
      else expire();
    }
  };
}
