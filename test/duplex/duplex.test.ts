/**
 * toDuplex(): the classic Node stream contract on a WebSocket connection,
 * checked by counting bytes against a server whose reading we control.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import {
  toDuplex,
  WebSocketError,
  WebSocketStream,
  type WebSocketDuplex,
  type WebSocketDuplexOptions,
  type WebSocketMessage,
} from '../../src/index.js';
import { serve, type WebSocketConnection, type WebSocketServer } from '../../src/server.js';
import { settled } from '../cli/helpers.js';

const CHUNK = 64 * 1024;

/** A server whose handler the test installs per case. */
let server: WebSocketServer;
let onConnection: (connection: WebSocketConnection) => void = () => {};

before(async () => {
  server = await serve({ host: '127.0.0.1', port: 0 }, (connection) => onConnection(connection));
});
after(async () => {
  await server.close();
});

/** Next accepted connection. */
function nextConnection(): Promise<WebSocketConnection> {
  return new Promise((resolve) => {
    onConnection = resolve;
  });
}

/** Bytes the server's TCP socket read so far (headers and frames). */
function serverBytesRead(connection: WebSocketConnection): number {
  return connection.request.socket.bytesRead;
}

/** The messages of a WHATWG readable (the DOM lib types it without async iteration). */
async function* messagesOf(
  readable: ReadableStream<WebSocketMessage>,
): AsyncGenerator<WebSocketMessage> {
  const reader = readable.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * What the server receives when `write` writes to a fresh toDuplex(ws,
 * options) and the Duplex ends: the messages, binary ones as Buffers.
 */
async function receivedFrom(
  options: WebSocketDuplexOptions,
  write: (duplex: WebSocketDuplex) => void,
): Promise<unknown[]> {
  const accepted = nextConnection();
  const duplex = toDuplex(new WebSocketStream(server.url), options);
  const duplexClosed = once(duplex, 'close');
  const { readable } = await (await accepted).opened;
  write(duplex);
  duplex.end();
  duplex.resume();
  const got: unknown[] = [];
  for await (const m of messagesOf(readable)) got.push(typeof m === 'string' ? m : Buffer.from(m));
  await duplexClosed;
  return got;
}

/** A deterministic, non-repeating chunk. */
function chunkOf(i: number, size = CHUNK): Buffer {
  const b = Buffer.alloc(size);
  for (let o = 0; o + 4 <= size; o += 4) b.writeUInt32LE((i * 2654435761 + o) >>> 0, o);
  return b;
}

async function readAll(
  connection: WebSocketConnection,
): Promise<{ bytes: number; messages: number; hash: string; kinds: Set<string> }> {
  const { readable } = await connection.opened;
  const hash = createHash('sha256');
  let bytes = 0;
  let messages = 0;
  const kinds = new Set<string>();
  for await (const m of messagesOf(readable)) {
    messages++;
    kinds.add(typeof m === 'string' ? 'text' : 'binary');
    const b = typeof m === 'string' ? Buffer.from(m) : m;
    bytes += b.length;
    hash.update(b);
  }
  return { bytes, messages, hash: hash.digest('hex'), kinds };
}

describe('toDuplex: sending', () => {
  it('write() returns false past the high-water mark and drain waits for a peer that stopped reading', async () => {
    const accepted = nextConnection();
    const ws = new WebSocketStream(server.url);
    const duplex = toDuplex(ws, { highWaterMark: CHUNK * 4 });
    const connection = await accepted;
    await connection.opened; // the handler does not read: the server's socket pauses

    const total = 256; // 16 MiB in 64 KiB messages
    let falses = 0;
    let written = 0; // messages handed to write()
    let acknowledged = 0; // bytes whose write callback ran (taken by the operating system)
    let maxBuffered = 0;
    let waiting = false;
    const writer = (async () => {
      for (let i = 0; i < total; i++) {
        written++;
        const ok = duplex.write(chunkOf(i), () => {
          acknowledged += CHUNK;
        });
        maxBuffered = Math.max(maxBuffered, duplex.writableLength);
        if (!ok) {
          falses++;
          waiting = true;
          await once(duplex, 'drain');
          waiting = false;
        }
      }
    })();

    // Wait until nothing moves any more: the kernel buffers are full.
    await settled(() => acknowledged + serverBytesRead(connection), 4);
    const readWhileStopped = serverBytesRead(connection);
    assert.ok(falses > 0, 'write() returned false');
    assert.ok(written < total, `the writer is held back (${written} of ${total} messages written)`);
    assert.ok(waiting, "the writer is waiting for 'drain'");
    assert.ok(
      duplex.writableLength > 0,
      `the Duplex still holds unsent data (${duplex.writableLength} bytes)`,
    );
    assert.ok(
      maxBuffered <= CHUNK * 4,
      `a writer honouring false never buffers more than the mark (${maxBuffered} bytes)`,
    );
    // What the sender holds in user space is the Duplex buffer; the rest sits in the kernel.
    assert.ok(
      acknowledged < total * CHUNK,
      `the operating system did not take everything (${acknowledged} bytes)`,
    );

    // The peer reads again: 'drain' fires, the writer finishes, every byte arrives in order.
    const received = readAll(connection);
    await writer;
    const duplexFinished = once(duplex, 'finish');
    duplex.end();
    duplex.resume();
    const result = await received;
    await duplexFinished;
    assert.ok(result.bytes > readWhileStopped);
    assert.equal(result.bytes, total * CHUNK);
    assert.equal(result.messages, total);
    const expected = createHash('sha256');
    for (let i = 0; i < total; i++) expected.update(chunkOf(i));
    assert.equal(result.hash, expected.digest('hex'));
    assert.deepEqual(await connection.closed, { closeCode: 1000, reason: '' });
    assert.deepEqual(await ws.closed, { closeCode: 1000, reason: '' });
  });

  it('end() sends the Close only after every queued byte, to a slow reader', async () => {
    const accepted = nextConnection();
    const ws = new WebSocketStream(server.url);
    const duplex = toDuplex(ws, { closeInfo: { closeCode: 4000, reason: 'done' } });
    const duplexClosed = once(duplex, 'close');
    const connection = await accepted;

    // Queue 8 MiB at once, ignoring false, then end() straight away.
    const total = 128;
    const expected = createHash('sha256');
    for (let i = 0; i < total; i++) {
      const c = chunkOf(i);
      expected.update(c);
      duplex.write(c);
    }
    assert.ok(
      duplex.writableLength >= total * CHUNK - CHUNK,
      'the writes are queued in the Duplex',
    );
    duplex.end();
    duplex.resume(); // 'close' needs the readable side consumed to its end too
    let finished = false;
    duplex.on('finish', () => {
      finished = true;
    });

    // A reader that takes its time between messages.
    const { readable } = await connection.opened;
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const m of messagesOf(readable)) {
      assert.equal(finished, false, "'finish' waits for the closing handshake");
      const b = m as Uint8Array;
      bytes += b.length;
      hash.update(b);
      if (bytes % (16 * CHUNK) === 0) await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(bytes, total * CHUNK, 'every queued byte arrived before the Close');
    assert.equal(hash.digest('hex'), expected.digest('hex'));
    assert.deepEqual(await connection.closed, { closeCode: 4000, reason: 'done' });
    await duplexClosed;
    assert.equal(finished, true);
  });

  it('end() on bare open info is the standard writable.close(): a Close with no code', async () => {
    const accepted = nextConnection();
    const ws = new WebSocketStream(server.url);
    const duplex = toDuplex(await ws.opened);
    const duplexFinished = once(duplex, 'finish');
    const connection = await accepted;
    duplex.end('last words');
    duplex.resume();
    const result = await readAll(connection);
    assert.equal(result.messages, 1);
    assert.deepEqual(await connection.closed, { closeCode: 1005, reason: '' });
    await duplexFinished;
  });

  it('end() on open info after the peer closed cleanly finishes: every message went out, whether or not the Duplex read to its end', async () => {
    for (const read of [false, true]) {
      const accepted = nextConnection();
      const ws = new WebSocketStream(server.url);
      const duplex = toDuplex(await ws.opened);
      const errors: Error[] = [];
      duplex.on('error', (error: Error) => errors.push(error));
      if (read) duplex.resume();
      const connection = await accepted;
      const received = readAll(connection);
      await new Promise<void>((resolve) => duplex.write('hello', () => resolve()));
      connection.close({ closeCode: 4001, reason: 'going away' });
      assert.deepEqual(await ws.closed, { closeCode: 4001, reason: 'going away' });
      const finished = once(duplex, 'finish');
      duplex.end();
      await finished;
      assert.deepEqual(errors, []);
      assert.equal((await received).messages, 1);
    }
  });

  it('stringsAs chooses what a string becomes; Buffers are always binary', async () => {
    for (const stringsAs of ['text', 'binary'] as const) {
      const got = await receivedFrom({ stringsAs }, (duplex) => {
        duplex.write('héllo');
        duplex.write(Buffer.from([0xff, 0x00]));
        duplex.write(new Uint8Array([1, 2, 3]));
        duplex.write('aGk=', 'base64');
      });
      if (stringsAs === 'text') {
        assert.deepEqual(got, ['héllo', Buffer.from([0xff, 0x00]), Buffer.from([1, 2, 3]), 'hi']);
      } else {
        assert.deepEqual(got, [
          Buffer.from('héllo'),
          Buffer.from([0xff, 0x00]),
          Buffer.from([1, 2, 3]),
          Buffer.from('hi'),
        ]);
      }
    }
  });

  it("stringsAs: 'text' sends text written in any character encoding as written", async () => {
    // [string, encoding]: text in a character encoding (the bytes of 'é' in
    // latin1 are no UTF-8), and strings that stand for bytes (hex, base64:
    // the text is what those bytes say in UTF-8).
    const writes: Array<[string, BufferEncoding]> = [
      ['café ✓', 'latin1'],
      ['café', 'binary'],
      ['naïve', 'ascii'],
      ['日本 🎉', 'utf16le'],
      ['ünï', 'ucs2'],
      ['68c3a9', 'hex'],
      ['aGk=', 'base64'],
      ['_-8', 'base64url'],
      ['ok ✓', 'utf8'],
    ];
    for (const stringsAs of ['text', 'binary'] as const) {
      const got = await receivedFrom({ stringsAs }, (duplex) => {
        for (const [text, encoding] of writes) duplex.write(text, encoding);
        // The default encoding, and writes Node hands over together after cork().
        duplex.setDefaultEncoding('latin1');
        duplex.write('défaut');
        duplex.cork();
        duplex.write('un é', 'latin1');
        duplex.write('ff', 'hex');
        duplex.uncork();
      });
      const sent: Array<[string, BufferEncoding]> = [
        ...writes,
        ['défaut', 'latin1'],
        ['un é', 'latin1'],
        ['ff', 'hex'],
      ];
      assert.deepEqual(
        got,
        sent.map(([text, encoding]) =>
          stringsAs === 'binary'
            ? Buffer.from(text, encoding)
            : ['hex', 'base64', 'base64url'].includes(encoding)
              ? Buffer.from(text, encoding).toString('utf8')
              : text,
        ),
      );
    }
  });

  it("stringsAs: 'text' reads hex and base64 in any case, as Buffer does", async () => {
    // Node passes write()'s encoding to _write() as written, not lowercased.
    const got = await receivedFrom({}, (duplex) => {
      duplex.write('aGk=', 'BASE64' as BufferEncoding);
      duplex.write('6869', 'Hex' as BufferEncoding);
      duplex.write('aGk', 'Base64URL' as BufferEncoding);
    });
    assert.deepEqual(got, ['hi', 'hi', 'hi']);
  });

  it('destroy() drops the queued data and closes at once', async () => {
    const accepted = nextConnection();
    const ws = new WebSocketStream(server.url);
    const duplex = toDuplex(ws);
    const connection = await accepted;
    // Open on both sides (a Duplex destroyed before that gives the handshake up instead).
    await ws.opened;
    const total = 512; // 32 MiB queued, far more than the kernel takes while nobody reads
    for (let i = 0; i < total; i++) duplex.write(chunkOf(i));
    const received = readAll(connection);
    duplex.destroy();
    const result = await received;
    assert.ok(result.bytes < total * CHUNK, `queued data was dropped (${result.bytes} bytes sent)`);
    // A closing handshake at once, not a wait behind the queue.
    assert.deepEqual(await connection.closed, { closeCode: 1005, reason: '' });
    assert.deepEqual(await ws.closed, { closeCode: 1005, reason: '' });
  });

  it("destroy(err) right after opened fulfilled sends the WebSocketError's code", async () => {
    // `await ws.opened` here runs before the Duplex sees the connection open
    // (its _construct() starts a tick later): it must not be taken for a handshake to give up.
    const accepted = nextConnection();
    const ws = new WebSocketStream(server.url);
    const duplex = toDuplex(ws);
    await ws.opened;
    duplex.on('error', () => {});
    duplex.destroy(new WebSocketError('bye', { closeCode: 4001, reason: 'r4001' }));
    const connection = await accepted;
    assert.deepEqual(await connection.closed, { closeCode: 4001, reason: 'r4001' });
    assert.deepEqual(await ws.closed, { closeCode: 4001, reason: 'r4001' });
  });
});

describe('toDuplex: receiving', () => {
  it('text stays text and binary stays binary; textAs: buffer gives bytes', async () => {
    for (const textAs of ['string', 'buffer'] as const) {
      const accepted = nextConnection();
      const ws = new WebSocketStream(server.url);
      const duplex = toDuplex(ws, { textAs });
      const connection = await accepted;
      const { writable } = await connection.opened;
      const w = writable.getWriter();
      await w.write('texte');
      await w.write(new Uint8Array([0, 1, 2]));
      await w.close();
      const got: unknown[] = [];
      for await (const m of duplex) got.push(m);
      assert.deepEqual(got, [
        textAs === 'string' ? 'texte' : Buffer.from('texte'),
        Buffer.from([0, 1, 2]),
      ]);
      assert.ok(Buffer.isBuffer(got[1]));
      assert.deepEqual(await ws.closed, { closeCode: 1005, reason: '' });
    }
  });

  it('a consumer that stops reading holds the sending server back', async () => {
    const accepted = nextConnection();
    const ws = new WebSocketStream(server.url);
    const duplex: WebSocketDuplex = toDuplex(ws);
    const connection = await accepted;
    const { writable } = await connection.opened;
    const w = writable.getWriter();
    const total = 512; // 32 MiB
    let acknowledged = 0;
    const sending = (async () => {
      for (let i = 0; i < total; i++) {
        await w.write(chunkOf(i));
        acknowledged += CHUNK;
      }
      await w.close();
    })();
    // Nobody reads the Duplex.
    await settled(() => acknowledged, 4);
    assert.ok(acknowledged < total * CHUNK, `the server is held back (${acknowledged} bytes sent)`);
    assert.ok(
      duplex.readableLength <= 1,
      `the Duplex holds at most one message (${duplex.readableLength})`,
    );

    const hash = createHash('sha256');
    let bytes = 0;
    for await (const m of duplex) {
      bytes += (m as Buffer).length;
      hash.update(m as Buffer);
    }
    await sending;
    assert.equal(bytes, total * CHUNK);
    const expected = createHash('sha256');
    for (let i = 0; i < total; i++) expected.update(chunkOf(i));
    assert.equal(hash.digest('hex'), expected.digest('hex'));
  });

  it('streams already locked by someone else: the Duplex is destroyed with a TypeError', async () => {
    const accepted = nextConnection();
    const ws = new WebSocketStream(server.url);
    const { readable } = await ws.opened;
    const reader = readable.getReader();
    const duplex = toDuplex(ws);
    const [error] = (await once(duplex, 'error')) as [Error];
    assert.equal(error.name, 'TypeError');
    reader.releaseLock();
    ws.close();
    await (
      await accepted
    ).closed;
  });

  it('a failed handshake destroys the Duplex with the WebSocketError', async () => {
    const ws = new WebSocketStream('ws://127.0.0.1:1/');
    const duplex = toDuplex(ws);
    const [error] = (await once(duplex, 'error')) as [Error];
    assert.equal(error.name, 'WebSocketError');
    assert.equal((error as unknown as { closeCode: number }).closeCode, 1006);
  });

  it('destroy() during the opening handshake gives it up at once, with no error (also in the same tick as toDuplex())', async () => {
    // Accepts TCP and never answers the handshake.
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      for (const wait of [100, 0]) {
        const ws = new WebSocketStream(`ws://127.0.0.1:${port}/`, { handshakeTimeout: 30_000 });
        const duplex = toDuplex(ws);
        let errored: unknown = null;
        duplex.on('error', (error) => (errored = error));
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const start = Date.now();
        duplex.destroy();
        await once(duplex, 'close');
        assert.ok(Date.now() - start < 5_000, `closed after ${Date.now() - start} ms`);
        await assert.rejects(ws.closed, /closed before the handshake completed/);
        assert.equal(errored, null, 'destroy() with no error emits none');
      }
    } finally {
      silent.close();
    }
  });
});
