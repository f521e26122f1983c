/**
 * The batchWrites extension: the messages written in one turn of the event
 * loop leave in one system call, everything still arrives in order and
 * intact (checked by a ws server), and backpressure still reaches TCP,
 * measured by counting bytes: what a resolved write() can leave in user
 * space is bounded by the batch.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketError, WebSocketStream } from '../../src/index.js';
import { BATCH_LIMIT } from '../../src/node/socket-transport.js';
import {
  acceptHandshake,
  lastTransport,
  startRawServer,
  startWsServer,
  waitStable,
  waitUntil,
  within,
  type RawFixture,
  type WsFixture,
} from './helpers.js';

/** Counts the socket's calls to its write implementations (one per system call it makes). */
function countWrites(socket: Socket): { readonly write: number; readonly writev: number } {
  const counts = { write: 0, writev: 0 };
  const s = socket as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
  const write = s._write.bind(socket);
  const writev = s._writev.bind(socket);
  s._write = (...args) => {
    counts.write++;
    return write(...args);
  };
  s._writev = (...args) => {
    counts.writev++;
    return writev(...args);
  };
  return counts;
}

void describe('batchWrites', { timeout: 60_000 }, () => {
  let server: WsFixture;
  before(async () => {
    server = await startWsServer({ perMessageDeflate: false });
  });
  after(async () => {
    await server.close();
  });

  void it('rejects a value that is not a boolean', () => {
    assert.throws(
      () => new WebSocketStream(server.url, { batchWrites: 'yes' as unknown as boolean }),
      { name: 'TypeError', message: /batchWrites must be a boolean/ },
    );
  });

  for (const batchWrites of [true, false]) {
    void it(`100 messages written in one turn leave in ${batchWrites ? 'one system call' : '100 system calls'} (batchWrites: ${batchWrites})`, async () => {
      const wss = new WebSocketStream(server.url, { batchWrites });
      const peerReady = server.next();
      const { writable } = await within(wss.opened, 5000, 'opened');
      const peer = await peerReady;
      const received: string[] = [];
      peer.ws.on('message', (data: Buffer) => received.push(data.toString()));
      const counts = countWrites(lastTransport().socket);
      const writer = writable.getWriter();
      const writes: Array<Promise<void>> = [];
      for (let i = 0; i < 100; i++) writes.push(writer.write(`message ${i}`));
      await within(Promise.all(writes), 5000, 'writes');
      await waitUntil(() => received.length === 100, 5000, 'all messages at the server');
      assert.deepEqual(
        received,
        Array.from({ length: 100 }, (_, i) => `message ${i}`),
      );
      if (batchWrites) assert.deepEqual({ ...counts }, { write: 0, writev: 1 });
      else assert.deepEqual({ ...counts }, { write: 100, writev: 0 });
      wss.close();
      await within(wss.closed, 5000, 'closed');
    });
  }

  void it('10,000 messages of mixed sizes (up to 256 KiB, past the batch bound) arrive in order and intact', async () => {
    const wss = new WebSocketStream(server.url, { batchWrites: true });
    const peerReady = server.next();
    const { writable } = await within(wss.opened, 5000, 'opened');
    const peer = await peerReady;
    const count = 10_000;
    const sizes = Array.from({ length: count }, (_, i) =>
      i % 997 === 0 ? 256 * 1024 : i % 101 === 0 ? 20_000 : (i * 37) % 300,
    );
    const sentHash = createHash('sha256');
    const gotHash = createHash('sha256');
    let got = 0;
    let inOrder = true;
    peer.ws.on('message', (data: Buffer) => {
      if (data.length !== sizes[got]) inOrder = false;
      gotHash.update(data);
      got++;
    });
    const base = randomBytes(256 * 1024 + 1024);
    const writer = writable.getWriter();
    for (let i = 0; i < count; i++) {
      const message = base.subarray(i % 1024, (i % 1024) + sizes[i]!);
      sentHash.update(message);
      // Every 50 messages, wait as a producer does: the rest go out in one turn.
      if (i % 50 === 0) await writer.ready;
      void writer.write(message);
    }
    await within(writer.ready, 10_000, 'ready');
    await waitUntil(() => got === count, 20_000, 'all messages at the server');
    assert.ok(inOrder, 'every message has its size, in order');
    assert.equal(gotHash.digest('hex'), sentHash.digest('hex'));
    wss.close();
    await within(wss.closed, 5000, 'closed');
  });
});

void describe('batchWrites: send backpressure still reaches TCP', { timeout: 60_000 }, () => {
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

  void it('a server that never reads: write() promises stop resolving, with at most one batch resolved ahead of the kernel', async (t) => {
    const SIZE = 1000;
    const LIMIT = 512 * 1024 * 1024;
    const wss = new WebSocketStream(server.url, { batchWrites: true });
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
    // Resolved but not yet taken by the kernel: at most one batch (plus the write that found it waiting).
    const frame = SIZE + 8;
    assert.ok(socketHolds! <= BATCH_LIMIT + frame, `socket.writableLength ${socketHolds}`);
    assert.ok(maxBuffered <= BATCH_LIMIT + frame, `socket.writableLength reached ${maxBuffered}`);
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

  void it('the connection drops with a batch in the socket: pending writes reject with the error of closed (1006)', async () => {
    serverSocket = undefined;
    const wss = new WebSocketStream(server.url, { batchWrites: true });
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
