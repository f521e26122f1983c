/**
 * Backpressure on the server, counted in bytes: a client that never reads
 * stalls only its own connection's writes, with no more than the writable's
 * queue and the kernel's buffers accepted for it; a server application that
 * never reads pauses only its own socket. Meanwhile other connections carry
 * tens of MiB.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type WebSocket from 'ws';
import { serve, type WebSocketConnection, type WebSocketMessage } from '../../src/server.js';
import { tcp, upgradeRequest, wsOpen } from './helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const MESSAGE = 64 * KiB;

/** The largest socket buffer the kernel may give one direction of a TCP connection (tcp_wmem/tcp_rmem max). */
function kernelMax(name: 'tcp_wmem' | 'tcp_rmem'): number {
  try {
    const fields = readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/);
    return Number(fields[2]);
  } catch {
    return 8 * MiB; // not Linux: a generous guess
  }
}

/** Sends `total` bytes through an echo connection and waits until they all came back. */
async function echoTransfer(ws: WebSocket, total: number): Promise<void> {
  let received = 0;
  const done = new Promise<void>((resolve) => {
    const onMessage = (d: Buffer): void => {
      received += d.length;
      if (received >= total) {
        ws.off('message', onMessage);
        resolve();
      }
    };
    ws.on('message', onMessage);
  });
  const chunk = Buffer.alloc(MESSAGE, 7);
  for (let sent = 0; sent < total; sent += MESSAGE) {
    ws.send(chunk);
    // Let ws drain its own queue now and then so the client's memory stays small.
    if (ws.bufferedAmount > 4 * MiB) await new Promise((r) => setImmediate(r));
  }
  await done;
  assert.equal(received, total);
}

/** Reads binary messages from `readable` until `received.bytes` reaches `total` or it ends. */
async function readUpTo(
  readable: ReadableStream<WebSocketMessage>,
  received: { bytes: number },
  total: number,
): Promise<void> {
  const reader = readable.getReader();
  while (received.bytes < total) {
    const { value, done } = await reader.read();
    if (done) break;
    received.bytes += (value as Uint8Array).length;
  }
}

function echoHandler(connection: WebSocketConnection): Promise<void> {
  return connection.opened
    .then(({ readable, writable }) => readable.pipeTo(writable))
    .catch(() => {});
}

void test(
  'a client that never reads: its writes stall at the queue plus kernel buffers, others flow',
  { timeout: 50_000 },
  async (t) => {
    let acked = 0;
    let stalled: WebSocketConnection | undefined;
    let writerDone!: (error: unknown) => void;
    const writerStopped = new Promise<unknown>((resolve) => (writerDone = resolve));
    const server = await serve({ host: '127.0.0.1' }, async (connection) => {
      if (connection.request.url !== '/flood') return echoHandler(connection);
      stalled = connection;
      const { writable } = await connection.opened;
      const writer = writable.getWriter();
      const chunk = new Uint8Array(MESSAGE);
      try {
        for (;;) {
          await writer.write(chunk);
          acked += MESSAGE;
        }
      } catch (error) {
        writerDone(error);
      }
    });
    try {
      const port = server.address.port;
      // The flooded client: handshake by hand, then never read again.
      const sink = await tcp(port);
      sink.on('error', () => {});
      sink.write(upgradeRequest(port, [], '/flood'));
      await once(sink, 'data'); // the 101 (and maybe the first frames)
      sink.pause();

      const other = await wsOpen(server.url);
      await echoTransfer(other, 32 * MiB);
      const ackedAfterFirst = acked;
      await echoTransfer(other, 32 * MiB);
      const ackedAfterSecond = acked;

      const session = stalled!.session!;
      t.diagnostic(
        `never-reading client: ${ackedAfterSecond} bytes acknowledged to the writer, ` +
          `${session.transport.bufferedAmount} held in the server's socket`,
      );
      const bound = kernelMax('tcp_wmem') + kernelMax('tcp_rmem') + 2 * MESSAGE + 1 * MiB;
      assert.ok(
        ackedAfterSecond <= bound,
        `writes acknowledged for a client that never reads: ${ackedAfterSecond} bytes, bound ${bound}`,
      );
      assert.equal(
        ackedAfterSecond,
        ackedAfterFirst,
        'no progress while the other connection moved 32 MiB',
      );
      assert.ok(
        session.transport.bufferedAmount <= MESSAGE + 14,
        `held in the server's socket for it: ${session.transport.bufferedAmount} bytes (one frame at most)`,
      );

      // Reading again releases the writer: bytes flow once more.
      let drained = 0;
      sink.on('data', (c: Buffer) => (drained += c.length));
      sink.resume();
      while (acked <= ackedAfterSecond + 4 * MiB) await new Promise((r) => setImmediate(r));
      assert.ok(drained > 0);
      sink.destroy();
      const error = await writerStopped;
      assert.ok(error instanceof Error, 'the pending write rejects when the client goes away');
      other.terminate();
    } finally {
      await server.close();
    }
  },
);

