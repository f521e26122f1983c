/**
 * The connector on Deno: `wss:` over `Deno.connectTls`, read and written
 * with Deno's own API (see {@link DenoConnTransport} for why); `ws:`, proxies,
 * Unix sockets and the TLS options Deno's API cannot express go through the
 * Node connector, which Deno's `node:net` runs with working backpressure.
 */
import { env } from 'node:process';
import { CloseCode } from '../core/close.js';
import { HandshakeError, latin1Bytes } from '../core/handshake/index.js';
import {
  ClientHandshake,
  closedDuringHandshake,
  connectionFailed,
  handshakeFailed,
} from '../node/client-handshake.js';
import { connectNode } from '../node/connect.js';
import { chooseProxy } from '../node/proxy-env.js';
import type { ConnectRequest, ConnectResult } from '../streams/connector.js';
import type { PemOrDer } from '../streams/options.js';
import { createWebSocketError } from '../streams/websocket-error.js';
import { urlForMessages } from '../streams/url-credentials.js';
import { DenoConnTransport, DENO_READ_SIZE, type DenoConn } from './conn-transport.js';

/** A plain TCP connection of Deno's. */
interface DenoTcpConn extends DenoConn {
  setNoDelay(noDelay?: boolean): void;
}

/** The part of the `Deno` namespace this module uses. */
interface DenoNamespace {
  connectTls(options: {
    hostname: string;
    port: number;
    caCerts?: string[];
    cert?: string;
    key?: string;
    alpnProtocols?: string[];
  }): Promise<DenoConn>;
  connect?(options: { hostname: string; port: number }): Promise<DenoTcpConn>;
  startTls?(
    conn: DenoTcpConn,
    options: { hostname: string; caCerts?: string[]; alpnProtocols?: string[] },
  ): Promise<DenoConn>;
}

/**
 * TLS over a TCP connection with Nagle's algorithm off. `Deno.connectTls`
 * leaves it on and its connections have no `setNoDelay()`: the request head
 * and the server's answer then each wait for a delayed ACK, about 40 ms per
 * opening handshake. `Deno.startTls` has no client certificate option, so a
 * connection with one keeps `connectTls`.
 */
async function tlsWithoutNagle(
  deno: DenoNamespace,
  hostname: string,
  port: number,
  caCerts: string[] | undefined,
): Promise<DenoConn | null> {
  if (typeof deno.connect !== 'function' || typeof deno.startTls !== 'function') return null;
  const tcp = await deno.connect({ hostname, port });
  try {
    tcp.setNoDelay(true);
    return await deno.startTls(tcp, {
      hostname,
      alpnProtocols: ['http/1.1'],
      ...(caCerts !== undefined ? { caCerts } : {}),
    });
  } catch (error) {
    try {
      tcp.close();
    } catch {
      // Already taken over (or closed) by startTls.
    }
    throw error;
  }
}

/** The `Deno` namespace when running on Deno, else undefined. */
export function denoNamespace(): DenoNamespace | undefined {
  return (globalThis as { Deno?: DenoNamespace }).Deno;
}

const pem = (value: PemOrDer | PemOrDer[] | undefined): string[] | undefined | null => {
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value : [value];
  const text: string[] = [];
  // Deno's API takes PEM text only: DER goes through the Node connector.
  for (const v of list) {
    if (typeof v !== 'string') return null;
    text.push(v);
  }
  return text;
};

/**
 * Thrown by {@link connectTls} when Deno's TLS (rustls) refuses a server
 * certificate that node:tls accepts: a self-signed CA certificate presented
 * as the server's own, which is what `openssl req -x509` makes and what many
 * test and intranet servers use. The connection is then made again through
 * node:tls, with the same trust decision the user asked for.
 */
class UseNodeTls extends Error {}

/** Whether the Node connector would tunnel through a proxy (or fail choosing one: it reports that). */
function viaProxy(request: ConnectRequest): boolean {
  try {
    return chooseProxy(request.url, request.proxy, env) !== null;
  } catch {
    return true;
  }
}

