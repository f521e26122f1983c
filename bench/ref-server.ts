/**
 * The reference server: a minimal raw node:net server speaking just enough
 * RFC 6455 to echo, send, flood and sink fast, so that it is not the
 * bottleneck of any client benchmark. Runs in its own process, started by
 * run.ts over IPC; reports its own CPU time on request.
 *
 * Paths (the query carries the parameters):
 *   /echo                   echoes every data frame (and answers Ping, Close)
 *   /download?size&total    after the client's first message, sends `total` bytes as `size`-byte messages
 *   /sink?total             discards data; after `total` payload bytes sends a text message "done"
 *   /flood?size&id          after the client's first message, sends `size`-byte messages until the client closes
 *   /deflate-download?size&total   as /download, with permessage-deflate (scenario (j)): `size`-byte
 *                           JSON-like text messages, pre-compressed (deflate-frames.ts); a client
 *                           that does not offer permessage-deflate gets 400
 *   /raw-download?total     no WebSocket: streams `total` raw bytes (the node:net ceiling)
 *   /raw-sink?total         no WebSocket: reads `total` raw bytes, then writes one byte
 */
import { createServer, type Socket } from 'node:net';
import { acceptKey, frame, FrameReader, readHead, repeat } from './wire.js';
import {
  DEFLATE_RESPONSE,
  deflatedStream,
  offersDeflate,
  type DeflatedStream,
} from './deflate-frames.js';
import { jsonPool } from './json.js';

const BATCH = 1 << 20;
const batches = new Map<number, { one: Buffer; batch: Buffer; perBatch: number }>();

/** Pre-built frames of `size` bytes, grouped into ~1 MiB writes. */
function framesOf(size: number): { one: Buffer; batch: Buffer; perBatch: number } {
  let b = batches.get(size);
  if (b === undefined) {
    const one = frame(0x2, Buffer.alloc(size, 0x61));
    const perBatch = Math.max(1, Math.floor(BATCH / size));
    b = { one, batch: repeat(one, perBatch), perBatch };
    batches.set(size, b);
  }
  return b;
}

const CLOSE_1000 = frame(0x8, Buffer.from([0x03, 0xe8]));
const DONE = frame(0x1, Buffer.from('done'));

function send(msg: unknown): void {
  process.send?.(msg);
}

/** Writes `count` frames of `size` bytes, honouring the socket's backpressure, while `go()` holds. */
function pump(
  socket: Socket,
  size: number,
  count: number,
  go: () => boolean,
  onWrite: (n: number) => void,
): void {
  const { one, batch, perBatch } = framesOf(size);
  let left = count;
  const step = (): void => {
    while (left > 0 && go() && !socket.destroyed) {
      const k = Math.min(left, perBatch);
      const buf = k === perBatch ? batch : repeat(one, k);
      left -= k;
      onWrite(k * size);
      if (!socket.write(buf)) {
        socket.once('drain', step);
        return;
      }
    }
  };
  step();
}

/** (j): distinct messages per pass of the pre-compressed stream (1 MiB at 16 KiB). */
const DEFLATE_POOL = 64;
const deflated = new Map<number, Promise<DeflatedStream>>();

/** Writes the pre-compressed stream until `count` messages went out, honouring backpressure. */
async function pumpDeflated(
  socket: Socket,
  size: number,
  count: number,
  go: () => boolean,
): Promise<void> {
  let d = deflated.get(size);
  if (d === undefined) {
    d = deflatedStream(jsonPool(DEFLATE_POOL, size));
    deflated.set(size, d);
  }
  const { first, again } = await d;
  let sent = 0;
  let pass = first;
  while (sent < count && go() && !socket.destroyed) {
    const k = Math.min(count - sent, pass.length);
    sent += k;
    const ok = socket.write(Buffer.concat(k === pass.length ? pass : pass.slice(0, k)));
    pass = again;
    if (!ok) await new Promise((resolve) => socket.once('drain', resolve));
  }
}

