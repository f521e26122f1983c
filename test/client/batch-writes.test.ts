/**
 * The batchWrites extension (on by default): the small messages written in
 * one turn of the event loop leave in one system call, and everything still arrives in order and
 * intact (checked by a ws server). That backpressure still reaches TCP is
 * counted in bytes in backpressure.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketStream } from '../../src/index.js';
import { BATCH_WRITE_MAX } from '../../src/node/socket-transport.js';
import { lastTransport, startWsServer, waitUntil, within, type WsFixture } from './helpers.js';

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

  for (const batchWrites of [undefined, true, false]) {
    void it(`100 messages written in one turn leave in ${batchWrites !== false ? 'two system calls' : '100 system calls'} (batchWrites: ${batchWrites ?? 'default'})`, async () => {
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
      // Batched: the first goes out at once, the other 99 in one writev at the end of the turn.
      if (batchWrites !== false) assert.deepEqual({ ...counts }, { write: 1, writev: 1 });
      else assert.deepEqual({ ...counts }, { write: 100, writev: 0 });
      wss.close();
      await within(wss.closed, 5000, 'closed');
    });
  }

  void it(`messages larger than ${BATCH_WRITE_MAX / 1024} KiB are not batched: each resolves once the kernel took it`, async () => {
    const wss = new WebSocketStream(server.url);
    const peerReady = server.next();
    const { writable } = await within(wss.opened, 5000, 'opened');
    const peer = await peerReady;
    let received = 0;
    peer.ws.on('message', () => received++);
    const transport = lastTransport();
    const counts = countWrites(transport.socket);
    const writer = writable.getWriter();
    const big = new Uint8Array(BATCH_WRITE_MAX + 1);
    for (let i = 0; i < 10; i++) {
      await within(writer.write(big), 5000, 'write');
      // Resolved: the kernel has every byte of it, nothing waits in user space.
      assert.equal(transport.bufferedAmount, 0);
    }
    await waitUntil(() => received === 10, 5000, 'all messages at the server');
    assert.deepEqual({ ...counts }, { write: 10, writev: 0 });
    wss.close();
    await within(wss.closed, 5000, 'closed');
  });

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
