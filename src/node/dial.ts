/**
 * Opens the byte stream a client's opening handshake runs on: TCP or TLS to
 * the URL's host, a Unix domain socket (`socketPath`), or a CONNECT tunnel
 * through an HTTP proxy with TLS to the origin inside it for wss:.
 */
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import type * as NodeTls from 'node:tls';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { CloseCode } from '../core/close.js';
import type { ConnectRequest } from '../streams/connector.js';
import { redactProxyUrl } from '../streams/proxy-option.js';
import { createWebSocketError, type WebSocketError } from '../streams/websocket-error.js';
import { urlForMessages } from '../streams/url-credentials.js';
import { buildConnectRequest, ConnectAnswerReader } from './proxy.js';
import { chooseProxy, portOf } from './proxy-env.js';
import { ReadRelay } from './socket-transport.js';

/**
 * node:tls, loaded for the first `wss:` connection: it brings in all of the
 * runtime's TLS (6 MB of RSS on Node 24), which a `ws:` client never uses.
 */
let tls: typeof NodeTls | undefined;
function tlsConnect(options: ConnectionOptions): TLSSocket {
  tls ??= createRequire(import.meta.url)('node:tls') as typeof NodeTls;
  return tls.connect(options);
}

/** A socket ready for the HTTP upgrade request. */
export interface Dialed {
  socket: Socket;
  /** Set when the socket is read with `onread` (plain TCP or Unix socket). */
  relay: ReadRelay | undefined;
}

