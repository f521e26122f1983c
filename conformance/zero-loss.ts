/**
 * Zero loss: random messages of random sizes and both types go client ->
 * server -> client through our client and our server, with backpressure on
 * every hop (the client's writer waits for `ready`, the server pipes through a
 * hashing TransformStream to its writable, the client reads slower than it
 * writes now and then). Counts and a running SHA-256 over (type, length,
 * bytes) of every message are compared at the three points, and the bytes in
 * flight are sampled to prove that memory stays bounded.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { WebSocketStream } from '../src/index.js';
import { getConnector, setConnector } from '../src/streams/connector.js';
import type { Transport } from '../src/streams/transport.js';
import { serve, type WebSocketConnection } from '../src/server.js';
import type { WebSocketMessage } from '../src/streams/session.js';
import { prng } from './wire.js';

export interface ZeroLossOptions {
  /** Total payload bytes to send. */
  totalBytes: number;
  /** Largest message, in bytes. */
  maxMessage: number;
  /** Seed of the size and type choices. */
  seed?: number;
  /** Called about every 64 MiB received. */
  onProgress?: (receivedBytes: number) => void;
  /** `batchWrites` of client and server both; default true (as theirs). */
  batchWrites?: boolean;
}

/** What each end counted. */
export interface Tally {
  messages: number;
  bytes: number;
  hash: string;
}

export interface ZeroLossResult {
  sent: Tally;
  /** What passed through the server's echo. */
  relayed: Tally;
  received: Tally;
  /**
   * Most bytes written by the client and not yet read back, sampled at every
   * message read: what wsstream holds plus what the kernel buffers hold.
   */
  maxInFlight: number;
  /**
   * Most bytes wsstream held in user space at both ends together, sampled at
   * every message read: frames not yet handed to the kernel (both sockets)
   * plus bytes read from the kernel but not yet handed to the application
   * (both ends; frame headers included, so it is an upper bound).
   */
  maxUserSpace: number;
  /** The share of in-flight bytes the kernel buffers may hold on this machine (see {@link kernelBufferBound}). */
  kernelBound: number;
  /** Most bytes the server's transport held unwritten, sampled every 5 ms. */
  maxServerBuffered: number;
  /** How the two ends saw the close. */
  clientClose: { closeCode: number; reason: string };
  serverClose: { closeCode: number; reason: string };
  ms: number;
}

const encoder = new TextEncoder();

class Hasher {
  readonly #hash = createHash('sha256');
  messages = 0;
  bytes = 0;
  readonly #head = Buffer.alloc(5);

  add(message: WebSocketMessage): void {
    const data = typeof message === 'string' ? encoder.encode(message) : message;
    this.#head[0] = typeof message === 'string' ? 1 : 2;
    this.#head.writeUInt32BE(data.length, 1);
    this.#hash.update(this.#head);
    this.#hash.update(data);
    this.messages++;
    this.bytes += data.length;
  }

  tally(): Tally {
    return { messages: this.messages, bytes: this.bytes, hash: this.#hash.digest('hex') };
  }
}

/** A random message: mostly binary; sizes spread over small, medium and large. */
function makeMessage(next: () => number, maxMessage: number): WebSocketMessage {
  const r = next() % 100;
  const size =
    r < 60
      ? next() % 1025
      : r < 90
        ? 1024 + (next() % 65536)
        : 65536 + (next() % Math.max(1, maxMessage - 65536));
  const bytes = new Uint8Array(Math.min(size, maxMessage));
  randomFillSync(bytes);
  if (next() % 10 !== 0) return bytes;
  // Text: printable ASCII with a multi-byte character every 64 bytes.
  let text = '';
  for (let i = 0; i < bytes.length; i += 4096) {
    const part = bytes.subarray(i, i + 4096);
    let s = '';
    for (let j = 0; j < part.length; j++)
      s += j % 64 === 63 ? 'é' : String.fromCharCode(0x20 + (part[j]! % 95));
    text += s;
  }
  return text;
}

/**
 * The most payload the kernel buffers of one loopback TCP connection can
 * hold in both directions on this machine: each direction has a send and a
 * receive buffer, each at most the maximum of net.ipv4.tcp_wmem and tcp_rmem
 * (autotuning never goes past them). Infinity where /proc does not say.
 */
export function kernelBufferBound(): number {
  try {
    const max = (name: string): number => {
      const fields = readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/);
      const value = Number(fields[2]);
      if (!Number.isFinite(value)) throw new Error(`unreadable ${name}`);
      return value;
    };
    return 2 * (max('tcp_rmem') + max('tcp_wmem'));
  } catch {
    return Infinity;
  }
}

