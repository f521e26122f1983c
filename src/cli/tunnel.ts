/**
 * One tunnel: a TCP or Unix socket bridged to a WebSocket connection, bytes
 * both ways as binary messages (websocat's `tcp:` to `ws:`), used by
 * `serve --forward` (the socket is the target) and `connect --listen` (the
 * socket is a local client).
 *
 * Backpressure both ways, with nothing buffered beyond fixed bounds: a chunk
 * read from the socket is one binary message, and the socket is paused while
 * the WebSocket's Duplex is past its high-water mark (64 KiB), so a WebSocket
 * that cannot send stops the socket's reads and its peer's writes block in
 * TCP; a message is written to the socket and the WebSocket is not read
 * while the socket is past its own high-water mark, so a socket peer that
 * does not read stops the WebSocket's reads, and the far end's sends block.
 *
 * Endings map to each other: the socket's FIN becomes a Close 1000 after
 * everything it sent; a Close 1000, 1001 or without code becomes a FIN after
 * everything received; a socket that fails becomes a Close with
 * {@link TunnelCloseCode}; a WebSocket that fails or closes with any other
 * code resets the socket (RST), as data may have been lost.
 */
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { toDuplex, type WebSocketDuplex, type WebSocketLike } from '../index.js';
import { WebSocketError, type WebSocketCloseInfo, type WebSocketStats } from '../index.js';

/**
 * Close codes of a tunnel whose socket failed. Both are in the private range
 * 4000-4999 (the only codes besides 1000 that the WebSocketStream API lets an
 * application send), read as the HTTP status a reverse proxy answers in the
 * same case, and lie outside 4000-4255 (used by `serve --exec` for exit
 * statuses and signals) and 4008 (`serve --broadcast`'s "too slow"). Like
 * every code but 1000, 1001 and 1005, they make `wsstream connect` exit 1.
 */
export const TunnelCloseCode = {
  /**
   * The target could not be reached: connection refused, no such Unix
   * socket, host unreachable, name not found. Nothing was exchanged, so
   * trying again is safe. (nginx answers 502 Bad Gateway when it cannot
   * connect to an upstream.)
   */
  UNREACHABLE: 4502,
  /**
   * The socket failed after it was connected: reset by its peer (ECONNRESET)
   * or another socket error. Bytes in flight may have been lost; the far end
   * of the tunnel resets its own socket in turn. (500: the error happened
   * behind the gateway, after the exchange began.)
   */
  RESET: 4500,
} as const;
export type TunnelCloseCode = (typeof TunnelCloseCode)[keyof typeof TunnelCloseCode];

/**
 * Milliseconds a socket may go without taking any of the bytes written to it
 * (or, after its FIN, without closing) once its WebSocket closed, before it is
 * destroyed: 5 s. What it sends meanwhile does not count. The socket gets a FIN after everything received, and its
 * peer should answer with its own; this bounds how long a peer that never
 * does (or never reads the rest) can keep the tunnel's socket open.
 */
export const DEFAULT_TUNNEL_LINGER = 5_000;

/** Close codes that end a tunnel normally: the socket gets a FIN, not a reset. */
const NORMAL_CLOSE_CODES = new Set([1000, 1001, 1005]);

const noop = (): void => {};

/**
 * One direction of a tunnel: every chunk `from` emits is written to `to`,
 * and `from` is paused while `to` is past its high-water mark. Chunks that
 * come after `to` ended (the other side is gone) are discarded.
 */
class Pump {
  /** Bytes moved so far. */
  bytes = 0;
  /** Bytes written to `to` and not yet handed to the operating system. */
  held = 0;
  /** Called each time a chunk was handed to the operating system. */
  readonly #written: () => void;

  constructor(written: () => void = noop) {
    this.#written = written;
  }

  start(from: Readable, to: Writable): void {
    from.on('data', (chunk: Buffer) => {
      if (to.writableEnded || to.destroyed) return;
      this.bytes += chunk.length;
      this.held += chunk.length;
      const more = to.write(chunk, () => {
        this.held -= chunk.length;
        this.#written();
      });
      if (!more) from.pause();
    });
    to.on('drain', () => from.resume());
  }
}