/** Opens a WebSocket connection on Deno. */
export function connectDeno(request: ConnectRequest): Promise<ConnectResult> {
  const deno = denoNamespace();
  const tls = request.tls;
  const ca = pem(tls?.ca);
  const cert = pem(tls?.cert);
  const key = pem(tls?.key);
  if (
    deno === undefined ||
    request.url.protocol !== 'wss:' ||
    // Proxy tunnels and Unix sockets live in the Node connector (docs/proxy.md).
    request.socketPath !== undefined ||
    viaProxy(request) ||
    // Options Deno.connectTls has no word for.
    tls?.rejectUnauthorized === false ||
    tls?.servername !== undefined ||
    tls?.passphrase !== undefined ||
    ca === null ||
    cert === null ||
    key === null ||
    (cert?.length ?? 0) > 1 ||
    (key?.length ?? 0) > 1
  ) {
    return connectNode(request);
  }
  return connectTls(deno, request, {
    caCerts: ca,
    cert: cert?.[0],
    key: key?.[0],
  }).catch((error: unknown) => {
    if (error instanceof UseNodeTls) return connectNode(request);
    throw error;
  });
}

async function connectTls(
  deno: DenoNamespace,
  request: ConnectRequest,
  credentials: { caCerts: string[] | undefined; cert: string | undefined; key: string | undefined },
): Promise<ConnectResult> {
  const { url, signal } = request;
  // Error messages name the URL without its credentials.
  const target = urlForMessages(url);
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port !== '' ? Number(url.port) : 443;
  let conn: DenoConn | undefined;
  let finished = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  // Rejects on timeout or abort; the connection is closed then.
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          createWebSocketError(
            `Opening handshake with ${target} timed out after ${request.handshakeTimeout} ms`,
            CloseCode.ABNORMAL_CLOSURE,
          ),
        ),
      request.handshakeTimeout,
    );
    // An abort rejects with the signal's reason as given, whatever it is (WebSocketStream standard).
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.listen(onAbort);
  });
  const handshake = async (): Promise<ConnectResult> => {
    try {
      conn =
        (credentials.cert === undefined && credentials.key === undefined
          ? await tlsWithoutNagle(deno, hostname, port, credentials.caCerts)
          : null) ??
        (await deno.connectTls({
          hostname,
          port,
          alpnProtocols: ['http/1.1'],
          ...(credentials.caCerts !== undefined ? { caCerts: credentials.caCerts } : {}),
          ...(credentials.cert !== undefined ? { cert: credentials.cert } : {}),
          ...(credentials.key !== undefined ? { key: credentials.key } : {}),
        }));
    } catch (error) {
      if (String((error as Error).message).includes('CaUsedAsEndEntity')) throw new UseNodeTls();
      throw connectionFailed(target, error, 'Connection (TLS)');
    }
    if (finished) {
      // Timed out or aborted while connecting: the race is already lost.
      conn.close();
      throw new Error('abandoned');
    }
    // zlib comes from Deno's node:zlib, as in the Node connector.
    const handshake = new ClientHandshake(request);
    const buffer = new Uint8Array(DENO_READ_SIZE);
    try {
      const bytes = latin1Bytes(handshake.requestHead());
      for (let offset = 0; offset < bytes.length;)
        offset += await conn.write(bytes.subarray(offset));
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) throw closedDuringHandshake(target);
        const accepted = handshake.push(buffer.subarray(0, n));
        if (accepted !== null) return { transport: new DenoConnTransport(conn), ...accepted };
      }
    } catch (error) {
      if (error instanceof HandshakeError) throw handshakeFailed(target, error);
      if ((error as { name?: unknown }).name === 'WebSocketError') throw error;
      // Deno completes the TLS handshake on the first write or read.
      if (String((error as Error).message).includes('CaUsedAsEndEntity')) throw new UseNodeTls();
      throw connectionFailed(target, error);
    }
  };
  const attempt = handshake();
  try {
    return await Promise.race([attempt, stop]);
  } catch (error) {
    try {
      conn?.close();
    } catch {
      // Already closed.
    }
    throw error;
  } finally {
    finished = true;
    clearTimeout(timer);
    signal.listen(null);
    // The losing side of the race must not surface as an unhandled rejection.
    stop.catch(() => {});
    attempt.catch(() => {});
  }
}
