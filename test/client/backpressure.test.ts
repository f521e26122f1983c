/**
 * Backpressure reaches TCP, measured by counting bytes: what the client's
 * socket read from the kernel while the application was not reading, and what
 * its writes got acknowledged while the server was not reading. No fixed
 * sleeps: every wait polls until the numbers stop changing.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket as WsSocket } from 'ws';
import { WebSocketError, WebSocketStream } from '../../src/index.js';
import { BATCH_LIMIT } from '../../src/node/socket-transport.js';
import {
  acceptHandshake,
  lastTransport,
  rejection,
  startRawServer,
  wsServerForSuite,
  waitStable,
  waitUntil,
  within,
  type RawFixture,
  type WsPeer,
} from './helpers.js';

const MiB = 1024 * 1024;

/**
 * Makes the ws peer send `count` messages of `size` bytes as fast as the
 * connection takes them: it keeps `queue` bytes waiting in ws's send buffer at
 * all times, refilling from each send's callback, and stops as soon as the
 * connection starts closing. Message i starts with i (32-bit big-endian), so
 * order can be checked; `hash` is the SHA-256 of everything sent.
 */
function flood(
  peer: WsPeer,
  { count, size, queue = 8 * MiB }: { count: number; size: number; queue?: number },
): { readonly sent: number; readonly hash: () => string } {
  const base = randomBytes(size);
  const hash = createHash('sha256');
  let sent = 0;
  const pump = (): void => {
    while (sent < count && peer.ws.readyState === WsSocket.OPEN && peer.ws.bufferedAmount < queue) {
      const message = Buffer.from(base);
      message.writeUInt32BE(sent, 0);
      hash.update(message);
      sent++;
      peer.ws.send(message, { binary: true }, (error) => {
        if (error === undefined || error === null) pump();
      });
    }
  };
  pump();
  return {
    get sent() {
      return sent;
    },
    hash: () => hash.digest('hex'),
  };
}

void describe('receive backpressure reaches TCP', { timeout: 60_000 }, () => {
  const server = wsServerForSuite();

  void it('256 MiB flood: the client reads < 4 MiB + one message while the app does not read, then every byte arrives', async (t) => {
    const COUNT = 256;
    const SIZE = MiB;
    const wss = new WebSocketStream(server.url, { maxMessageSize: 2 * SIZE });
    const [{ readable }, peer] = await Promise.all([
      within(wss.opened, 5000, 'opened'),
      server.next(),
    ]);
    const transport = lastTransport();
    const serverSocket = (peer.ws as unknown as { _socket: Socket })._socket;
    const source = flood(peer, { count: COUNT, size: SIZE });
    const reader = readable.getReader();
    const clientHash = createHash('sha256');
    const check = (value: string | Uint8Array | undefined, index: number): void => {
      assert.ok(value instanceof Uint8Array);
      assert.equal(value.length, SIZE);
      assert.equal(Buffer.from(value.buffer, value.byteOffset, 4).readUInt32BE(0), index);
      clientHash.update(value);
    };

    // The application reads one message, then stops.
    const first = await within(reader.read(), 5000, 'first message');
    check(first.value, 0);

    // Wait for the flow to stop: what the client read, and what the server managed to send.
    // (socket.bytesWritten counts the bytes still in the socket's buffer too.)
    const [bytesRead, sent, serverQueued, inKernel] = await waitStable(() => [
      transport.bytesRead,
      source.sent,
      peer.ws.bufferedAmount,
      serverSocket.bytesWritten - serverSocket.writableLength,
    ]);
    t.diagnostic(
      `stalled: client bytesRead ${bytesRead} (${(bytesRead! / MiB).toFixed(2)} MiB); server sent ` +
        `${sent} messages, its kernel accepted ${(inKernel! / MiB).toFixed(2)} MiB, ws holds ` +
        `${(serverQueued! / MiB).toFixed(2)} MiB`,
    );
    assert.ok(
      bytesRead! < 4 * MiB + SIZE,
      `the client read ${bytesRead} bytes while the application was not reading`,
    );
    // The server was really blocked by TCP: it could not hand everything to the kernel.
    assert.ok(sent! < COUNT, 'the server was still sending when the flow stopped');
    assert.ok(serverQueued! > 0, 'the server holds data the kernel would not take');
    assert.ok(inKernel! > bytesRead!, 'the kernel buffers hold what the client did not read');

    // Resume: every byte arrives, in order.
    for (let i = 1; i < COUNT; i++) {
      const { value, done } = await within(reader.read(), 20000, `message ${i}`);
      assert.equal(done, false);
      check(value, i);
    }
    assert.equal(source.sent, COUNT);
    assert.equal(clientHash.digest('hex'), source.hash());
    const closing = within(wss.closed, 10000, 'closed');
    wss.close({ closeCode: 1000 });
    assert.deepEqual(await closing, { closeCode: 1000, reason: '' });
  });

  void it('a stalled application does not hold control frames back: close() completes the closing handshake', async (t) => {
    const wss = new WebSocketStream(server.url, { closeTimeout: 20000 });
    const [, peer] = await Promise.all([within(wss.opened, 5000, 'opened'), server.next()]);
    const transport = lastTransport();
    const source = flood(peer, { count: 64, size: MiB });
    // The application never reads. Wait until the client stopped reading from the socket.
    const [bytesRead] = await waitStable(() => [transport.bytesRead, source.sent]);
    assert.ok(bytesRead! < 4 * MiB + MiB, `read ${bytesRead} bytes without demand`);
    assert.ok(source.sent < 64, 'the server is blocked');
    const serverSaw = new Promise<number>((resolve) =>
      peer.ws.once('close', (code) => resolve(code)),
    );
    wss.close();
    // Our Close went out at once; the server's answer sits behind the data it had queued.
    // The client must read (and discard) its way to that Close.
    assert.deepEqual(await within(wss.closed, 15000, 'closed'), { closeCode: 1005, reason: '' });
    assert.equal(await within(serverSaw, 5000, 'server close'), 1005);
    t.diagnostic(
      `read ${transport.bytesRead} bytes in all (${(transport.bytesRead / MiB).toFixed(1)} MiB)`,
    );
  });
});