/** Options of a {@link Tunnel}. */
export interface TunnelOptions {
  /** What the socket is, in close reasons and logs: `target` or `client`. */
  readonly name: string;
  /** Where to report socket errors (default: nowhere). */
  readonly log?: (line: string) => void;
  /** See {@link DEFAULT_TUNNEL_LINGER}; milliseconds. */
  readonly linger?: number;
}

/**
 * Bridges `socket` (connected or still connecting) and `ws` (open or still
 * opening) until both have ended. Bytes flow once both are connected.
 */
export class Tunnel {
  readonly #socket: Socket;
  readonly #duplex: WebSocketDuplex;
  readonly #name: string;
  readonly #log: (line: string) => void;
  readonly #linger: number;
  #connected = false;
  /** Socket to WebSocket: bytes read from the socket, sent as messages. */
  readonly #up = new Pump();
  /** WebSocket to socket: bytes received as messages, written to the socket. */
  readonly #down = new Pump(() => this.#lingerTimer?.refresh());
  /** Once the WebSocket closed: destroys the socket after {@link #linger} ms without progress. */
  #lingerTimer: ReturnType<typeof setTimeout> | null = null;
  /** Whether the WebSocket closed normally (1000, 1001, no code); false if it failed. */
  readonly #normal: Promise<boolean>;
  /** Settles when the socket has closed and the WebSocket's outcome is known. */
  readonly done: Promise<void>;

  constructor(
    socket: Socket,
    ws: WebSocketLike & { readonly stats?: WebSocketStats },
    options: TunnelOptions,
  ) {
    this.#socket = socket;
    this.#name = options.name;
    this.#log = options.log ?? noop;
    this.#linger = options.linger ?? DEFAULT_TUNNEL_LINGER;
    // Strings written are bytes; a text message from the peer arrives as its UTF-8 bytes.
    this.#duplex = toDuplex(ws, { stringsAs: 'binary', textAs: 'buffer' });
    // The outcome is read from ws.closed; the Duplex's errors repeat it.
    this.#duplex.on('error', noop);
    socket.on('error', (error: NodeJS.ErrnoException) => this.#socketFailed(error));
    if (socket.connecting) socket.once('connect', () => this.#start());
    else this.#start();
    const socketClosed = new Promise<void>((resolve) => {
      if (socket.destroyed) resolve();
      else socket.once('close', () => resolve());
    });
    // Normal only if nothing the peer sent was dropped: once we closed first (a shutdown),
    // messages past the 1 MiB held while closing are discarded, and the socket's peer must
    // not take a cut-short stream for a whole one.
    this.#normal = ws.closed.then(
      (info) => NORMAL_CLOSE_CODES.has(info.closeCode) && (ws.stats?.messagesDiscarded ?? 0) === 0,
      () => false,
    );
    const wsClosed = this.#normal.then((normal) => this.#wsClosed(normal));
    this.done = Promise.all([socketClosed, wsClosed]).then(noop);
  }

  /** Bytes read from the socket so far (sent as messages). */
  get bytesUp(): number {
    return this.#up.bytes;
  }

  /** Bytes received as messages so far (written to the socket). */
  get bytesDown(): number {
    return this.#down.bytes;
  }

  /**
   * Bytes the tunnel holds in user space right now: the socket's read buffer,
   * bytes read but not yet handed to the operating system by the WebSocket,
   * and bytes received but not yet taken by the socket's kernel buffer.
   * Beyond this, the Duplex and the WebSocketStream each queue at most one
   * received message (a socket chunk, at most 64 KiB, from a wsstream peer).
   */
  held(): number {
    return this.#up.held + this.#down.held + this.#socket.readableLength;
  }

  /** Ends both sides at once: the socket is reset, the WebSocket closed without waiting. */
  abort(): void {
    reset(this.#socket);
    this.#duplex.destroy();
  }

  #start(): void {
    this.#connected = true;
    const socket = this.#socket;
    const duplex = this.#duplex;

    // Socket -> WebSocket: a chunk is a binary message; stop reading while the Duplex is full.
    this.#up.start(socket, duplex);
    // A listener's socket starts paused (pauseOnConnect), so that nothing is read before now.
    socket.resume();
    // The socket's FIN: the Close follows everything it sent.
    socket.on('end', () => {
      if (duplex.writableEnded || duplex.destroyed) return;
      duplex.endWith(this.#closeInfo(1000, `${this.#name} closed the connection`));
    });

    // WebSocket -> socket: stop reading messages while the socket's buffer is full.
    this.#down.start(duplex, socket);
    // The peer's Close arrived and every message before it was written: FIN after them, unless
    // its code says something went wrong.
    duplex.on('end', () => {
      void this.#normal.then((normal) => (normal ? this.#endSocket() : reset(socket)));
    });
  }

  #closeInfo(closeCode: number, reason: string): WebSocketCloseInfo {
    // RFC 6455 5.5: control frame payloads are at most 125 bytes, so a reason at most 123.
    let r = reason;
    while (Buffer.byteLength(r) > 123) r = r.slice(0, -1);
    return { closeCode, reason: r };
  }

  #socketFailed(error: NodeJS.ErrnoException): void {
    const code = error.code ?? 'error';
    this.#log(`${this.#name}: ${error.message}`);
    let info: WebSocketCloseInfo;
    if (!this.#connected) {
      info = this.#closeInfo(TunnelCloseCode.UNREACHABLE, `${this.#name} unreachable (${code})`);
    } else if (code === 'ECONNRESET') {
      info = this.#closeInfo(TunnelCloseCode.RESET, `${this.#name} reset the connection`);
    } else {
      info = this.#closeInfo(TunnelCloseCode.RESET, `${this.#name} connection failed (${code})`);
    }
    // Destroyed with a WebSocketError, the Duplex closes with its code and reason at once.
    this.#duplex.destroy(new WebSocketError(info.reason, info));
  }