void test(
  'a server application that never reads pauses its own socket only',
  { timeout: 50_000 },
  async (t) => {
    let idle: WebSocketConnection | undefined;
    let startReading!: () => void;
    const readGate = new Promise<void>((resolve) => (startReading = resolve));
    const received = { bytes: 0 };
    let finishedReading!: () => void;
    const allRead = new Promise<void>((resolve) => (finishedReading = resolve));
    const TOTAL = 16 * MiB;
    // Uncompressed: the bounds below count bytes on the wire (the compressed
    // case is in deflate.test.ts).
    const server = await serve(
      { host: '127.0.0.1', perMessageDeflate: false },
      async (connection) => {
        if (connection.request.url !== '/idle') return echoHandler(connection);
        idle = connection;
        const { readable } = await connection.opened;
        await readGate;
        await readUpTo(readable, received, TOTAL);
        finishedReading();
      },
    );
    try {
      const flooder = await wsOpen(`${server.url}idle`);
      const chunk = Buffer.alloc(MESSAGE, 1);
      for (let sent = 0; sent < TOTAL; sent += MESSAGE) flooder.send(chunk);

      const other = await wsOpen(server.url);
      await echoTransfer(other, 32 * MiB);
      const readAfterFirst = idle!.session!.transport.bytesRead;
      await echoTransfer(other, 32 * MiB);
      const readAfterSecond = idle!.session!.transport.bytesRead;
      t.diagnostic(
        `never-reading server application: ${readAfterSecond} bytes read from its socket of ${TOTAL} sent`,
      );

      assert.ok(
        readAfterSecond < 1 * MiB,
        `bytes the server read for a connection nobody reads: ${readAfterSecond}`,
      );
      assert.equal(
        readAfterSecond,
        readAfterFirst,
        'no progress while the other connection moved 32 MiB',
      );
      assert.equal(idle!.session!.receiver.paused, true);
      assert.ok(flooder.bufferedAmount > 0, 'the rest waits on the client side');

      startReading();
      await allRead;
      assert.equal(received.bytes, TOTAL);
      flooder.close();
      other.close();
      await Promise.all([once(flooder, 'close'), once(other, 'close')]);
    } finally {
      await server.close();
    }
  },
);

void test(
  'keepalive does not drop a connection that is only paused by backpressure',
  { timeout: 50_000 },
  async () => {
    let idle: WebSocketConnection | undefined;
    let startReading!: () => void;
    const readGate = new Promise<void>((resolve) => (startReading = resolve));
    const TOTAL = 16 * MiB;
    const received = { bytes: 0 };
    const server = await serve(
      { host: '127.0.0.1', pingInterval: 30, pingTimeout: 30, perMessageDeflate: false },
      async (connection) => {
        idle = connection;
        const { readable } = await connection.opened;
        await readGate;
        await readUpTo(readable, received, TOTAL);
      },
    );
    try {
      const flooder = await wsOpen(server.url);
      const chunk = Buffer.alloc(MESSAGE, 1);
      for (let sent = 0; sent < TOTAL; sent += MESSAGE) flooder.send(chunk);
      while (idle?.session?.receiver.paused !== true) await new Promise((r) => setImmediate(r));
      // Its Pong sits behind unread data, yet the server keeps the connection;
      // its Ping stays outstanding meanwhile (no more Pongs to pile up at the peer).
      let pings = 0;
      flooder.on('ping', () => pings++);
      await new Promise((r) => setTimeout(r, 8 * 60));
      assert.ok(pings <= 1, `${pings} pings while paused`);
      assert.equal(idle.session.receiver.paused, true);
      assert.equal(server.connections.size, 1);
      startReading();
      while (received.bytes < TOTAL) await new Promise((r) => setImmediate(r));
      const closed = once(flooder, 'close');
      flooder.close(1000);
      assert.equal(((await closed) as [number])[0], 1000);
    } finally {
      await server.close();
    }
  },
);
