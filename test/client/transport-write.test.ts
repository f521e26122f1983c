/**
 * SocketTransport.write(), the one place a session's bytes meet the socket:
 * every write's callback runs exactly once and in the order of the writes,
 * whether the kernel took the bytes during the call (the callback has then
 * run before write() returned true) or later (an idle socket that could not
 * hand everything over calls back through a write queued behind the bytes).
 * Bytes are counted on the receiving socket.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { SocketTransport } from '../../src/node/socket-transport.js';

interface Pair {
  client: Socket;
  server: Socket;
  close: () => void;
}

async function socketPair(): Promise<Pair> {
  const listener = createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const { port } = listener.address() as AddressInfo;
  const accepted = once(listener, 'connection') as Promise<[Socket]>;
  const client = connect(port, '127.0.0.1');
  await once(client, 'connect');
  const [server] = await accepted;
  return {
    client,
    server,
    close: () => {
      client.destroy();
      server.destroy();
      listener.close();
    },
  };
}

/** Counts what arrives on `socket` (paused until `resume()`). */
function counter(socket: Socket): { bytes(): number; resume(): void } {
  let bytes = 0;
  socket.pause();
  socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
  return { bytes: () => bytes, resume: () => socket.resume() };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > 20_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

void describe('SocketTransport.write', { timeout: 60_000 }, () => {
  void it('on an idle socket: true, and the callback has run once, without an error, before write() returns', async () => {
    const { client, server, close } = await socketPair();
    try {
      const received = counter(server);
      received.resume();
      const transport = new SocketTransport(client);
      for (const chunks of [[Buffer.from('ab')], [Buffer.from('cd'), Buffer.from('efg')]]) {
        const calls: unknown[] = [];
        const written = transport.write(chunks, (error) => calls.push(error));
        assert.equal(written, true);
        assert.deepEqual(calls, [undefined]);
        await new Promise((r) => setImmediate(r));
        assert.deepEqual(calls, [undefined], 'called once only');
      }
      await until(() => received.bytes() === 7, '7 bytes');
    } finally {
      close();
    }
  });

  void it('past what the kernel takes: each callback once, in order, when its bytes were handed over', async () => {
    const { client, server, close } = await socketPair();
    try {
      const received = counter(server);
      const transport = new SocketTransport(client);
      const chunk = Buffer.alloc(256 * 1024, 0x61);
      const order: number[] = [];
      const results: Array<boolean | 'batched' | void> = [];
      let i = 0;
      // Write until a few writes are waiting in user space (the reader is paused).
      while (i < 400 && transport.bufferedAmount < 4 * chunk.length) {
        const n = i++;
        results.push(transport.write([chunk], (error) => order.push(error == null ? n : -1 - n)));
        // Writes that returned true have called back already; the others not yet.
        assert.equal(order.length, results.filter((r) => r === true).length);
      }
      const notYet = results.filter((r) => r !== true).length;
      assert.ok(notYet > 0, 'some writes were not taken at once');
      // The first write not taken at once was made on an idle socket (every
      // write before it was taken): its callback comes from a write queued behind it.
      assert.equal(results.indexOf(false), results.filter((r) => r === true).length);
      received.resume();
      await until(() => order.length === i, 'every callback');
      assert.deepEqual(
        order,
        Array.from({ length: i }, (_, k) => k),
        'in order, no errors',
      );
      await until(() => received.bytes() === i * chunk.length, 'every byte');
      assert.equal(transport.bufferedAmount, 0);
    } finally {
      close();
    }
  });

  void it('a socket destroyed with writes waiting: their callbacks run once each, in order, with an error', async () => {
    const { client, server, close } = await socketPair();
    try {
      counter(server);
      const transport = new SocketTransport(client);
      client.on('error', () => {});
      const chunk = Buffer.alloc(256 * 1024, 0x62);
      const calls: Array<[number, boolean]> = [];
      let i = 0;
      let taken = 0;
      while (i < 400 && transport.bufferedAmount < 4 * chunk.length) {
        const n = i++;
        if (transport.write([chunk], (error) => calls.push([n, error != null])) === true) taken++;
      }
      assert.ok(i > taken, 'some writes wait');
      client.destroy();
      await until(() => calls.length === i, 'every callback');
      await new Promise((r) => setImmediate(r));
      assert.equal(calls.length, i, 'once each');
      assert.deepEqual(
        calls.map(([n]) => n),
        Array.from({ length: i }, (_, k) => k),
      );
      assert.ok(
        calls.slice(taken).every(([, failed]) => failed),
        'the waiting writes failed',
      );
      assert.ok(calls.slice(0, taken).every(([, failed]) => !failed));
      // A write to the destroyed socket calls back with an error at once.
      const late: unknown[] = [];
      assert.equal(
        transport.write([chunk], (error) => late.push(error)),
        false,
      );
      assert.equal(late.length, 1);
      assert.ok(late[0] instanceof Error);
    } finally {
      close();
    }
  });
});
