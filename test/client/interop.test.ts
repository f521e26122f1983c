/**
 * The client against a `ws` WebSocketServer: messages of every kind and size
 * in both directions, fragmented messages, pings, and what a chunk becomes on
 * the wire.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WebSocketStream } from '../../src/index.js';
import {
  pseudoRandomBytes,
  readN,
  rejection,
  wsServerForSuite,
  within,
  wsData,
  type WsPeer,
} from './helpers.js';

interface Received {
  data: Buffer;
  isBinary: boolean;
}

/** Collects what a ws peer receives. */
function collect(peer: WsPeer): { next(): Promise<Received>; readonly queued: number } {
  const queue: Received[] = [];
  const waiting: Array<(r: Received) => void> = [];
  peer.ws.on('message', (data, isBinary) => {
    const r = { data: wsData(data), isBinary };
    const w = waiting.shift();
    if (w !== undefined) w(r);
    else queue.push(r);
  });
  return {
    get queued() {
      return queue.length;
    },
    next() {
      const r = queue.shift();
      if (r !== undefined) return Promise.resolve(r);
      return within(new Promise((resolve) => waiting.push(resolve)), 10000, 'server message');
    },
  };
}

void describe('client interop with a ws server', { timeout: 30_000 }, () => {
  const server = wsServerForSuite();

  async function connect(): Promise<{
    wss: WebSocketStream;
    reader: ReadableStreamDefaultReader<string | Uint8Array>;
    writer: WritableStreamDefaultWriter<unknown>;
    peer: WsPeer;
    extensions: string;
    protocol: string;
  }> {
    const wss = new WebSocketStream(server.url);
    const [{ readable, writable, extensions, protocol }, peer] = await Promise.all([
      within(wss.opened, 5000, 'opened'),
      server.next(),
    ]);
    return {
      wss,
      reader: readable.getReader(),
      writer: writable.getWriter(),
      peer,
      extensions,
      protocol,
    };
  }

  async function closeCleanly(wss: WebSocketStream): Promise<void> {
    wss.close();
    await within(wss.closed, 5000, 'closed');
  }

  void it('sends text, binary, empty text and empty binary messages as they are', async () => {
    const { wss, writer, peer } = await connect();
    const got = collect(peer);
    await writer.write('héllo ✓');
    await writer.write(new Uint8Array([1, 2, 3]));
    await writer.write('');
    await writer.write(new Uint8Array(0));
    await writer.write(new Uint16Array([0x0201, 0x0403]).subarray(1));
    await writer.write(new DataView(new Uint8Array([9, 8, 7]).buffer, 1, 2));
    await writer.write(new Uint8Array([5, 6]).buffer);

    assert.deepEqual(await got.next(), { data: Buffer.from('héllo ✓'), isBinary: false });
    assert.deepEqual(await got.next(), { data: Buffer.from([1, 2, 3]), isBinary: true });
    assert.deepEqual(await got.next(), { data: Buffer.alloc(0), isBinary: false });
    assert.deepEqual(await got.next(), { data: Buffer.alloc(0), isBinary: true });
    assert.deepEqual(await got.next(), { data: Buffer.from([3, 4]), isBinary: true });
    assert.deepEqual(await got.next(), { data: Buffer.from([8, 7]), isBinary: true });
    assert.deepEqual(await got.next(), { data: Buffer.from([5, 6]), isBinary: true });
    await closeCleanly(wss);
  });

  void it('receives text, binary, empty text and empty binary messages', async () => {
    const { wss, reader, peer } = await connect();
    peer.ws.send('héllo ✓');
    peer.ws.send(Buffer.from([1, 2, 3]));
    peer.ws.send('');
    peer.ws.send(Buffer.alloc(0));
    const [text, binary, emptyText, emptyBinary] = await within(readN(reader, 4), 5000, 'read');
    assert.equal(text, 'héllo ✓');
    assert.ok(binary instanceof Uint8Array);
    assert.deepEqual([...binary], [1, 2, 3]);
    assert.equal(emptyText, '');
    assert.ok(emptyBinary instanceof Uint8Array);
    assert.equal(emptyBinary.length, 0);
    await closeCleanly(wss);
  });

  void it('binary chunks are fresh Uint8Arrays that own their whole buffer', async () => {
    const { wss, reader, peer } = await connect();
    for (const n of [1, 5, 125, 126, 65535, 65536, 200_000]) peer.ws.send(pseudoRandomBytes(n, n));
    const chunks = await within(readN(reader, 7), 5000, 'read');
    const buffers = new Set<ArrayBufferLike>();
    for (const chunk of chunks) {
      assert.ok(chunk instanceof Uint8Array);
      assert.equal(Object.getPrototypeOf(chunk), Uint8Array.prototype, 'a plain Uint8Array');
      assert.equal(chunk.byteOffset, 0);
      assert.equal(chunk.buffer.byteLength, chunk.length);
      assert.deepEqual(chunk, pseudoRandomBytes(chunk.length, chunk.length));
      buffers.add(chunk.buffer);
    }
    assert.equal(buffers.size, chunks.length, 'no two chunks share a buffer');
    await closeCleanly(wss);
  });

  void it('16 MiB messages, binary and text, both ways', async () => {
    const { wss, reader, writer, peer } = await connect();
    const got = collect(peer);
    const size = 16 * 1024 * 1024;
    const binary = pseudoRandomBytes(size, 7);
    const text = 'aé✓xy'.repeat(size / 8);
    assert.equal(Buffer.byteLength(text), size);

    await within(writer.write(binary), 20000, 'write binary');
    await within(writer.write(text), 20000, 'write text');
    const b = await got.next();
    assert.equal(b.isBinary, true);
    assert.ok(b.data.equals(binary));
    const t = await got.next();
    assert.equal(t.isBinary, false);
    assert.equal(t.data.toString('utf8'), text);

    peer.ws.send(binary);
    peer.ws.send(text);
    const [rb, rt] = await within(readN(reader, 2), 20000, 'read 16 MiB');
    assert.ok(rb instanceof Uint8Array);
    assert.equal(rb.length, size);
    assert.ok(Buffer.from(rb.buffer, rb.byteOffset, rb.length).equals(binary));
    assert.equal(rt, text);
    await closeCleanly(wss);
  });

  void it('a fragmented message from the server arrives as one message, pings between fragments answered', async () => {
    const { wss, reader, peer } = await connect();
    const pong = new Promise<Buffer>((resolve) => peer.ws.once('pong', resolve));
    peer.ws.send('hé', { fin: false });
    peer.ws.ping('between');
    peer.ws.send('llo', { fin: false });
    peer.ws.send(' ✓', { fin: true });
    peer.ws.send(Buffer.from([1, 2]), { binary: true, fin: false });
    peer.ws.send(Buffer.from([]), { binary: true, fin: false });
    peer.ws.send(Buffer.from([3]), { binary: true, fin: true });
    peer.ws.send('after');
    const [text, binary, last] = await within(readN(reader, 3), 5000, 'read');
    assert.equal(text, 'héllo ✓');
    assert.deepEqual(binary, new Uint8Array([1, 2, 3]));
    assert.equal(last, 'after');
    assert.deepEqual(await within(pong, 5000, 'pong'), Buffer.from('between'));
    await closeCleanly(wss);
  });

  void it('answers pings from the server with the same payload, even when the application does not read', async () => {
    const { wss, peer } = await connect();
    const payloads = [Buffer.alloc(0), Buffer.from('abc'), Buffer.from(pseudoRandomBytes(125, 3))];
    const pongs: Buffer[] = [];
    const all = new Promise<void>((resolve) => {
      peer.ws.on('pong', (data) => {
        pongs.push(data);
        if (pongs.length === payloads.length) resolve();
      });
    });
    for (const p of payloads) peer.ws.ping(p);
    await within(all, 5000, 'pongs');
    assert.deepEqual(pongs, payloads);
    await closeCleanly(wss);
  });

  void it('a number is sent as text, and any other value as its string conversion', async () => {
    const { wss, writer, peer } = await connect();
    const got = collect(peer);
    await writer.write(42);
    await writer.write({ toString: () => 'object' });
    await writer.write(null);
    assert.deepEqual(await got.next(), { data: Buffer.from('42'), isBinary: false });
    assert.deepEqual(await got.next(), { data: Buffer.from('object'), isBinary: false });
    assert.deepEqual(await got.next(), { data: Buffer.from('null'), isBinary: false });
    await closeCleanly(wss);
  });

  void it('a chunk whose string conversion throws rejects the write with that error', async () => {
    const { wss, writer } = await connect();
    const boom = new Error('no string for you');
    const error = await rejection(
      writer.write({
        toString() {
          throw boom;
        },
      }),
    );
    assert.equal(error, boom);
    await closeCleanly(wss);
  });

  void it('a conversion that throws something other than an Error rejects with what it threw; a Symbol with TypeError', async () => {
    {
      const { wss, writer } = await connect();
      const error = await rejection(
        writer.write({
          toString() {
            // eslint-disable-next-line @typescript-eslint/only-throw-error
            throw 'plain';
          },
        }),
      );
      assert.equal(error, 'plain');
      await closeCleanly(wss);
    }
    {
      const { wss, writer, peer } = await connect();
      const got = collect(peer);
      const error = await rejection(writer.write(Symbol('s')));
      assert.ok(error instanceof TypeError, String(error));
      wss.close({ reason: 'done' });
      await within(wss.closed, 5000, 'closed');
      assert.equal(got.queued, 0, 'nothing was sent for it');
    }
  });

  void it('a view of a SharedArrayBuffer rejects with TypeError', async () => {
    const { wss, writer, peer } = await connect();
    const got = collect(peer);
    const error = await rejection(writer.write(new Uint8Array(new SharedArrayBuffer(4))));
    assert.ok(error instanceof TypeError, String(error));
    // Nothing was sent for it: the server's next frame is our Close.
    wss.close({ reason: 'done' });
    const closed = await within(wss.closed, 5000, 'closed');
    assert.deepEqual(closed, { closeCode: 1000, reason: 'done' });
    assert.equal(got.queued, 0, 'the server received no message');
  });

  void it('a resizable ArrayBuffer, or a view of one, rejects with TypeError', async () => {
    const Resizable = ArrayBuffer as unknown as new (
      n: number,
      o: { maxByteLength: number },
    ) => ArrayBuffer;
    for (const chunk of [
      new Resizable(4, { maxByteLength: 8 }),
      new Uint8Array(new Resizable(4, { maxByteLength: 8 })),
    ]) {
      const { wss, writer } = await connect();
      const error = await rejection(writer.write(chunk));
      assert.ok(error instanceof TypeError, String(error));
      await closeCleanly(wss);
    }
  });

  void it('extensions and protocol are empty strings when none were negotiated', async () => {
    const { wss, extensions, protocol } = await connect();
    assert.equal(extensions, '');
    assert.equal(protocol, '');
    await closeCleanly(wss);
  });

  void it('the written chunk is copied: changing it after write() does not change what is sent', async () => {
    const { wss, writer, peer } = await connect();
    const got = collect(peer);
    const chunk = new Uint8Array([1, 2, 3]);
    const written = writer.write(chunk);
    chunk[0] = 99;
    await written;
    assert.deepEqual(await got.next(), { data: Buffer.from([1, 2, 3]), isBinary: true });
    await closeCleanly(wss);
  });
});
