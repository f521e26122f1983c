/**
 * Helpers shared by the client tests: a `ws` WebSocketServer on loopback (the
 * independent peer), a raw TCP server that performs the opening handshake by
 * hand and then misbehaves on purpose, a server frame writer, a record of
 * every transport the client opened (to count the bytes its socket read and
 * holds), and polling helpers that wait for a condition or for numbers to
 * stop changing instead of sleeping a fixed time.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { after, before } from 'node:test';
import { inspect } from 'node:util';
import { WebSocketServer, type ServerOptions, type WebSocket as WsSocket } from 'ws';
import '../../src/index.js';
import { connectNode } from '../../src/node/connect.js';
import type { SocketTransport } from '../../src/node/socket-transport.js';
import { setConnector, type ConnectRequest } from '../../src/streams/connector.js';

// ---- timers ----------------------------------------------------------------

/** The real setTimeout, kept in case a test mocks the global one. */
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/** Resolves after `ms` milliseconds of real time. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, ms));
}

/** Settles as `promise` does, or rejects if it has not settled within `ms` (so a hang fails the test). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = realSetTimeout(
      () => reject(new Error(`${what}: still pending after ${ms} ms`)),
      ms,
    );
    promise.then(
      (value) => {
        realClearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        realClearTimeout(timer);
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        reject(error);
      },
    );
  });
}

/** The outcome of a promise as a value, for asserting on rejections by identity. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Waits for `promise` (at most `ms`) and reports how it settled. */
export async function outcome<T>(promise: Promise<T>, ms = 5000): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await within(promise, ms, 'outcome') };
  } catch (error) {
    if (error instanceof Error && error.message === `outcome: still pending after ${ms} ms`)
      throw error;
    return { ok: false, error };
  }
}

/** The rejection reason of `promise` (fails if it fulfils or hangs). */
export async function rejection(promise: Promise<unknown>, ms = 5000): Promise<unknown> {
  const o = await outcome(promise, ms);
  if (o.ok) throw new Error('Expected a rejection, got a fulfilment');
  return o.error;
}

/**
 * Asserts `actual` is the very object `expected` (by identity). Unlike
 * assert.equal, its failure message never inspects the values (Node 20
 * cannot inspect DOMException subclasses inside an assertion diff).
 */
export function assertSame(actual: unknown, expected: unknown, what: string): void {
  if (Object.is(actual, expected)) return;
  const describe = (v: unknown): string =>
    v instanceof Error ? `${v.name}: ${v.message}` : inspect(v, { depth: 0 });
  assert.fail(`${what}: got ${describe(actual)}, expected ${describe(expected)}`);
}