function serveWebSocket(socket: Socket, path: string, params: URLSearchParams, rest: Buffer): void {
  let closing = false;
  let started = false;
  let floodWritten = 0;
  const mode = path;
  const size = Number(params.get('size') ?? 0);
  const total = Number(params.get('total') ?? 0);
  let sunk = 0;

  const start = (): void => {
    if (mode === '/deflate-download') {
      void pumpDeflated(socket, size, Math.ceil(total / size), () => !closing);
    } else if (mode === '/download') {
      pump(
        socket,
        size,
        Math.ceil(total / size),
        () => !closing,
        () => {},
      );
    } else if (mode === '/flood') {
      pump(
        socket,
        size,
        Infinity,
        () => !closing,
        (n) => {
          floodWritten += n;
        },
      );
    }
  };
  const onClose = (payload: Buffer): void => {
    if (closing) return;
    closing = true;
    if (mode === '/flood') {
      send({ type: 'flood', id: params.get('id'), sent: floodWritten - socket.writableLength });
    }
    socket.end(payload.length >= 2 ? frame(0x8, payload.subarray(0, 2)) : CLOSE_1000);
  };

  const reader = new FrameReader(
    {
      frame(opcode, payload) {
        if (mode === '/echo') {
          out.push(frame(opcode, payload));
        } else if (!started) {
          started = true;
          start();
        }
      },
      skipped(bytes) {
        sunk += bytes;
        if (sunk >= total && total > 0) {
          sunk = -Infinity;
          socket.write(DONE);
        }
      },
      control(opcode, payload) {
        if (opcode === 0x8) onClose(payload);
        else if (opcode === 0x9) out.push(frame(0xa, payload));
      },
    },
    mode !== '/sink',
  );
  const out: Buffer[] = [];
  const onData = (chunk: Buffer): void => {
    reader.push(chunk);
    if (out.length === 1) socket.write(out[0]!);
    else if (out.length > 1) socket.write(Buffer.concat(out));
    out.length = 0;
  };
  socket.on('data', onData);
  socket.on('close', () => {
    if (!closing && mode === '/flood') {
      closing = true;
      send({ type: 'flood', id: params.get('id'), sent: floodWritten });
    }
    closing = true;
  });
  if (rest.length > 0) onData(rest);
}

function serveRaw(socket: Socket, path: string, params: URLSearchParams, rest: Buffer): void {
  const total = Number(params.get('total') ?? 0);
  if (path === '/raw-download') {
    const chunk = Buffer.alloc(BATCH, 0x61);
    let left = total;
    const step = (): void => {
      while (left > 0 && !socket.destroyed) {
        const buf = left >= BATCH ? chunk : chunk.subarray(0, left);
        left -= buf.length;
        if (!socket.write(buf)) {
          socket.once('drain', step);
          return;
        }
      }
    };
    step();
    socket.on('data', () => {});
  } else {
    let got = rest.length;
    socket.on('data', (chunk: Buffer) => {
      got += chunk.length;
      if (got >= total) {
        got = -Infinity;
        socket.write(Buffer.from([1]));
      }
    });
  }
}

const server = createServer({ noDelay: true }, (socket) => {
  let prior: Buffer | null = null;
  socket.on('error', () => {});
  const onHead = (chunk: Buffer): void => {
    const r = readHead(prior, chunk);
    if ('partial' in r) {
      prior = r.partial;
      return;
    }
    socket.removeListener('data', onHead);
    const lines = r.head.split('\r\n');
    const target = lines[0]!.split(' ')[1] ?? '/';
    const url = new URL(target, 'http://x');
    if (url.pathname.startsWith('/raw-')) {
      serveRaw(socket, url.pathname, url.searchParams, r.rest);
      return;
    }
    let key = '';
    const offers: string[] = [];
    for (const line of lines) {
      const lower = line.toLowerCase();
      if (lower.startsWith('sec-websocket-key:')) key = line.slice(18).trim();
      if (lower.startsWith('sec-websocket-extensions:')) offers.push(line.slice(25).trim());
    }
    let extension = '';
    if (url.pathname === '/deflate-download') {
      // The compressed scenario must be compressed: refuse a client that does not offer it.
      if (!offersDeflate(offers.join(', '))) {
        socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      extension = `Sec-WebSocket-Extensions: ${DEFLATE_RESPONSE}\r\n`;
    }
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n${extension}\r\n`,
    );
    serveWebSocket(socket, url.pathname, url.searchParams, r.rest);
  };
  socket.on('data', onHead);
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  send({ type: 'ready', port: typeof address === 'object' && address !== null ? address.port : 0 });
});

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'cpu') {
    const u = process.cpuUsage();
    send({ type: 'cpu', user: u.user, system: u.system });
  } else if (msg.type === 'exit') {
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