  /** FIN after every byte written so far; then the socket has the linger to close (see {@link #lingerThenDestroy}). */
  #endSocket(): void {
    const socket = this.#socket;
    if (socket.destroyed) return;
    if (!socket.writableEnded) socket.end();
    // Nothing read from here on can be delivered: read on only to see the peer's FIN.
    socket.resume();
    this.#lingerThenDestroy();
  }

  /**
   * The linger: the socket is destroyed once it has taken none of the bytes
   * still written to it for {@link #linger} ms, or that long after its FIN
   * went out. Not Node's idle timeout, which reads reset: what a finished
   * tunnel's socket still sends is read and dropped, and must not keep it open.
   */
  #lingerThenDestroy(): void {
    const socket = this.#socket;
    if (this.#lingerTimer !== null) return;
    // Unreferenced, like Node's socket timeouts: the open socket keeps the process alive anyway.
    this.#lingerTimer = setTimeout(() => {
      // Bytes it never took are lost: an RST, so that it is not taken for a clean end.
      if (socket.writableLength > 0) reset(socket);
      else socket.destroy();
    }, this.#linger).unref();
    socket.once('close', () => clearTimeout(this.#lingerTimer!));
    // Everything written and the FIN sent: the peer has the linger to answer with its own.
    socket.once('finish', () => this.#lingerTimer?.refresh());
  }

  #wsClosed(normal: boolean): void {
    const socket = this.#socket;
    if (socket.destroyed) return;
    if (!this.#connected) {
      // The WebSocket ended before the target answered: give the attempt up.
      socket.destroy();
      return;
    }
    if (normal) {
      // The FIN goes once every received message was written (the Duplex's 'end'); until then
      // the socket may be slow to take the rest, but not idle for longer than the linger.
      this.#lingerThenDestroy();
      return;
    }
    // Failed, or closed with a code that says something went wrong: data may be missing, so
    // the socket's peer must not take the end for a normal one.
    reset(socket);
  }
}

/** Destroys `socket` with an RST where the platform allows it (TCP), else plainly. */
export function reset(socket: Socket): void {
  try {
    socket.resetAndDestroy();
  } catch {
    // Not TCP (a Unix socket has no RST).
    socket.destroy();
  }
}