function hostOf(url: URL): string {
  const h = url.hostname;
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

function noop(): void {}

/**
 * One connection attempt up to the moment the HTTP request can be written.
 * Calls `onReady` or `onFail` once, synchronously from the socket's event (so
 * the caller installs its listeners before any later event). `phase` says what
 * it is waiting for, for the caller's timeout message; `destroy()` ends it.
 */
export class Dialer {
  phase = 'connecting';
  readonly #sockets: Socket[] = [];
  readonly #request: ConnectRequest;
  readonly #target: string;
  #settled = false;
  #onReady: (dialed: Dialed) => void = noop;
  #onFail: (error: WebSocketError) => void = noop;

  constructor(request: ConnectRequest) {
    this.#request = request;
    this.#target = urlForMessages(request.url);
  }

  /**
   * Starts; throws nothing: a bad proxy variable, or options the runtime's
   * TLS refuses (a key that does not match its certificate, a wrong
   * passphrase), fail through `onFail`, asynchronously.
   */
  start(onReady: (dialed: Dialed) => void, onFail: (error: WebSocketError) => void): void {
    this.#onReady = onReady;
    this.#onFail = onFail;
    const { url, socketPath } = this.#request;
    let proxy: URL | null;
    try {
      proxy = socketPath === undefined ? chooseProxy(url, this.#request.proxy, process.env) : null;
    } catch (error) {
      queueMicrotask(() =>
        this.#fail(
          createWebSocketError(
            `Connection to ${this.#target} failed: ${error instanceof Error ? error.message : String(error)}`,
            CloseCode.ABNORMAL_CLOSURE,
            '',
            error,
          ),
        ),
      );
      return;
    }
    try {
      if (proxy === null) this.#direct();
      else this.#tunnel(proxy);
    } catch (error) {
      // tls.connect() throws at once for options it cannot use.
      queueMicrotask(() =>
        this.#fail(this.#error(`Connection to ${this.#target}`, toError(error))),
      );
    }
  }

  /** Destroys every socket of the attempt; no callback follows. */
  destroy(): void {
    this.#settled = true;
    for (const s of this.#sockets) s.destroy();
  }

  #fail(error: WebSocketError): void {
    if (this.#settled) return;
    this.#settled = true;
    for (const s of this.#sockets) s.destroy();
    this.#onFail(error);
  }

  #ready(socket: Socket, relay: ReadRelay | undefined): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#onReady({ socket, relay });
  }

  #error(what: string, error: Error): WebSocketError {
    return createWebSocketError(
      `${what} failed: ${error.message}`,
      CloseCode.ABNORMAL_CLOSURE,
      '',
      error,
    );
  }

  /** TLS options for the origin: SNI and certificate checks against the URL's host name. */
  #tlsOptions(): ConnectionOptions {
    const tls = this.#request.tls;
    const host = hostOf(this.#request.url);
    return {
      host,
      servername: tls?.servername ?? (isIP(host) === 0 ? host : undefined),
      ALPNProtocols: ['http/1.1'],
      ca: tls?.ca as never,
      cert: tls?.cert as never,
      key: tls?.key as never,
      passphrase: tls?.passphrase,
      rejectUnauthorized: tls?.rejectUnauthorized ?? true,
    };
  }

  /**
   * Installs the attempt's listeners on `socket` until `event`, then hands it
   * on; `what` names the connection in error messages.
   */
  #watch(socket: Socket, event: string, what: string, then: () => void): void {
    const onEvent = (): void => {
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
      then();
    };
    const onError = (error: Error): void => {
      socket.removeListener(event, onEvent);
      this.#fail(this.#error(what, error));
    };
    const onClose = (): void => {
      this.#fail(
        createWebSocketError(
          `${what} closed during the opening handshake`,
          CloseCode.ABNORMAL_CLOSURE,
        ),
      );
    };
    socket.once(event, onEvent);
    socket.once('error', onError);
    socket.once('close', onClose);
  }

  #direct(): void {
    const { url, socketPath } = this.#request;
    const secure = url.protocol === 'wss:';
    const where = socketPath === undefined ? '' : ` over Unix socket ${socketPath}`;
    if (secure) {
      const options = this.#tlsOptions();
      const socket =
        socketPath === undefined
          ? tlsConnect({ ...options, port: portOf(url) })
          : tlsConnect({ ...options, path: socketPath });
      socket.setNoDelay(true);
      this.#sockets.push(socket);
      this.phase = `connecting (TLS) to ${this.#target}${where}`;
      this.#watch(socket, 'secureConnect', `Connection (TLS) to ${this.#target}${where}`, () =>
        this.#ready(socket, undefined),
      );
      return;
    }
    // TCP reads go into a large reused buffer (onread): no allocation per read.
    const relay = new ReadRelay();
    const socket =
      socketPath === undefined
        ? netConnect({ host: hostOf(url), port: portOf(url), onread: relay.onread })
        : netConnect({ path: socketPath, onread: relay.onread });
    socket.setNoDelay(true);
    this.#sockets.push(socket);
    this.phase = `connecting to ${this.#target}${where}`;
    this.#watch(socket, 'connect', `Connection to ${this.#target}${where}`, () =>
      this.#ready(socket, relay),
    );
  }

  #tunnel(proxy: URL): void {
    const { url } = this.#request;
    const secure = url.protocol === 'wss:';
    const label = redactProxyUrl(proxy);
    const relay = secure ? undefined : new ReadRelay();
    const raw = netConnect({
      host: hostOf(proxy),
      port: proxy.port === '' ? 80 : Number(proxy.port),
      onread: relay?.onread,
    });
    raw.setNoDelay(true);
    this.#sockets.push(raw);
    this.phase = `connecting to proxy ${label}`;
    const answer = new ConnectAnswerReader(proxy, url);
    this.#watch(raw, 'connect', `Connection to proxy ${label}`, () => {
      this.phase = `waiting for proxy ${label} to answer CONNECT`;
      const onError = (error: Error): void =>
        this.#fail(this.#error(`Connection to proxy ${label}`, error));
      const onClose = (): void =>
        this.#fail(
          createWebSocketError(
            `Proxy ${label} closed the connection without answering CONNECT`,
            CloseCode.ABNORMAL_CLOSURE,
          ),
        );
      const onData = (chunk: Uint8Array): void => {
        let open: boolean;
        try {
          open = answer.push(chunk);
        } catch (error) {
          this.#fail(
            createWebSocketError((error as Error).message, CloseCode.ABNORMAL_CLOSURE, '', error),
          );
          return;
        }
        if (!open) return;
        if (relay !== undefined) relay.setReader(null);
        else raw.removeListener('data', onData);
        raw.removeListener('error', onError);
        raw.removeListener('close', onClose);
        if (relay !== undefined) {
          this.#ready(raw, relay);
          return;
        }
        // wss: TLS to the origin inside the tunnel, checked against the origin's name.
        raw.pause();
        raw.on('error', noop);
        let socket: TLSSocket;
        try {
          socket = tlsConnect({ ...this.#tlsOptions(), socket: raw });
        } catch (error) {
          // Options TLS cannot use: a failure of this attempt, not an exception in a socket's callback.
          this.#fail(
            this.#error(
              `Connection (TLS) to ${this.#target} through proxy ${label}`,
              toError(error),
            ),
          );
          return;
        }
        this.#sockets.push(socket);
        this.phase = `TLS handshake with ${this.#target} through proxy ${label}`;
        this.#watch(
          socket,
          'secureConnect',
          `Connection (TLS) to ${this.#target} through proxy ${label}`,
          () => this.#ready(socket, undefined),
        );
      };
      raw.on('error', onError);
      raw.on('close', onClose);
      if (relay !== undefined) relay.setReader({ onData });
      else raw.on('data', onData);
      let request: string;
      try {
        request = buildConnectRequest(url, proxy);
      } catch (error) {
        this.#fail(this.#error(`Connection to proxy ${label}`, toError(error)));
        return;
      }
      raw.write(request);
    });
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
