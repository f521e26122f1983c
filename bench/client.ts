/**
 * One client benchmark in its own process, so CPU time and RSS belong to one
 * implementation. Started by run.ts with a JSON job in argv[2]; sends one
 * `result` message over IPC and exits.
 *
 * Implementations: wsstream, wsstream-exact (batchWrites: false),
 * wsstream-base (the baseline build of --baseline),
 * ws, ws+bufferutil (the same code; run.ts sets WS_NO_BUFFER_UTIL for plain
 * ws), undici-ws (WebSocket), undici-wss (WebSocketStream), deno (Deno's
 * native WebSocketStream, run by the deno binary), bun (Bun's native
 * WebSocket, run by the bun binary), net (raw node:net: the ceiling) and ref
 * (a raw RFC 6455 client, the fixed client of the server-side scenarios).
 *
 * With `params.deflate` 1 (scenario (j)) every client offers permessage-deflate
 * (ws with `perMessageDeflate: true`; wsstream, undici and Bun by default),
 * sends JSON-like text messages of `params.msgSize` bytes (json.ts) in the echo,
 * reports the negotiated extensions and fails when compression was not agreed.
 *
 * Under Deno and Bun there is no IPC channel: messages go to stdout as lines
 * starting with {@link MESSAGE_PREFIX}.
 */
import { connect, type Socket } from 'node:net';
import { randomFillSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { frame, MESSAGE_PREFIX, readHead } from './wire.js';
import { clientModule } from './impl.js';
import { jsonPool } from './json.js';

export interface Job {
  impl: string;
  scenario: string;
  /** ws://127.0.0.1:port */
  base: string;
  /** The path of the download, where it is not the reference server's /download. */
  path?: string;
  params: Record<string, number>;
}

export interface ClientResult {
  /** Wall time of the measured part, ms. */
  ms: number;
  /** CPU time of the measured part (user + system), µs. */
  cpu: number;
  /** Peak RSS of the process, bytes. */
  maxRss: number;
  /** RSS once the implementation was loaded and connected, before the measured part, bytes. */
  baseRss: number;
  /** Write system calls during the measured part (0 where the platform does not tell). */
  writes: number;
  [key: string]: number;
}

const job = JSON.parse(process.argv[2] ?? '{}') as Job;

/** Sends a message to run.ts: over IPC under Node, as a stdout line elsewhere. */
function send(message: object, then: () => void): void {
  if (typeof process.send === 'function') {
    process.send(message, then);
    return;
  }
  process.stdout.write(`${MESSAGE_PREFIX}${JSON.stringify(message)}\n`, then);
}
const P = job.params;
/** (j): compression must be negotiated. */
const deflate = P.deflate === 1;
/** The extensions the server agreed to, as the client reports them. */
let extensions = '';

/** Records the agreed extensions; in (j), fails when permessage-deflate is not among them. */
function agreed(value: unknown): void {
  // undici 7's WebSocketStream hands `extensions` over as a Map of the parsed header, not a string.
  extensions =
    value instanceof Map
      ? [...(value as Map<string, unknown>).keys()].join(', ')
      : typeof value === 'string'
        ? value
        : '';
  if (deflate && !/^permessage-deflate\b/.test(extensions)) {
    throw new Error(`permessage-deflate was not negotiated (extensions: "${extensions}")`);
  }
}

/** (j): the distinct JSON-like messages the echo cycles through. */
const ECHO_POOL = 1024;
/** The echo's messages: 64 bytes, or in (j) distinct JSON-like texts. */
const echoMessages: Array<Uint8Array | string> =
  P.msgSize !== undefined ? jsonPool(ECHO_POOL, P.msgSize) : [new Uint8Array(64).fill(0x62)];

/** The streams shape shared by WebSocketStream implementations. */
interface StreamSocket {
  opened: Promise<{
    readable: ReadableStream<unknown>;
    writable: WritableStream<unknown>;
    extensions?: unknown;
  }>;
  closed: Promise<unknown>;
  close(info?: { closeCode?: number; reason?: string }): void;
}

/** The event shape shared by ws and undici's WebSocket, normalised. */
interface EventSocket {
  send(data: Uint8Array | string): void;
  readonly extensions: string;
  readonly bufferedAmount: number;
  onMessage(cb: (size: number, data: unknown) => void): void;
  close(): void;
  opened: Promise<void>;
  closed: Promise<void>;
}

type StreamCtor = new (url: string) => StreamSocket;

async function streamCtor(): Promise<StreamCtor> {
  if (job.impl === 'deno') {
    return (globalThis as unknown as { WebSocketStream: StreamCtor }).WebSocketStream;
  }
  if (job.impl.startsWith('wsstream')) {
    const m = await clientModule(job.impl);
    const batchWrites = job.impl !== 'wsstream-exact';
    return class extends m.WebSocketStream {
      constructor(url: string) {
        super(url, { batchWrites });
      }
    };
  }
  const m = (await import('undici')) as unknown as { WebSocketStream: StreamCtor };
  return m.WebSocketStream;
}

async function eventFactory(): Promise<(url: string) => EventSocket> {
  if (job.impl.startsWith('ws')) {
    const { WebSocket } = await import('ws');
    return (url) => {
      const ws = new WebSocket(url, { perMessageDeflate: deflate });
      return {
        send: (d) => ws.send(d, { binary: typeof d !== 'string' }),
        get extensions() {
          return ws.extensions;
        },
        get bufferedAmount() {
          return ws.bufferedAmount;
        },
        onMessage: (cb) => ws.on('message', (data: Buffer) => cb(data.length, data)),
        close: () => ws.close(),
        opened: new Promise((resolve, reject) => {
          ws.once('open', () => resolve());
          ws.once('error', reject);
        }),
        closed: new Promise((resolve) => ws.once('close', () => resolve())),
      };
    };
  }
  const { WebSocket } =
    job.impl === 'bun'
      ? (globalThis as unknown as { WebSocket: typeof import('undici').WebSocket })
      : await import('undici');
  return (url) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    return {
      send: (d) => ws.send(d),
      get extensions() {
        return ws.extensions;
      },
      get bufferedAmount() {
        return ws.bufferedAmount;
      },
      onMessage: (cb) => ws.addEventListener('message', (e) => cb(byteLength(e.data), e.data)),
      close: () => ws.close(),
      opened: new Promise((resolve, reject) => {
        ws.addEventListener('open', () => resolve(), { once: true });
        ws.addEventListener('error', () => reject(new Error('error')), { once: true });
      }),
      closed: new Promise((resolve) =>
        ws.addEventListener('close', () => resolve(), { once: true }),
      ),
    };
  };
}

