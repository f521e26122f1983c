/**
 * `serve()` for `wss:` on Deno: `Deno.listenTls`, each accepted connection
 * read and written with Deno's own pull-based API (see
 * {@link DenoConnTransport} for why: Deno's `node:https` sockets read on
 * into memory after `pause()`, so a server that stopped reading never
 * pushed back on its client). The request head is read and parsed with the
 * core's {@link HttpHeadReader} under the same limits and answers as the
 * node:http(s) path: header size and count (431), malformed heads (400),
 * plain HTTP (426), the handshake deadline from accept (covering the TLS
 * handshake and the head), `maxConnections` and shutdown (503).
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  buildErrorResponse,
  DEFAULT_MAX_HEADER_SIZE,
  encodeResponse,
  HandshakeError,
  HttpHeadReader,
  parseRequestHead,
  type HandshakeResponse,
  type RequestHead,
} from '../core/handshake/index.js';
import type { HandshakeOptions } from '../node/server-handshake.js';
import {
  ConnectionRegistry,
  answerOutsideHandshake,
  HandshakeDeadlines,
  refused,
  TOO_MANY_CONNECTIONS,
} from '../node/serve-registry.js';
import { WebSocketConnection } from '../node/server.js';
import type { DenoConn } from './conn-transport.js';
import { answerAndCloseConn, DenoPendingHandshake } from './server-handshake.js';

/** A Deno network address (`Deno.NetAddr`). */
interface DenoNetAddr {
  hostname: string;
  port: number;
}

/** The part of `Deno.TlsConn` this module uses. */
export interface DenoTlsConn extends DenoConn {
  readonly remoteAddr: DenoNetAddr;
  readonly localAddr: DenoNetAddr;
}

/** The part of `Deno.TlsListener` this module uses. */
interface DenoTlsListener {
  readonly addr: DenoNetAddr;
  accept(): Promise<DenoTlsConn>;
  close(): void;
}

/** The part of the `Deno` namespace this module uses. */
export interface DenoListenNamespace {
  listenTls(options: {
    hostname?: string;
    port: number;
    cert: string;
    key: string;
    alpnProtocols?: string[];
  }): DenoTlsListener;
}

/** What the Deno TLS server needs from `serve()`'s validated options. */
export interface DenoTlsServeSettings {
  host: string | undefined;
  port: number;
  cert: string;
  key: string;
  handshakeTimeout: number;
  maxHeaderSize: number | undefined;
  maxHeaderCount: number;
  shutdownTimeout: number;
  handshakeOptions: HandshakeOptions;
  registry: ConnectionRegistry;
  onConnectionRefused: ((request: IncomingMessage) => void) | undefined;
}

/** The server's parts `serve()` wraps into its `WebSocketServer`. */
export interface DenoTlsServer {
  address: AddressInfo;
  close(): Promise<void>;
}

/** Each read of a request head: the head and at most this many early bytes. */
const HEAD_READ_SIZE = 16 * 1024;

const closeConn = (conn: DenoConn): void => {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
};

/**
 * The upgrade request as an IncomingMessage-like plain object: `method`,
 * `url`, `httpVersion`, `headers` (lower-case names; repeats joined with
 * ", ", `cookie` with "; ", `set-cookie` an array), `rawHeaders` (names in
 * lower case) and `socket` (`remoteAddress`, `remotePort`, `remoteFamily`,
 * `localAddress`, `localPort`, `encrypted`). Not a stream: there is no body.
 */