function sizeOf(m: WebSocketMessage): number {
  return typeof m === 'string' ? encoder.encode(m).length : m.length;
}

/**
 * The most {@link ZeroLossResult.maxUserSpace} may be for `messages` messages
 * of at most `maxMessage` bytes: at each end one socket read (1 MiB) and a few
 * messages (the readable's queue, the one being assembled, the relay's
 * queue), what a socket may hold unwritten (3 MiB at the server, a frame and a
 * 64 KiB batch at the client), and the frame headers counted with the bytes
 * read (at most 14 a message at each end). Nowhere near the whole transfer.
 */
export function userSpaceBound(maxMessage: number, messages: number): number {
  const MIB = 1024 * 1024;
  return 2 * MIB + 8 * maxMessage + 3 * MIB + 64 * 1024 + 28 * messages;
}

/** Runs the zero-loss transfer; resolves with what each end counted. */
export async function zeroLoss(options: ZeroLossOptions): Promise<ZeroLossResult> {
  const start = performance.now();
  const relayed = new Hasher();
  let serverConnection: WebSocketConnection | undefined;
  let serverClosed: Promise<{ closeCode: number; reason: string }> | undefined;
  const server = await serve(
    {
      host: '127.0.0.1',
      port: 0,
      maxMessageSize: options.maxMessage * 3,
      batchWrites: options.batchWrites ?? true,
    },
    (connection) => {
      serverConnection = connection;
      serverClosed = connection.closed;
      void connection.opened.then(({ readable, writable }) =>
        readable
          .pipeThrough(
            new TransformStream<WebSocketMessage, WebSocketMessage>({
              transform(message, controller) {
                relayed.add(message);
                controller.enqueue(message);
              },
            }),
          )
          .pipeTo(writable),
      );
    },
  );
  let maxServerBuffered = 0;
  const sampler = setInterval(() => {
    const session = serverConnection?.session;
    if (session) maxServerBuffered = Math.max(maxServerBuffered, session.transport.bufferedAmount);
  }, 5);
  // Keep the client's transport, to count what its socket read and holds.
  const connector = getConnector();
  let clientTransport: Transport | undefined;
  setConnector(async (request) => {
    const result = await connector(request);
    clientTransport = result.transport;
    return result;
  });
  try {
    const ws = new WebSocketStream(server.url, {
      maxMessageSize: options.maxMessage * 3,
      batchWrites: options.batchWrites ?? true,
    });
    const { readable, writable } = await ws.opened;
    setConnector(connector);
    const client = clientTransport!;
    const writer = writable.getWriter();
    const reader = readable.getReader();
    const sent = new Hasher();
    const received = new Hasher();
    let maxInFlight = 0;
    let maxUserSpace = 0;
    const next = prng(options.seed ?? 1);

    let sendingDone = false;
    const sending = (async () => {
      while (sent.bytes < options.totalBytes) {
        const m = makeMessage(next, options.maxMessage);
        await writer.ready;
        sent.add(m);
        writer.write(m).catch(() => {});
      }
      sendingDone = true;
    })();
    // A Close is answered at once (RFC 6455 5.5.1), so the client closes only
    // once every echo is back, as an application with a request count would.
    let closing: Promise<void> | undefined;

    let reported = 0;
    const pause = prng((options.seed ?? 1) + 1);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received.add(value);
      maxInFlight = Math.max(maxInFlight, sent.bytes - received.bytes + sizeOf(value));
      const serverTransport = serverConnection?.session?.transport;
      if (serverTransport !== undefined) {
        const held =
          client.bufferedAmount +
          (client.bytesRead - received.bytes) +
          serverTransport.bufferedAmount +
          (serverTransport.bytesRead - relayed.bytes);
        maxUserSpace = Math.max(maxUserSpace, held);
      }
      // Now and then the reader is slower than the writer, so every queue on the way fills up.
      if (pause() % 64 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
      if (received.bytes - reported >= 64 * 1024 * 1024) {
        reported = received.bytes;
        options.onProgress?.(received.bytes);
      }
      if (sendingDone && closing === undefined && received.messages === sent.messages) {
        closing = writer.close();
      }
    }
    await sending;
    await closing;
    const clientClose = await ws.closed;
    const serverClose = await serverClosed!;
    return {
      sent: sent.tally(),
      relayed: relayed.tally(),
      received: received.tally(),
      maxInFlight,
      maxUserSpace,
      kernelBound: kernelBufferBound(),
      maxServerBuffered,
      clientClose,
      serverClose,
      ms: performance.now() - start,
    };
  } finally {
    setConnector(connector);
    clearInterval(sampler);
    await server.close();
  }
}