const isStreams =
  job.impl.startsWith('wsstream') || job.impl === 'undici-wss' || job.impl === 'deno';

// ---- measurement ------------------------------------------------------------

let t0 = 0;
let c0: NodeJS.CpuUsage = { user: 0, system: 0 };
let baseRss = 0;
let ms = 0;
let cpu = 0;

/** Write system calls of this process so far (Linux /proc/self/io), 0 where unknown. */
function writeCalls(): number {
  try {
    return Number(/syscw:\s*(\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}
let w0 = 0;
let writes = 0;

function begin(): void {
  w0 = writeCalls();
  baseRss = process.memoryUsage.rss();
  c0 = process.cpuUsage();
  t0 = performance.now();
}

function end(): void {
  ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  cpu = c.user + c.system;
  writes = w0 > 0 ? writeCalls() - w0 : 0;
}

function finish(extra: Record<string, number> = {}): void {
  const result: ClientResult = {
    ms,
    cpu,
    baseRss,
    maxRss: process.resourceUsage().maxRSS * 1024,
    writes,
    ...extra,
  };
  send({ type: 'result', result, extensions }, () => process.exit(0));
}

const payload64 = new Uint8Array(64).fill(0x62);

/**
 * (b): round trips before the measured ones, for every implementation alike.
 * 5,000, because a JIT-compiled client is still tiering up well after its
 * first 1,000 (wsstream's path through the runtime's streams has more
 * functions to optimize than ws's event emitter): with 1,000, most of the
 * samples above 200 µs of a 30,000-round-trip run fell into its first 3,000
 * round trips. What the warm-up costs is reported too, as its own p99
 * ({@link WARMING_FROM} to the end of the warm-up).
 */
const PINGPONG_WARMUP = 5000;

/** (b): where the warm-up p99 starts: after the first connection-level round trips. */
const WARMING_FROM = 1000;

// ---- streams-shaped clients -------------------------------------------------

async function runStreams(): Promise<Record<string, number>> {
  const Ctor = await streamCtor();
  const url = (path: string): string => `${job.base}${path}`;
  switch (job.scenario) {
    case 'echo': {
      const s = new Ctor(url('/echo'));
      const { readable, writable, extensions: ext } = await s.opened;
      agreed(ext);
      const reader = readable.getReader();
      const writer = writable.getWriter();
      const n = P.count!;
      const pool = echoMessages;
      let sent = 0;
      begin();
      for (; sent < Math.min(P.window!, n); sent++)
        writer.write(pool[sent % pool.length]!).catch(() => {});
      for (let got = 0; got < n; got++) {
        const r = await reader.read();
        if (r.done) throw new Error('ended early');
        if (sent < n) {
          writer.write(pool[sent % pool.length]!).catch(() => {});
          sent++;
        }
      }
      end();
      s.close();
      await s.closed.catch(() => {});
      return {};
    }
    case 'pingpong': {
      const s = new Ctor(url('/echo'));
      const { readable, writable } = await s.opened;
      const reader = readable.getReader();
      const writer = writable.getWriter();
      // The first round trips warm the JIT up; they are not counted.
      const lat = new Float64Array(PINGPONG_WARMUP + P.count!);
      begin();
      for (let i = 0; i < lat.length; i++) {
        const t = performance.now();
        writer.write(payload64).catch(() => {});
        const r = await reader.read();
        if (r.done) throw new Error('ended early');
        lat[i] = performance.now() - t;
      }
      end();
      s.close();
      await s.closed.catch(() => {});
      return pingpongResult(lat);
    }
    case 'download': {
      const s = new Ctor(url(`${job.path ?? '/download'}?size=${P.size}&total=${P.total}`));
      const { readable, writable, extensions: ext } = await s.opened;
      agreed(ext);
      const reader = readable.getReader();
      const writer = writable.getWriter();
      begin();
      await writer.write(payload64);
      let got = 0;
      while (got < P.total!) {
        const r = await reader.read();
        if (r.done) throw new Error('ended early');
        got += byteLength(r.value);
      }
      end();
      s.close();
      await s.closed.catch(() => {});
      return {};
    }
    case 'upload': {
      const s = new Ctor(url(`/sink?total=${P.total}`));
      const { readable, writable } = await s.opened;
      const reader = readable.getReader();
      const writer = writable.getWriter();
      const chunk = new Uint8Array(P.size!).fill(0x63);
      const count = Math.ceil(P.total! / P.size!);
      begin();
      for (let i = 0; i < count; i++) {
        await writer.ready;
        writer.write(chunk).catch(() => {});
      }
      const r = await reader.read();
      if (r.done) throw new Error('ended early');
      end();
      s.close();
      await s.closed.catch(() => {});
      return {};
    }
    case 'flood': {
      const s = new Ctor(url(`/flood?size=${P.size}&id=${P.id}`));
      const { readable, writable } = await s.opened;
      const reader = readable.getReader();
      const writer = writable.getWriter();
      begin();
      await writer.write(payload64);
      const rate = P.rate! / 1000; // bytes per ms
      let consumed = 0;
      while (performance.now() - t0 < P.seconds! * 1000) {
        const r = await reader.read();
        if (r.done) throw new Error('ended early');
        consumed += byteLength(r.value);
        const due = t0 + consumed / rate;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
      }
      end();
      s.close();
      await Promise.race([s.closed.catch(() => {}), sleep(2000)]);
      return { consumed };
    }
    case 'connect': {
      begin();
      for (let i = 0; i < P.count!; i++) {
        const s = new Ctor(url('/echo'));
        await s.opened;
        s.close();
        // Deno 2.9's closed now and then rejects with closeCode null after a
        // clean closing handshake (the reference server's Close and FIN arrive together).
        if (job.impl === 'deno') await s.closed.catch(() => {});
        else await s.closed;
      }
      end();
      return {};
    }
  }
  throw new Error(`unknown scenario ${job.scenario}`);
}

// ---- event-shaped clients ---------------------------------------------------

async function runEvents(): Promise<Record<string, number>> {
  const open = await eventFactory();
  const url = (path: string): string => `${job.base}${path}`;
  const connectOpen = async (path: string): Promise<EventSocket> => {
    const ws = open(url(path));
    await ws.opened;
    agreed(ws.extensions);
    return ws;
  };
  switch (job.scenario) {
    case 'echo': {
      const ws = await connectOpen('/echo');
      const n = P.count!;
      const pool = echoMessages;
      let sent = 0;
      let got = 0;
      const done = new Promise<void>((resolve) => {
        ws.onMessage(() => {
          got++;
          if (sent < n) {
            ws.send(pool[sent % pool.length]!);
            sent++;
          }
          if (got === n) resolve();
        });
      });
      begin();
      for (; sent < Math.min(P.window!, n); sent++) ws.send(pool[sent % pool.length]!);
      await done;
      end();
      ws.close();
      await ws.closed;
      return {};
    }
    case 'pingpong': {
      const ws = await connectOpen('/echo');
      // The first round trips warm the JIT up; they are not counted.
      const lat = new Float64Array(PINGPONG_WARMUP + P.count!);
      let i = 0;
      let t = 0;
      const done = new Promise<void>((resolve) => {
        ws.onMessage(() => {
          lat[i++] = performance.now() - t;
          if (i === lat.length) {
            resolve();
            return;
          }
          t = performance.now();
          ws.send(payload64);
        });
      });
      begin();
      t = performance.now();
      ws.send(payload64);
      await done;
      end();
      ws.close();
      await ws.closed;
      return pingpongResult(lat);
    }
    case 'download': {
      const ws = await connectOpen(`${job.path ?? '/download'}?size=${P.size}&total=${P.total}`);
      let got = 0;
      const done = new Promise<void>((resolve) => {
        ws.onMessage((size) => {
          got += size;
          if (got >= P.total!) resolve();
        });
      });
      begin();
      ws.send(payload64);
      await done;
      end();
      ws.close();
      await ws.closed;
      return {};
    }
    case 'upload': {
      const ws = await connectOpen(`/sink?total=${P.total}`);
      const done = new Promise<void>((resolve) => ws.onMessage(() => resolve()));
      const chunk = new Uint8Array(P.size!).fill(0x63);
      const count = Math.ceil(P.total! / P.size!);
      const limit = 4 * P.size!;
      begin();
      for (let i = 0; i < count; i++) {
        // The event API's only backpressure signal: wait while too much is buffered.
        while (ws.bufferedAmount > limit) await new Promise((r) => setImmediate(r));
        ws.send(chunk);
      }
      await done;
      end();
      ws.close();
      await ws.closed;
      return {};
    }
    case 'flood': {
      const ws = await connectOpen(`/flood?size=${P.size}&id=${P.id}`);
      // The application keeps what it has not consumed yet: the event API gives it no other choice.
      const queue: Array<{ size: number; data: unknown }> = [];
      let held = 0;
      let peakHeld = 0;
      ws.onMessage((size, data) => {
        queue.push({ size, data });
        held += size;
        if (held > peakHeld) peakHeld = held;
      });
      begin();
      ws.send(payload64);
      const rate = P.rate! / 1000;
      let consumed = 0;
      while (performance.now() - t0 < P.seconds! * 1000) {
        await sleep(10);
        const due = (performance.now() - t0) * rate;
        while (consumed < due && queue.length > 0) {
          const { size } = queue.shift()!;
          consumed += size;
          held -= size;
        }
      }
      end();
      ws.close();
      await Promise.race([ws.closed, sleep(2000)]);
      return { consumed, peakHeld };
    }
    case 'connect': {
      begin();
      for (let i = 0; i < P.count!; i++) {
        const ws = await connectOpen('/echo');
        ws.close();
        await ws.closed;
      }
      end();
      return {};
    }
  }
  throw new Error(`unknown scenario ${job.scenario}`);
}

// ---- raw node:net: the ceiling ----------------------------------------------

function rawConnect(
  path: string,
  onread?: (n: number, buf: Uint8Array) => boolean,
): Promise<Socket> {
  const [host, port] = job.base.slice('ws://'.length).split(':');
  const buffer = Buffer.allocUnsafe(1 << 20);
  return new Promise((resolve, reject) => {
    const socket = connect(
      onread === undefined
        ? { host: host!, port: Number(port) }
        : { host: host!, port: Number(port), onread: { buffer, callback: onread } },
    );
    socket.setNoDelay(true);
    socket.once('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

async function runNet(): Promise<Record<string, number>> {
  switch (job.scenario) {
    case 'download': {
      let got = 0;
      let resolveDone!: () => void;
      const done = new Promise<void>((r) => (resolveDone = r));
      begin();
      const socket = await rawConnect(`/raw-download?total=${P.total}`, (n) => {
        got += n;
        if (got >= P.total!) resolveDone();
        return true;
      });
      await done;
      end();
      socket.destroy();
      return {};
    }
    case 'connect': {
      // The least a WebSocket connect + close can cost on node:net: the
      // opening handshake, a Close each way, the TCP close.
      begin();
      for (let i = 0; i < P.count!; i++) {
        const socket = await refOpen('/echo', () => {});
        const closed = new Promise((r) => socket.once('close', r));
        socket.end(closeFrames[i & (MASKED_POOL - 1)]!);
        await closed;
      }
      end();
      return {};
    }
    case 'upload': {
      const socket = await rawConnect(`/raw-sink?total=${P.total}`);
      const done = new Promise<void>((r) => socket.once('data', () => r()));
      const chunk = Buffer.alloc(P.size!, 0x63);
      const count = Math.ceil(P.total! / P.size!);
      begin();
      for (let i = 0; i < count; i++) {
        if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
      }
      await done;
      end();
      socket.destroy();
      return {};
    }
  }
  throw new Error(`unknown scenario ${job.scenario}`);
}

// ---- ref: a raw RFC 6455 client, the fixed client of the server-side scenarios

const MASKED_POOL = 256;

function maskedFrames(opcode: number, payload: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  const key = Buffer.alloc(4);
  for (let i = 0; i < MASKED_POOL; i++) {
    randomFillSync(key);
    out.push(frame(opcode, payload, key));
  }
  return out;
}

/** Connects and completes the opening handshake; returns the socket reading into `onread`. */
function refOpen(path: string, onData: (n: number) => void): Promise<Socket> {
  const [host, port] = job.base.slice('ws://'.length).split(':');
  const buffer = Buffer.allocUnsafe(1 << 20);
  let open = false;
  let prior: Buffer | null = null;
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({
      host: host!,
      port: Number(port),
      onread: {
        buffer,
        callback: (n, buf) => {
          if (open) {
            onData(n);
            return true;
          }
          const r = readHead(prior, Buffer.from(buf.subarray(0, n)));
          if ('partial' in r) {
            prior = r.partial;
            return true;
          }
          open = true;
          resolve(socket);
          if (r.rest.length > 0) onData(r.rest.length);
          return true;
        },
      },
    });
    socket.setNoDelay(true);
    socket.once('connect', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    socket.once('error', reject);
  });
}

const closeFrames = maskedFrames(0x8, new Uint8Array([0x03, 0xe8]));

async function runRef(): Promise<Record<string, number>> {
  const pool = maskedFrames(0x2, payload64);
  const echoSize = 2 + 64;
  let p = 0;
  const next = (): Buffer => pool[p++ & (MASKED_POOL - 1)]!;
  switch (job.scenario) {
    case 'echo': {
      const n = P.count!;
      let sent = 0;
      let bytes = 0;
      let resolveDone!: () => void;
      const done = new Promise<void>((r) => (resolveDone = r));
      const socket = await refOpen('/echo', (k) => {
        bytes += k;
        const got = Math.floor(bytes / echoSize);
        if (got >= n) {
          resolveDone();
          return;
        }
        const want = Math.min(n, got + P.window!) - sent;
        if (want > 0) {
          const batch: Buffer[] = [];
          for (let i = 0; i < want; i++) batch.push(next());
          sent += want;
          socket.write(Buffer.concat(batch));
        }
      });
      begin();
      const first: Buffer[] = [];
      for (; sent < Math.min(P.window!, n); sent++) first.push(next());
      socket.write(Buffer.concat(first));
      await done;
      end();
      socket.end(closeFrames[0]!);
      return {};
    }
    case 'download': {
      const frames = Math.ceil(P.total! / P.size!);
      const header = P.size! < 126 ? 2 : P.size! < 0x10000 ? 4 : 10;
      const expected = P.total! + frames * header;
      let bytes = 0;
      let resolveDone!: () => void;
      const done = new Promise<void>((r) => (resolveDone = r));
      const socket = await refOpen(`/download?size=${P.size}&total=${P.total}`, (k) => {
        bytes += k;
        if (bytes >= expected) resolveDone();
      });
      begin();
      socket.write(next());
      await done;
      end();
      socket.end(closeFrames[0]!);
      return {};
    }
    case 'conns': {
      // Open `count` connections (at most 100 handshakes at once), hold them,
      // then run `rounds` strict echo round trips on every one at the same time.
      const count = P.count!;
      const sockets: Socket[] = [];
      const waiters: Array<(() => void) | null> = [];
      const received: number[] = [];
      begin();
      let opened = 0;
      const openOne = async (): Promise<void> => {
        while (opened < count) {
          const index = opened++;
          received[index] = 0;
          waiters[index] = null;
          const s = await refOpen('/echo', (k) => {
            received[index]! += k;
            const w = waiters[index];
            if (w !== null && w !== undefined && received[index]! % echoSize === 0) w();
          });
          sockets[index] = s;
        }
      };
      await Promise.all(Array.from({ length: Math.min(100, count) }, openOne));
      const openMs = performance.now() - t0;
      const t1 = performance.now();
      await Promise.all(
        sockets.map(async (s, index) => {
          for (let r = 1; r <= P.rounds!; r++) {
            const done = new Promise<void>((resolve) => (waiters[index] = resolve));
            s.write(next());
            await done;
          }
        }),
      );
      const echoMs = performance.now() - t1;
      // Hold the connections while run.ts reads the server's memory.
      process.send!({ type: 'holding' });
      await new Promise<void>((resolve) =>
        process.once('message', (m: { type: string }) => {
          if (m.type === 'release') resolve();
        }),
      );
      end();
      // A clean close, as a client does: a Close, then wait for the server's
      // Close and the end of TCP. Leaving at once would make the kernel reset
      // the connections the server had not closed yet, and the server would
      // pay for an ECONNRESET error on each.
      await Promise.all(
        sockets.map((s) => {
          const closed = new Promise((resolve) => s.once('close', resolve));
          s.end(closeFrames[0]!);
          return closed;
        }),
      );
      return {
        openPerSec: (count / openMs) * 1000,
        echoPerSec: ((count * P.rounds!) / echoMs) * 1000,
      };
    }
  }
  throw new Error(`unknown scenario ${job.scenario}`);
}

// ---- helpers -------------------------------------------------------------------

function byteLength(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  return (v as ArrayBufferView | ArrayBuffer).byteLength;
}

/** The quantile `q` of `lat` (ms), in µs. */
function quantile(lat: Float64Array, q: number): number {
  const sorted = Float64Array.from(lat).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 1000;
}

/** (b): p50 and p99 of the measured round trips, and the p99 while warming up. */
function pingpongResult(lat: Float64Array): Record<string, number> {
  const measured = lat.subarray(PINGPONG_WARMUP);
  return {
    p50: quantile(measured, 0.5),
    p99: quantile(measured, 0.99),
    p99warmup: quantile(lat.subarray(WARMING_FROM, PINGPONG_WARMUP), 0.99),
  };
}

async function main(): Promise<void> {
  const run =
    job.impl === 'net' ? runNet : job.impl === 'ref' ? runRef : isStreams ? runStreams : runEvents;
  const extra = await run();
  finish(extra);
}

main().catch((error: unknown) => {
  send({ type: 'error', message: String((error as Error)?.stack ?? error) }, () => process.exit(1));
});