/** Polls `condition` every 10 ms until it holds; fails after `ms`. */
export async function waitUntil(
  condition: () => boolean,
  ms = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${ms} ms`);
    await delay(10);
  }
}

/**
 * Polls `sample` until it returns the same numbers `rounds` times in a row,
 * `interval` ms apart, and returns them: the point where a flow has stopped.
 * Fails after `ms` if the numbers keep changing.
 */
export async function waitStable(
  sample: () => number[],
  { interval = 25, rounds = 8, ms = 15000 } = {},
): Promise<number[]> {
  const deadline = Date.now() + ms;
  let last = sample();
  let same = 0;
  while (same < rounds) {
    if (Date.now() > deadline)
      throw new Error(`Numbers still changing after ${ms} ms: ${last.join(', ')}`);
    await delay(interval);
    const now = sample();
    if (now.length === last.length && now.every((v, i) => v === last[i])) same++;
    else same = 0;
    last = now;
  }
  return last;
}

// ---- the client's transports ------------------------------------------------

/**
 * Every transport the client opened, in order, and every connect request. The
 * package's connector seam (src/streams/connector.ts) is wrapped, not replaced:
 * connections still go through Node's connector; the tests only keep a
 * reference to read `bytesRead`, `bufferedAmount` and the socket.
 */
export const opened: SocketTransport[] = [];
export const requests: ConnectRequest[] = [];

setConnector(async (request) => {
  requests.push(request);
  const result = await connectNode(request);
  opened.push(result.transport as SocketTransport);
  return result;
});

/** The transport of the most recent connection. */
export function lastTransport(): SocketTransport {
  const t = opened[opened.length - 1];
  if (t === undefined) throw new Error('No connection was opened');
  return t;
}

// ---- a ws server --------------------------------------------------------------

export interface WsPeer {
  ws: WsSocket;
  req: IncomingMessage;
}

export interface WsFixture {
  readonly wss: WebSocketServer;
  readonly http: Server;
  /** ws://127.0.0.1:port/ */
  readonly url: string;
  readonly port: number;
  /** TCP connections accepted so far. */
  readonly tcpConnections: number;
  /** The next WebSocket connection the server accepts (in order of arrival). */
  next(): Promise<WsPeer>;
  close(): Promise<void>;
}

/**
 * A `ws` server for the tests of the enclosing describe(): started before
 * them, closed after them. The returned fixture forwards to it (use it in
 * tests and hooks, not while the suite is being declared).
 */
export function wsServerForSuite(): WsFixture {
  let current: WsFixture | undefined;
  before(async () => {
    current = await startWsServer();
  });
  after(async () => {
    await current?.close();
  });
  const started = (): WsFixture => {
    if (current === undefined) throw new Error('the suite ws server has not started');
    return current;
  };
  return {
    get wss() {
      return started().wss;
    },
    get http() {
      return started().http;
    },
    get url() {
      return started().url;
    },
    get port() {
      return started().port;
    },
    get tcpConnections() {
      return started().tcpConnections;
    },
    next: () => started().next(),
    close: () => started().close(),
  };
}

/** Starts a `ws` WebSocketServer on 127.0.0.1 over a node:http (or given) server. */
export async function startWsServer(
  options: Omit<ServerOptions, 'server' | 'port' | 'noServer'> = {},
  http: Server = createHttpServer(),
  scheme = 'ws',
): Promise<WsFixture> {
  const sockets = new Set<Socket>();
  let tcpConnections = 0;
  const track = (socket: Socket): void => {
    tcpConnections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  http.on(scheme === 'wss' ? 'secureConnection' : 'connection', track);
  const wss = new WebSocketServer({ ...options, server: http });
  const arrived: WsPeer[] = [];
  const waiting: Array<(peer: WsPeer) => void> = [];
  wss.on('connection', (ws, req) => {
    ws.on('error', () => {});
    const peer = { ws, req };
    const w = waiting.shift();
    if (w !== undefined) w(peer);
    else arrived.push(peer);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address();
  if (address === null || typeof address === 'string') throw new Error('No port');
  const port = address.port;
  return {
    wss,
    http,
    url: `${scheme}://127.0.0.1:${port}/`,
    port,
    get tcpConnections() {
      return tcpConnections;
    },
    next() {
      const peer = arrived.shift();
      if (peer !== undefined) return Promise.resolve(peer);
      return within(new Promise((resolve) => waiting.push(resolve)), 5000, 'server connection');
    },
    async close() {
      for (const client of wss.clients) client.terminate();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

// ---- a raw server ---------------------------------------------------------------

export interface RawFixture {
  /** ws://127.0.0.1:port/ */
  readonly url: string;
  readonly port: number;
  /** TCP connections accepted so far. */
  readonly connections: number;
  /** Server-side sockets, in order of arrival. */
  readonly sockets: Socket[];
  close(): Promise<void>;
}

/** Starts a TCP server on 127.0.0.1 that hands every accepted socket to `onSocket`. */
export async function startRawServer(onSocket: (socket: Socket) => void): Promise<RawFixture> {
  const sockets: Socket[] = [];
  const server = createNetServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('No port');
  const port = address.port;
  return {
    url: `ws://127.0.0.1:${port}/`,
    port,
    get connections() {
      return sockets.length;
    },
    sockets,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Reads an HTTP request head from `socket`; resolves with it and the bytes that followed. */
export function readRequestHead(socket: Socket): Promise<{ head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      socket.pause();
      resolve({
        head: buffered.subarray(0, end).toString('latin1'),
        rest: buffered.subarray(end + 4),
      });
    };
    const onClose = (): void => reject(new Error('closed before the request head'));
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

/** The value of header `name` in a request or response head. */
export function headerOf(head: string, name: string): string | undefined {
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name.toLowerCase())
      return line.slice(colon + 1).trim();
  }
  return undefined;
}

/** Sec-WebSocket-Accept for `key` (RFC 6455 4.2.2), computed here independently of the core. */
export function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
    .digest('base64');
}

/**
 * Reads the client's request and answers 101 with `extraHeaders` (lines
 * without CRLF). Leaves the socket paused; resolves with the request head and
 * the bytes that followed it.
 */
export async function acceptHandshake(
  socket: Socket,
  extraHeaders: string[] = [],
): Promise<{ head: string; rest: Buffer }> {
  const request = await readRequestHead(socket);
  const key = headerOf(request.head, 'sec-websocket-key') ?? '';
  socket.write(
    [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${acceptFor(key)}`,
      ...extraHeaders,
      '',
      '',
    ].join('\r\n'),
  );
  return request;
}

/** An unmasked (server) frame, written here independently of the core's encoder. */
export function serverFrame(
  opcode: number,
  payload: Uint8Array = new Uint8Array(0),
  fin = true,
): Buffer {
  const n = payload.length;
  let header: Buffer;
  if (n < 126) {
    header = Buffer.from([(fin ? 0x80 : 0) | opcode, n]);
  } else if (n < 65536) {
    header = Buffer.from([(fin ? 0x80 : 0) | opcode, 126, n >> 8, n & 0xff]);
  } else {
    header = Buffer.alloc(10);
    header[0] = (fin ? 0x80 : 0) | opcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([header, payload]);
}

/** A Close frame payload: code (if any) and UTF-8 reason. */
export function closePayload(code?: number, reason = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const r = Buffer.from(reason, 'utf8');
  const out = Buffer.alloc(2 + r.length);
  out.writeUInt16BE(code, 0);
  r.copy(out, 2);
  return out;
}

/**
 * Collects the frames a client sends (masked) on `socket`, unmasking them.
 * Calls `onFrame` for each complete frame.
 */
export function readClientFrames(
  socket: Socket,
  onFrame: (frame: { fin: boolean; opcode: number; payload: Buffer }) => void,
  initial: Buffer = Buffer.alloc(0),
): void {
  let buffered = initial;
  const drain = (): void => {
    for (;;) {
      if (buffered.length < 2) return;
      const b0 = buffered[0]!;
      const b1 = buffered[1]!;
      let length = b1 & 0x7f;
      let at = 2;
      if (length === 126) {
        if (buffered.length < 4) return;
        length = buffered.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        if (buffered.length < 10) return;
        length = Number(buffered.readBigUInt64BE(2));
        at = 10;
      }
      const masked = (b1 & 0x80) !== 0;
      const maskAt = at;
      if (masked) at += 4;
      if (buffered.length < at + length) return;
      const payload = Buffer.from(buffered.subarray(at, at + length));
      if (masked) for (let i = 0; i < length; i++) payload[i]! ^= buffered[maskAt + (i & 3)]!;
      buffered = buffered.subarray(at + length);
      onFrame({ fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload });
    }
  };
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    drain();
  });
  socket.resume();
  drain();
}

// ---- streams ------------------------------------------------------------------------

/** Reads `count` chunks from `reader`; fails if the stream ends first. */
export async function readN<T>(
  reader: ReadableStreamDefaultReader<T>,
  count: number,
): Promise<T[]> {
  const out: T[] = [];
  while (out.length < count) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Stream ended after ${out.length} of ${count} chunks`);
    out.push(value);
  }
  return out;
}

/** Deterministic bytes: a xorshift stream seeded by `seed`, `length` bytes long. */
export function pseudoRandomBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Turns a ws message payload (Buffer, Buffer[] or ArrayBuffer) into one Buffer. */
export function wsData(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return data;
}
