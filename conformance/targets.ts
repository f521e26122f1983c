/**
 * The implementations under test, each an echo application going through the
 * whole stack (`readable.pipeTo(writable)`):
 *
 * - our client: `new WebSocketStream(url)`; the peer is a raw node:net server
 *   that answers the opening handshake by hand;
 * - our server: `serve()` with an echo handler; the peer is a raw node:net
 *   client that writes the opening handshake by hand.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { acceptKey } from '../src/core/handshake/index.js';
import type { PerMessageDeflateOptions } from '../src/core/extensions/deflate-negotiation.js';
import { sha1Base64 } from '../src/node/sha1.js';
import { WebSocketStream } from '../src/index.js';
import { serve, type WebSocketConnection, type WebSocketServer } from '../src/server.js';
import type { WebSocketOpenInfo } from '../src/streams/websocket-stream.js';
import { WebSocketError } from '../src/streams/websocket-error.js';
import { Peer, type Opened, type Outcome, type Under } from './peer.js';

/** Options of the implementation under test (the same names on client and server). */
export interface TargetOptions {
  maxMessageSize?: number;
  maxFragments?: number;
  fragmentSize?: number;
  closeTimeout?: number;
  maxPendingPongs?: number;
  pingInterval?: number;
  pingTimeout?: number;
  /** permessage-deflate of the implementation under test; default: its own default (on). */
  perMessageDeflate?: false | PerMessageDeflateOptions;
  /**
   * The peer's Sec-WebSocket-Extensions: its offer when our server is under
   * test, its answer when our client is; default none (no compression). An
   * array sends one header field line per element.
   */
  peerExtensions?: string | readonly string[];
  /**
   * Our client under test: the target resolves once the peer has written its
   * handshake answer, without waiting for `opened` (the case checks
   * `peer.opened` itself, e.g. that the answer failed the connection).
   */
  answerOnly?: boolean;
}

/** The header field lines of `peerExtensions`. */
function extensionLines(value: string | readonly string[] | undefined): string[] {
  return value === undefined ? [] : typeof value === 'string' ? [value] : [...value];
}

function toOpened(opened: Promise<WebSocketOpenInfo>): Promise<Opened> {
  return opened.then(
    (info): Opened => ({ extensions: info.extensions }),
    (error: unknown): Opened => ({ error }),
  );
}

/**
 * The application under test, given the opened streams and the object that
 * can close the connection (the WebSocketStream or the server's
 * WebSocketConnection). Default: {@link echo}.
 */
export type App = (info: WebSocketOpenInfo, handle: WebSocketStream | WebSocketConnection) => void;

/** The echo application: every message read is written back, through the whole stack. */
export const echo: App = ({ readable, writable }) => {
  readable.pipeTo(writable).catch(noop);
};

const HOST = '127.0.0.1';
const HEAD_END = Buffer.from('\r\n\r\n');
const HANDSHAKE_WAIT = 5_000;
const noop = (): void => {};

function toOutcome(closed: Promise<{ closeCode: number; reason: string }>): Promise<Outcome> {
  return closed.then(
    (info): Outcome => ({ clean: true, code: info.closeCode, reason: info.reason }),
    (error: unknown): Outcome => ({
      clean: false,
      code: error instanceof WebSocketError ? error.closeCode : null,
      message: error instanceof Error ? error.message : String(error),
    }),
  );
}

/** Reads an HTTP head from `socket`; resolves with the head text and the bytes after it. */
function readHead(socket: Socket): Promise<{ head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error('No HTTP head within 5 s')), HANDSHAKE_WAIT);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf(HEAD_END);
      if (end < 0) return;
      socket.pause();
      done(null, { head: buf.subarray(0, end).toString('latin1'), rest: buf.subarray(end + 4) });
    };
    const onClose = (): void => done(new Error('Connection closed during the handshake'));
    const done = (error: Error | null, value?: { head: string; rest: Buffer }): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      if (error !== null) reject(error);
      else resolve(value!);
    };
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

function headersOf(head: string, name: string): string[] {
  const out: string[] = [];
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (line.slice(0, colon).trim().toLowerCase() === name) out.push(line.slice(colon + 1).trim());
  }
  return out;
}

function headerOf(head: string, name: string): string | undefined {
  return headersOf(head, name)[0];
}

// ---- our client under test --------------------------------------------------