void describe('send backpressure reaches TCP', { timeout: 60_000 }, () => {
  let server: RawFixture;
  let serverSocket: Socket | undefined;
  before(async () => {
    server = await startRawServer((socket) => {
      void acceptHandshake(socket).then(() => {
        serverSocket = socket; // paused: never reads
      });
    });
  });
  after(async () => {
    await server.close();
  });

  // 1 MiB messages are past the batch bound: by default they resolve only once the kernel took them.
  void it('a server that never reads: write() promises stop resolving, and the client holds at most two chunks', async (t) => {
    const CHUNK = MiB;
    const LIMIT = 256 * MiB;
    const wss = new WebSocketStream(server.url);
    const { writable } = await within(wss.opened, 5000, 'opened');
    await waitUntil(() => serverSocket !== undefined, 5000, 'server ready');
    const transport = lastTransport();
    const writer = writable.getWriter();
    const chunk = new Uint8Array(CHUNK);
    let accepted = 0; // bytes passed to write()
    let resolved = 0; // bytes whose write() promise resolved
    let maxHeld = 0;
    const held = (): number => accepted - resolved;
    // A well-behaved producer: waits for writer.ready before each write.
    const producer = (async () => {
      try {
        while (accepted < LIMIT) {
          await writer.ready;
          accepted += CHUNK;
          maxHeld = Math.max(maxHeld, held(), transport.bufferedAmount);
          void writer.write(chunk).then(
            () => (resolved += CHUNK),
            () => {},
          );
        }
      } catch {
        // The connection ended while waiting for ready.
      }
    })();

    const [stalledResolved, stalledAccepted, socketHolds] = await waitStable(() => [
      resolved,
      accepted,
      transport.bufferedAmount,
    ]);
    const serverRead = serverSocket!.bytesRead;
    t.diagnostic(
      `stalled: ${(stalledResolved! / MiB).toFixed(0)} MiB acknowledged by the kernel, ` +
        `${((stalledAccepted! - stalledResolved!) / MiB).toFixed(2)} MiB held by the client ` +
        `(socket.writableLength ${socketHolds}), server read ${serverRead} bytes`,
    );
    assert.ok(stalledAccepted! < LIMIT, 'the producer was stopped by backpressure');
    assert.ok(stalledResolved! > 0, 'some writes went through');
    // What the client holds: the write being handed to the socket plus the one queued chunk (highWaterMark 1).
    assert.ok(stalledAccepted! - stalledResolved! <= 2 * CHUNK, `holds ${held()} bytes`);
    assert.ok(socketHolds! <= CHUNK + 14, `socket.writableLength ${socketHolds}`);
    assert.ok(maxHeld <= 2 * CHUNK + 14, `held at most ${maxHeld} bytes`);

    // The server starts reading: the stuck writes resolve, the flow resumes.
    let drained = 0;
    serverSocket!.on('data', (d: Buffer) => (drained += d.length));
    serverSocket!.resume();
    await waitUntil(() => resolved > stalledResolved! + 4 * CHUNK, 10000, 'writes resume');
    // Stop: the server drops the connection; everything pending fails at once.
    serverSocket!.destroy();
    const error = await rejection(wss.closed);
    assert.ok(error instanceof Error);
    await within(producer, 5000, 'producer ends');
    assert.ok(drained > stalledResolved!, 'the server received what the kernel had acknowledged');
  });

  for (const { title, options, inSocket } of [
    {
      title:
        'small messages, by default (batched): write() promises stop resolving, with at most one batch resolved ahead of the kernel',
      options: {},
      // Resolved but not yet taken by the kernel: at most one batch (plus the write that found it waiting).
      inSocket: (frame: number) => BATCH_LIMIT + frame,
    },
    {
      title: 'small messages, batchWrites: false: no resolved write() leaves a byte in user space',
      options: { batchWrites: false },
      // In the socket: only the one write that waits for the kernel (not resolved).
      inSocket: (frame: number) => frame,
    },
  ]) {
    void it(title, async (t) => {
      const SIZE = 1000;
      const LIMIT = 512 * 1024 * 1024;
      serverSocket = undefined;
      const wss = new WebSocketStream(server.url, options);
      const { writable } = await within(wss.opened, 5000, 'opened');
      await waitUntil(() => serverSocket !== undefined, 5000, 'server ready');
      const transport = lastTransport();
      const writer = writable.getWriter();
      const chunk = new Uint8Array(SIZE);
      let accepted = 0;
      let resolved = 0;
      let maxBuffered = 0;
      // A producer that writes a few messages a turn, then lets the event loop
      // run: every turn would start a new batch if a batch waiting for the
      // kernel did not hold the next writes back.
      const PER_TURN = 8;
      const producer = (async () => {
        try {
          while (accepted < LIMIT) {
            await writer.ready;
            for (let k = 0; k < PER_TURN; k++) {
              accepted += SIZE;
              maxBuffered = Math.max(maxBuffered, transport.bufferedAmount);
              void writer.write(chunk).then(
                () => (resolved += SIZE),
                () => {},
              );
            }
            await new Promise((resolve) => setImmediate(resolve));
          }
        } catch {
          // The connection ended while waiting for ready.
        }
      })();
      const [stalledResolved, stalledAccepted, socketHolds] = await waitStable(() => [
        resolved,
        accepted,
        transport.bufferedAmount,
      ]);
      t.diagnostic(
        `stalled: ${stalledResolved} bytes acknowledged, ${stalledAccepted! - stalledResolved!} held by the client, ` +
          `socket.writableLength ${socketHolds}, at most ${maxBuffered}`,
      );
      assert.ok(stalledAccepted! < LIMIT, 'the producer was stopped by backpressure');
      assert.ok(stalledResolved! > 0, 'some writes went through');
      const bound = inSocket(SIZE + 8);
      assert.ok(socketHolds! <= bound, `socket.writableLength ${socketHolds}`);
      assert.ok(maxBuffered <= bound, `socket.writableLength reached ${maxBuffered}`);
      // Not resolved yet: the write waiting for the kernel and the rest of that turn's chunks.
      assert.ok(
        stalledAccepted! - stalledResolved! <= PER_TURN * SIZE,
        `holds ${stalledAccepted! - stalledResolved!} bytes`,
      );

      serverSocket!.resume();
      await waitUntil(() => resolved > stalledResolved! + 4 * BATCH_LIMIT, 10_000, 'writes resume');
      serverSocket!.destroy();
      await wss.closed.catch(() => {});
      await within(producer, 5000, 'producer ends');
    });
  }

  void it('by default (batched), the connection drops with a batch in the socket: pending writes reject with the error of closed (1006)', async () => {
    serverSocket = undefined;
    const wss = new WebSocketStream(server.url);
    const { writable } = await within(wss.opened, 5000, 'opened');
    await waitUntil(() => serverSocket !== undefined, 5000, 'server ready');
    const writer = writable.getWriter();
    const chunk = new Uint8Array(1000);
    const outcomes: Array<Promise<{ ok: boolean; error?: unknown }>> = [];
    // Enough to fill the kernel's buffers, so that later writes wait.
    for (let i = 0; i < 20_000; i++) {
      outcomes.push(
        writer.write(chunk).then(
          () => ({ ok: true }),
          (error: unknown) => ({ ok: false, error }),
        ),
      );
    }
    await waitUntil(() => lastTransport().bufferedAmount > 0, 5000, 'writes back up');
    serverSocket!.destroy();
    const error = await wss.closed.then(
      () => assert.fail('closed should reject'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof WebSocketError);
    assert.equal(error.closeCode, 1006);
    const results = await within(Promise.all(outcomes), 10_000, 'every write settles');
    const failed = results.filter((r) => !r.ok);
    assert.ok(failed.length > 0, 'some writes were pending');
    assert.ok(
      results.slice(0, 10).every((r) => r.ok),
      'the first writes went through',
    );
    for (const r of failed)
      assert.equal(r.error, error, 'a pending write rejects with the same error');
  });
});