export function denoRequest(head: RequestHead, conn: DenoTlsConn): IncomingMessage {
  const headers: Record<string, string | string[]> = {};
  const rawHeaders: string[] = [];
  for (const [name, value] of head.headers.entries) {
    rawHeaders.push(name, value);
    const had = headers[name];
    if (name === 'set-cookie') headers[name] = [...((had as string[] | undefined) ?? []), value];
    else if (had === undefined) headers[name] = value;
    else headers[name] = `${had as string}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  const [major, minor] = head.httpVersion.split('.').map(Number);
  const remote = conn.remoteAddr;
  return {
    method: head.method,
    url: head.target,
    httpVersion: head.httpVersion,
    httpVersionMajor: major,
    httpVersionMinor: minor,
    headers,
    rawHeaders,
    socket: {
      remoteAddress: remote.hostname,
      remotePort: remote.port,
      remoteFamily: remote.hostname.includes(':') ? 'IPv6' : 'IPv4',
      localAddress: conn.localAddr.hostname,
      localPort: conn.localAddr.port,
      encrypted: true,
    },
  } as unknown as IncomingMessage;
}

/** node:https server options the Deno path takes. */
const DENO_TLS_OPTIONS = new Set(['cert', 'key', 'handshakeTimeout']);

/**
 * The `cert` and `key` of node:https server options as `Deno.listenTls`
 * takes them (one PEM text each), or null when the options say more than
 * that API can (any other TLS option, DER, several certificates or keys):
 * `serve()` then uses node:https.
 */
export function denoTlsCredentials(tls: object): { cert: string; key: string } | null {
  const { cert, key } = tls as Record<string, unknown>;
  // `handshakeTimeout` is covered by the server's own deadline (from accept).
  for (const [name, value] of Object.entries(tls))
    if (value !== undefined && !DENO_TLS_OPTIONS.has(name)) return null;
  const pem = (value: unknown): string | null => {
    const one = Array.isArray(value) ? (value.length === 1 ? (value[0] as unknown) : null) : value;
    const text =
      typeof one === 'string'
        ? one
        : one instanceof Uint8Array
          ? new TextDecoder().decode(one)
          : null;
    return text !== null && text.includes('-----BEGIN ') ? text : null;
  };
  const certText = pem(cert);
  const keyText = pem(key);
  return certText === null || keyText === null ? null : { cert: certText, key: keyText };
}

/** The `Deno` namespace when running on Deno with `Deno.listenTls`, else undefined. */
export function denoListen(): DenoListenNamespace | undefined {
  const deno = (globalThis as { Deno?: Partial<DenoListenNamespace> }).Deno;
  return typeof deno?.listenTls === 'function' ? (deno as DenoListenNamespace) : undefined;
}

/** Listens with `Deno.listenTls` and serves WebSocket upgrades until `close()`. */
export function serveDenoTls(deno: DenoListenNamespace, s: DenoTlsServeSettings): DenoTlsServer {
  const listener = deno.listenTls({
    ...(s.host !== undefined ? { hostname: s.host } : {}),
    port: s.port,
    cert: s.cert,
    key: s.key,
    alpnProtocols: ['http/1.1'],
  });
  const registry = s.registry;
  /** Connections not handed to a WebSocketConnection yet (head being read, or being answered). */
  const unclaimed = new Set<DenoTlsConn>();
  /** The handshake deadlines of every connection in its handshake, on one timer. */
  const deadlines = new HandshakeDeadlines(s.handshakeTimeout);
  let closing = false;

  /** Reads the request head under the deadline; null if the client left or the deadline passed. */
  const readHead = async (
    conn: DenoTlsConn,
  ): Promise<{ head: RequestHead; rest: Uint8Array } | HandshakeError | null> => {
    const reader = new HttpHeadReader({
      maxHeaderSize: s.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE,
      maxHeaderCount: s.maxHeaderCount,
    });
    const buffer = new Uint8Array(HEAD_READ_SIZE);
    try {
      for (;;) {
        // Deno runs the TLS handshake on the first read; its failures land here too.
        const n = await conn.read(buffer);
        if (n === null) return null;
        const done = reader.push(buffer.subarray(0, n));
        if (done !== null) {
          const head = parseRequestHead(done.head, s.maxHeaderCount);
          return { head, rest: done.rest.slice() };
        }
      }
    } catch (error) {
      if (error instanceof HandshakeError) return error;
      return null;
    }
  };

  const answer = (conn: DenoTlsConn, response: string | HandshakeResponse): void => {
    const bytes = typeof response === 'string' ? response : encodeResponse(response);
    void answerAndCloseConn(conn, bytes).then(() => unclaimed.delete(conn));
  };

  const handle = async (conn: DenoTlsConn): Promise<void> => {
    unclaimed.add(conn);
    /** The connection once the socket was handed to one. */
    const claimed: { connection?: WebSocketConnection } = {};
    // The deadline runs from accept and covers the TLS handshake and the request
    // head, so a client that trickles its head a byte at a time (slowloris) is dropped.
    const deadline = {
      passed: false,
      destroy(): void {
        deadline.passed = true;
        if (claimed.connection !== undefined) {
          claimed.connection.handshakeTimedOut(s.handshakeTimeout);
        } else {
          unclaimed.delete(conn);
          closeConn(conn);
        }
      },
    };
    deadlines.add(deadline);
    const settle = (): void => deadlines.settle(deadline);
    const read = await readHead(conn);
    if (deadline.passed || closing) {
      settle();
      unclaimed.delete(conn);
      closeConn(conn);
      return;
    }
    if (read === null) {
      settle();
      unclaimed.delete(conn);
      closeConn(conn);
      return;
    }
    if (read instanceof HandshakeError) {
      settle();
      const status = read.status === 431 ? 431 : 400;
      answer(
        conn,
        buildErrorResponse(
          status,
          status === 431 ? 'Request header fields too large' : 'Bad Request',
        ),
      );
      return;
    }
    const { head, rest } = read;
    // What node:http hands to 'upgrade' rather than to 'request' or 'connect'.
    const outside = answerOutsideHandshake(
      head.method,
      head.headers.get('upgrade'),
      head.headers.get('connection'),
    );
    if (outside !== null) {
      settle();
      answer(conn, outside);
      return;
    }
    const request = denoRequest(head, conn);
    // Checked before any handshake work: a refused client costs one short answer.
    if (registry.full) {
      settle();
      answer(conn, buildErrorResponse(503, TOO_MANY_CONNECTIONS));
      refused(s.onConnectionRefused, request);
      return;
    }
    unclaimed.delete(conn);
    const connection = new WebSocketConnection(
      request,
      true,
      s.handshakeOptions,
      (callbacks) =>
        new DenoPendingHandshake(conn, request, head, rest, s.handshakeOptions, callbacks),
    );
    claimed.connection = connection;
    registry.admit(connection, settle);
  };

  const accepting = (async (): Promise<void> => {
    for (;;) {
      let conn: DenoTlsConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closing || (error as { name?: unknown }).name === 'BadResource') return;
        // Accept errors (too many open files...) are transient: the server keeps listening.
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      if (closing) {
        closeConn(conn);
        continue;
      }
      void handle(conn);
    }
  })();

  const hostname = listener.addr.hostname;
  return {
    address: {
      address: hostname,
      family: hostname.includes(':') ? 'IPv6' : 'IPv4',
      port: listener.addr.port,
    },
    async close(): Promise<void> {
      closing = true;
      deadlines.dispose();
      listener.close();
      for (const conn of unclaimed) closeConn(conn);
      unclaimed.clear();
      await registry.shutdown(s.shutdownTimeout);
      await accepting;
    },
  };
}