/** Connects a WebSocketStream echo client to a raw peer server; resolves with the peer. */
export async function openClientTarget(
  options: TargetOptions = {},
  app: App = echo,
): Promise<Peer> {
  const server: Server = createServer();
  server.on('error', noop);
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address() as { port: number };
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const { peerExtensions, answerOnly, ...ours } = options;
  const lines = extensionLines(peerExtensions);
  const ws = new WebSocketStream(`ws://${HOST}:${port}/`, ours);
  ws.opened.then((info) => app(info, ws), noop);
  const outcome = toOutcome(ws.closed);
  const opened = toOpened(ws.opened);
  try {
    const socket = await accepted;
    socket.setNoDelay(true);
    const { head, rest } = await readHead(socket);
    const key = headerOf(head, 'sec-websocket-key') ?? '';
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${acceptKey(key, sha1Base64)}\r\n` +
        lines.map((line) => `Sec-WebSocket-Extensions: ${line}\r\n`).join('') +
        '\r\n',
    );
    const peer = new Peer(socket, 'client', outcome, rest);
    peer.extensions = lines.filter((line) => line.trim() !== '').join(', ');
    peer.extensionLines = lines;
    peer.opened = opened;
    socket.resume();
    if (answerOnly !== true) await ws.opened;
    return peer;
  } finally {
    server.close();
  }
}

// ---- our server under test --------------------------------------------------

interface ServerTarget {
  server: WebSocketServer;
  /** Outcomes by the connection id the peer puts in the request path. */
  outcomes: Map<string, Slot>;
}

/** What the server's application saw of one connection: its `closed` and its `opened`. */
interface Slot {
  promise: Promise<Outcome>;
  resolve: (p: Promise<Outcome>) => void;
  opened: Promise<Opened>;
  resolveOpened: (p: Promise<Opened>) => void;
}

const servers = new Map<string, Promise<ServerTarget>>();

let nextId = 0;

function outcomeSlot(target: ServerTarget, id: string): Slot {
  let slot = target.outcomes.get(id);
  if (slot === undefined) {
    let resolve!: (p: Promise<Outcome>) => void;
    const promise = new Promise<Outcome>((r) => {
      resolve = (p) => r(p);
    });
    let resolveOpened!: (p: Promise<Opened>) => void;
    const opened = new Promise<Opened>((r) => {
      resolveOpened = (p) => r(p);
    });
    slot = { promise, resolve, opened, resolveOpened };
    target.outcomes.set(id, slot);
  }
  return slot;
}

function serverTarget(options: TargetOptions, app: App): Promise<ServerTarget> {
  // Echo servers are shared by the cases with the same options; other applications get their own.
  const id = app === echo ? JSON.stringify(options) : `${JSON.stringify(options)} #${++nextId}`;
  let target = servers.get(id);
  if (target === undefined) {
    target = (async () => {
      const t: ServerTarget = { server: undefined as never, outcomes: new Map() };
      const { peerExtensions: _, answerOnly: __, ...ours } = options;
      t.server = await serve({ ...ours, host: HOST, port: 0 }, (connection) => {
        const slot = outcomeSlot(t, connection.request.url ?? '');
        slot.resolve(toOutcome(connection.closed));
        slot.resolveOpened(toOpened(connection.opened));
        connection.opened.then((info) => app(info, connection), noop);
      });
      return t;
    })();
    servers.set(id, target);
  }
  return target;
}

/** Connects a raw peer client to an echo `serve()` server; resolves with the peer. */
export async function openServerTarget(
  options: TargetOptions = {},
  app: App = echo,
): Promise<Peer> {
  const target = await serverTarget(options, app);
  const socket = connect(target.server.address.port, HOST);
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const path = `/conformance/${++nextId}`;
  const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64');
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      extensionLines(options.peerExtensions)
        .map((line) => `Sec-WebSocket-Extensions: ${line}\r\n`)
        .join('') +
      '\r\n',
  );
  const { head, rest } = await readHead(socket);
  if (
    !head.startsWith('HTTP/1.1 101') ||
    headerOf(head, 'sec-websocket-accept') !== acceptKey(key, sha1Base64)
  ) {
    socket.destroy();
    throw new Error(`The server refused the handshake: ${head.split('\r\n')[0]}`);
  }
  const slot = outcomeSlot(target, path);
  const peer = new Peer(socket, 'server', slot.promise, rest);
  peer.extensionLines = headersOf(head, 'sec-websocket-extensions');
  peer.extensions = peer.extensionLines.join(', ');
  peer.opened = slot.opened;
  void slot.promise.then(() => target.outcomes.delete(path));
  socket.resume();
  return peer;
}

/** Opens a peer against the implementation `under` test. */
export function openTarget(
  under: Under,
  options: TargetOptions = {},
  app: App = echo,
): Promise<Peer> {
  return under === 'client' ? openClientTarget(options, app) : openServerTarget(options, app);
}

/** Shuts down the servers started for server targets. */
export async function closeTargets(): Promise<void> {
  const all = [...servers.values()];
  servers.clear();
  for (const t of all) {
    const target = await t;
    await target.server.close();
  }
}
