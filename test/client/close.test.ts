/**
 * Every way a client connection ends: closes started by the client (close(),
 * writable.close(), abort, cancel), by the server (with and without a code),
 * dropped connections and closing handshakes that never finish; what the
 * server sees on the wire, and how `closed`, the readable and the writable
 * settle.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketError, WebSocketStream } from '../../src/index.js';
import {
  acceptHandshake,
  assertSame,
  closePayload,
  lastTransport,
  outcome,
  readClientFrames,
  rejection,
  serverFrame,
  startRawServer,
  wsServerForSuite,
  waitUntil,
  within,
  type RawFixture,
  type WsPeer,
} from './helpers.js';

/**
 * Stops ws reading the connection and starts a 20 MiB write of ours, which
 * cannot be handed to the operating system completely: resolves once it has
 * backed up, with the server's socket (to resume) and the write's outcome.
 */
async function backedUpWrite(peer: WsPeer, writable: WritableStream<unknown>) {
  const serverSocket = (peer.ws as unknown as { _socket: Socket })._socket;
  serverSocket.pause();
  const writer = writable.getWriter();
  const pending = outcome(writer.write(new Uint8Array(20 * 1024 * 1024)), 10_000);
  await waitUntil(() => lastTransport().bufferedAmount > 0, 5000, 'the write is backed up');
  return { serverSocket, writer, pending };
}

/** The process's stack trace limit, which a close must leave as it found it. */
const stackTraceLimit = Error.stackTraceLimit;

/** What the ws server saw when the connection closed. */
function serverClose(peer: WsPeer): Promise<{ code: number; reason: string }> {
  return within(
    new Promise((resolve) => {
      peer.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') }));
    }),
    5000,
    'server close event',
  );
}

/** Asserts `error` is a DOMException named `name`. */
function assertDomException(error: unknown, name: string): void {
  assert.ok(error instanceof DOMException, `expected a DOMException, got ${String(error)}`);
  assert.equal(error.name, name);
}

void describe('closing handshakes with a ws server', { timeout: 30_000 }, () => {
  const server = wsServerForSuite();

  async function connect(): Promise<{
    wss: WebSocketStream;
    readable: ReadableStream<string | Uint8Array>;
    writable: WritableStream<unknown>;
    peer: WsPeer;
  }> {
    const wss = new WebSocketStream(server.url);
    const [{ readable, writable }, peer] = await Promise.all([
      within(wss.opened, 5000, 'opened'),
      server.next(),
    ]);
    return { wss, readable, writable, peer };
  }

  void it('close() with no arguments sends a Close with no body: the server sees 1005', async () => {
    const { wss, readable, writable, peer } = await connect();
    const seen = serverClose(peer);
    wss.close();
    assert.deepEqual(await seen, { code: 1005, reason: '' });
    // ws echoes an empty Close: 1005 on our side too.
    assert.deepEqual(await within(wss.closed, 5000, 'closed'), { closeCode: 1005, reason: '' });
    // Clean close: the readable ends, the writable errors with InvalidStateError.
    const read = await readable.getReader().read();
    assert.deepEqual(read, { value: undefined, done: true });
    const error = await rejection(writable.getWriter().closed);
    assertDomException(error, 'InvalidStateError');
    // Made without a stack trace (it would name only the runtime's internals),
    // but with the usual first line; the process's own limit is left as it was.
    assert.equal((error as Error).stack, 'InvalidStateError: The WebSocket is closed');
    assert.equal(Error.stackTraceLimit, stackTraceLimit);
  });

  void it('close({closeCode, reason}) sends them; closed resolves with the echo', async () => {
    const { wss, peer } = await connect();
    const seen = serverClose(peer);
    wss.close({ closeCode: 4000, reason: 'bye ✓' });
    assert.deepEqual(await seen, { code: 4000, reason: 'bye ✓' });
    assert.deepEqual(await within(wss.closed, 5000, 'closed'), {
      closeCode: 4000,
      reason: 'bye ✓',
    });
  });

  void it('close({closeCode: 1000}) sends 1000 with an empty reason', async () => {
    const { wss, peer } = await connect();
    const seen = serverClose(peer);
    wss.close({ closeCode: 1000 });
    assert.deepEqual(await seen, { code: 1000, reason: '' });
    assert.deepEqual(await within(wss.closed, 5000, 'closed'), { closeCode: 1000, reason: '' });
  });

  void it('a reason without a code sends 1000', async () => {
    const { wss, peer } = await connect();
    const seen = serverClose(peer);
    wss.close({ reason: 'only a reason' });
    assert.deepEqual(await seen, { code: 1000, reason: 'only a reason' });
    assert.deepEqual(await within(wss.closed, 5000, 'closed'), {
      closeCode: 1000,
      reason: 'only a reason',
    });
  });

  void it('the legacy {code, reason} key of early samples is accepted', async () => {
    const { wss, peer } = await connect();
    const seen = serverClose(peer);
    wss.close({ code: 3001, reason: 'legacy' } as never);
    assert.deepEqual(await seen, { code: 3001, reason: 'legacy' });
  });

  void it('a reason of exactly 123 UTF-8 bytes is sent whole', async () => {
    const { wss, peer } = await connect();
    const seen = serverClose(peer);
    const reason = 'é'.repeat(61) + 'x'; // 122 + 1 bytes
    wss.close({ closeCode: 4999, reason });
    assert.deepEqual(await seen, { code: 4999, reason });
  });

  void it('close() validates: codes other than 1000 and 3000-4999 → InvalidAccessError, > 123 bytes → SyntaxError', async () => {
    const { wss, peer } = await connect();
    for (const closeCode of [0, 999, 1001, 1005, 1006, 1015, 2999, 5000, 65535]) {
      assert.throws(
        () => wss.close({ closeCode }),
        (e: unknown) => e instanceof DOMException && e.name === 'InvalidAccessError',
        String(closeCode),
      );
    }
    assert.throws(
      () => wss.close({ closeCode: 1000, reason: 'é'.repeat(62) }),
      (e: unknown) => e instanceof DOMException && e.name === 'SyntaxError',
    );
    assert.throws(
      () => wss.close({ reason: 'x'.repeat(124) }),
      (e: unknown) => e instanceof DOMException && e.name === 'SyntaxError',
    );
    // WebIDL [EnforceRange] unsigned short.
    for (const closeCode of [-1, 65536, NaN, Infinity]) {
      assert.throws(() => wss.close({ closeCode }), TypeError, String(closeCode));
    }
    // None of these started a close: the connection still works, then closes as asked.
    const seen = serverClose(peer);
    wss.close({ closeCode: 3000 });
    assert.deepEqual(await seen, { code: 3000, reason: '' });
  });

  void it('a second close() while a close is under way does nothing', async () => {
    const { wss, peer } = await connect();
    const seen = serverClose(peer);
    wss.close({ closeCode: 4001, reason: 'first' });
    wss.close({ closeCode: 4002, reason: 'second' });
    assert.deepEqual(await seen, { code: 4001, reason: 'first' });
    assert.deepEqual(await within(wss.closed, 5000, 'closed'), {
      closeCode: 4001,
      reason: 'first',
    });
  });

  void it('writable.abort(WebSocketError) closes with its code and reason', async () => {
    const { wss, writable, peer } = await connect();
    const seen = serverClose(peer);
    await writable.abort(new WebSocketError('', { closeCode: 4001, reason: 'x' }));
    assert.deepEqual(await seen, { code: 4001, reason: 'x' });
    assert.deepEqual(await within(wss.closed, 5000, 'closed'), { closeCode: 4001, reason: 'x' });
  });

  void it('readable.cancel(WebSocketError) closes with its code and reason', async () => {
    const { wss, readable, peer } = await connect();
    const seen = serverClose(peer);
    await readable.cancel(new WebSocketError('', { closeCode: 4002, reason: 'y' }));
    assert.deepEqual(await seen, { code: 4002, reason: 'y' });
    assert.deepEqual(await within(wss.closed, 5000, 'closed'), { closeCode: 4002, reason: 'y' });
  });

  void it('a WebSocketError with only a reason closes with 1000 and that reason', async () => {
    const { writable, peer } = await connect();
    const seen = serverClose(peer);
    await writable.abort(new WebSocketError('', { reason: 'r' }));
    assert.deepEqual(await seen, { code: 1000, reason: 'r' });
  });

  void it('abort/cancel with a plain {closeCode} object, a string or nothing close with no code', async () => {
    for (const how of ['abort', 'cancel'] as const) {
      // An object with WebSocketError's prototype but not made by its constructor has no code to read.
      const unbranded: unknown = Object.create(WebSocketError.prototype);
      for (const reason of [{ closeCode: 4001, reason: 'x' }, 'a string', undefined, unbranded]) {
        const { wss, readable, writable, peer } = await connect();
        const seen = serverClose(peer);
        if (how === 'abort') await writable.abort(reason);
        else await readable.cancel(reason);
        assert.deepEqual(
          await seen,
          { code: 1005, reason: '' },
          `${how}(${reason === unbranded ? 'an unbranded WebSocketError' : JSON.stringify(reason)})`,
        );
        assert.deepEqual(await within(wss.closed, 5000, 'closed'), {
          closeCode: 1005,
          reason: '',
        });
      }
    }
  });

  void it('a WebSocketError whose code may not be sent (1006 of a lost connection) closes with no code', async () => {
    const lost = new WebSocketStream(server.url);
    const [, lostPeer] = await Promise.all([within(lost.opened, 5000, 'opened'), server.next()]);
    lostPeer.ws.terminate();
    const error = await rejection(lost.closed);
    assert.ok(error instanceof WebSocketError);
    assert.equal(error.closeCode, 1006);
    const { readable, peer } = await connect();
    const seen = serverClose(peer);
    await readable.cancel(error);
    assert.deepEqual(await seen, { code: 1005, reason: '' });
  });

  void it('writable.close() sends a Close with no body and resolves after the handshake', async () => {
    const { wss, writable, peer } = await connect();
    const seen = serverClose(peer);
    await within(writable.getWriter().close(), 5000, 'writer.close()');
    assert.deepEqual(await seen, { code: 1005, reason: '' });
    assert.deepEqual(await within(wss.closed, 5000, 'closed'), { closeCode: 1005, reason: '' });
  });

  void it('the server closes with a code and a UTF-8 reason', async () => {
    const { wss, readable, writable, peer } = await connect();
    const seen = serverClose(peer);
    peer.ws.close(4100, 'héllo ✓');
    assert.deepEqual(await within(wss.closed, 5000, 'closed'), {
      closeCode: 4100,
      reason: 'héllo ✓',
    });
    // Our echo carried the same code and reason, as ws and python-websockets answer.
    assert.deepEqual(await seen, { code: 4100, reason: 'héllo ✓' });
    assert.deepEqual(await readable.getReader().read(), { value: undefined, done: true });
    assertDomException(await rejection(writable.getWriter().closed), 'InvalidStateError');
  });

  void it('the server closes with 1000 and no reason', async () => {
    const { wss, peer } = await connect();
    peer.ws.close(1000);
    assert.deepEqual(await within(wss.closed, 5000, 'closed'), { closeCode: 1000, reason: '' });
  });

  void it('the server closes without a code: closed resolves with 1005', async () => {
    const { wss, peer } = await connect();
    const seen = serverClose(peer);
    peer.ws.close();
    assert.deepEqual(await within(wss.closed, 5000, 'closed'), { closeCode: 1005, reason: '' });
    assert.deepEqual(await seen, { code: 1005, reason: '' });
  });

  void it('messages the server sent before its Close stay readable', async () => {
    const { wss, readable, peer } = await connect();
    peer.ws.send('one');
    peer.ws.send('two');
    peer.ws.close(1000, 'done');
    assert.deepEqual(await within(wss.closed, 5000, 'closed'), { closeCode: 1000, reason: 'done' });
    const reader = readable.getReader();
    assert.deepEqual(await reader.read(), { value: 'one', done: false });
    assert.deepEqual(await reader.read(), { value: 'two', done: false });
    assert.deepEqual(await reader.read(), { value: undefined, done: true });
  });

  void it('messages the server sent before it saw our Close stay readable, though nobody read them yet', async () => {
    const { wss, readable, peer } = await connect();
    const sent = ['one', 'two', 'three', 'four', new Uint8Array(100_000).fill(5)];
    // Every message is in the server's socket before our Close leaves.
    await Promise.all(
      sent.map(
        (m) =>
          new Promise<void>((resolve, reject) =>
            peer.ws.send(m, (e) => (e ? reject(e) : resolve())),
          ),
      ),
    );
    wss.close({ closeCode: 1000 });
    assert.deepEqual(await within(wss.closed, 5000, 'closed'), { closeCode: 1000, reason: '' });
    const got: Array<string | Uint8Array> = [];
    const reader = readable.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) got.push(r.value);
    assert.deepEqual(got, sent);
  });

  void it('after our Close, what nobody reads is kept up to 1 MiB and discarded past it, so the handshake still completes', async () => {
    const { wss, readable, peer } = await connect();
    const count = 12; // 3 MiB
    await Promise.all(
      Array.from(
        { length: count },
        (_, i) =>
          new Promise<void>((resolve, reject) =>
            peer.ws.send(new Uint8Array(256 * 1024).fill(i), (e) => (e ? reject(e) : resolve())),
          ),
      ),
    );
    wss.close();
    assert.deepEqual(await within(wss.closed, 5000, 'closed'), { closeCode: 1005, reason: '' });
    let held = 0;
    let messages = 0;
    const reader = readable.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      held += r.value.length;
      messages++;
    }
    // The one message in the readable's queue, then at most 1 MiB more; the rest was discarded.
    assert.ok(messages >= 1 && messages < count, `${messages} messages kept`);
    assert.ok(held <= 256 * 1024 + 1024 * 1024, `${held} bytes kept`);
  });

  void it('the server drops TCP: both streams error and closed rejects with the same WebSocketError (1006)', async () => {
    const { wss, readable, writable, peer } = await connect();
    const reader = readable.getReader();
    const writer = writable.getWriter();
    const read = reader.read();
    (peer.ws as unknown as { _socket: Socket })._socket.destroy();
    const error = await rejection(wss.closed);
    assert.ok(error instanceof WebSocketError);
    assert.equal(error.closeCode, 1006);
    assert.equal(error.reason, '');
    assertSame(await rejection(read), error, 'read rejects with the same error');
    assertSame(await rejection(writer.closed), error, 'writer.closed rejects with the same error');
    assertSame(
      await rejection(writer.write('late')),
      error,
      'a later write rejects with the same error',
    );
  });

  void it('the server closes and drops the connection while our 20 MiB write is unwritten: unclean, with the server code and reason (as Chrome)', async () => {
    const { wss, readable, writable, peer } = await connect();
    // ws stops reading: our write cannot be handed to the operating system completely.
    const { writer, pending } = await backedUpWrite(peer, writable);
    peer.ws.close(4000, 'bye');
    // The server's Close arrived (the readable ends), our echo is queued behind the data.
    assert.deepEqual(await within(readable.getReader().read(), 5000, 'read'), {
      done: true,
      value: undefined,
    });
    assert.equal(
      await Promise.race([pending, Promise.resolve('pending')]),
      'pending',
      'nothing is decided while the write may still be taken',
    );
    peer.ws.terminate();
    const closedError = await rejection(wss.closed);
    assert.ok(closedError instanceof WebSocketError, 'closed rejects with a WebSocketError');
    assert.equal(closedError.closeCode, 4000, "the peer's code");
    assert.equal(closedError.reason, 'bye', "the peer's reason");
    const write = await pending;
    assert.equal(write.ok, false, 'the pending write rejects');
    const writeError = (write as { error: unknown }).error;
    assertDomException(writeError, 'InvalidStateError');
    assertSame(
      await rejection(writer.write('later')),
      writeError,
      'a later write rejects with the same error object',
    );
  });

  void it('the server closes and never reads our 20 MiB write: at closeTimeout the write is cut short, and the close is unclean', async () => {
    const wss = new WebSocketStream(server.url, { closeTimeout: 300 });
    const [{ writable }, peer] = await Promise.all([
      within(wss.opened, 5000, 'opened'),
      server.next(),
    ]);
    const serverSocket = (peer.ws as unknown as { _socket: Socket })._socket;
    serverSocket.pause();
    const writer = writable.getWriter();
    // Two small writes start a batch, so the large one's callback rides on its
    // own bytes (not on an empty write queued behind them).
    void writer.write('a');
    void writer.write('b');
    const pending = outcome(writer.write(new Uint8Array(20 * 1024 * 1024)), 10_000);
    await waitUntil(() => lastTransport().bufferedAmount > 0, 5000, 'the write is backed up');
    peer.ws.close(4000, 'bye');
    // node:net calls back the write that destroy() cut short without an error:
    // that must not count as written.
    const closedError = await rejection(wss.closed);
    assert.ok(closedError instanceof WebSocketError, String(closedError));
    assert.equal(closedError.closeCode, 4000);
    assert.match(closedError.message, /still being sent/);
    const write = await pending;
    assert.equal(write.ok, false, 'the write that never left rejects');
    assertDomException((write as { error: unknown }).error, 'InvalidStateError');
    peer.ws.terminate();
  });

  void it('writable.abort() while our 20 MiB write is unwritten settles at once: the write rejects with the reason, and the Close goes out after the data', async () => {
    const { wss, writable, peer } = await connect();
    const { serverSocket, writer, pending } = await backedUpWrite(peer, writable);
    let received = 0;
    peer.ws.on('message', (data: Buffer) => (received += data.length));
    const reason = new WebSocketError('giving up', { closeCode: 4001, reason: 'slow' });
    // The writable calls its sink's abort() only after the write in flight
    // settled: a peer that never reads must not hold abort() for ever.
    await within(writer.abort(reason), 1000, 'abort()');
    const write = await pending;
    assert.equal(write.ok, false, 'the write in flight rejects');
    assertSame((write as { error: unknown }).error, reason, 'with the abort reason');
    const seen = serverClose(peer);
    serverSocket.resume();
    assert.deepEqual(await within(wss.closed, 10_000, 'closed'), {
      closeCode: 4001,
      reason: 'slow',
    });
    assert.equal(
      received,
      20 * 1024 * 1024,
      'the frames handed over before the abort still went out whole',
    );
    assert.deepEqual(await seen, { code: 4001, reason: 'slow' });
  });

  void it('writable.abort() while a peer that never reads holds our write: the close timeout ends the connection', async () => {
    const wss = new WebSocketStream(server.url, { closeTimeout: 300 });
    const [{ writable }, peer] = await Promise.all([
      within(wss.opened, 5000, 'opened'),
      server.next(),
    ]);
    const { writer, pending } = await backedUpWrite(peer, writable);
    await within(writer.abort('no code'), 1000, 'abort()');
    assert.equal((await pending).ok, false, 'the write in flight rejects');
    const closedError = await within(rejection(wss.closed), 5000, 'closed');
    assert.ok(closedError instanceof WebSocketError, String(closedError));
    assert.equal(closedError.closeCode, 1006);
    assert.match(closedError.message, /300 ms/);
    peer.ws.terminate();
  });

  void it('the server closes while our 20 MiB write is unwritten, then reads it: the data goes out before our Close, and the close is clean', async () => {
    const { wss, writable, peer } = await connect();
    const { serverSocket, pending } = await backedUpWrite(peer, writable);
    let received = 0;
    peer.ws.on('message', (data: Buffer) => (received += data.length));
    const seen = serverClose(peer);
    peer.ws.close(4000, 'bye');
    serverSocket.resume();
    assert.deepEqual(await within(wss.closed, 10_000, 'closed'), {
      closeCode: 4000,
      reason: 'bye',
    });
    assert.equal((await pending).ok, true, 'the write completed');
    assert.equal(received, 20 * 1024 * 1024, 'the server got the whole message before our Close');
    assert.deepEqual(await seen, { code: 4000, reason: 'bye' });
  });

  void it('writes after close() reject with InvalidStateError and never hang', async () => {
    const { wss, writable } = await connect();
    const writer = writable.getWriter();
    wss.close();
    assertDomException(await rejection(writer.write('during'), 2000), 'InvalidStateError');
    await within(wss.closed, 5000, 'closed');
    assertDomException(await rejection(writer.write('after'), 2000), 'InvalidStateError');
  });

  void it('writes after the closed promise resolved reject with InvalidStateError', async () => {
    const { wss, writable, peer } = await connect();
    peer.ws.close(1000);
    await within(wss.closed, 5000, 'closed');
    const writer = writable.getWriter();
    assertDomException(await rejection(writer.write('after'), 2000), 'InvalidStateError');
    // WHATWG streams: close() on an errored stream rejects with TypeError.
    assert.ok((await rejection(writer.close(), 2000)) instanceof TypeError);
  });
});

void describe('unclean closes with a misbehaving raw server', { timeout: 30_000 }, () => {
  let server: RawFixture;
  let behaviour: (socket: Socket) => Promise<void>;
  before(async () => {
    server = await startRawServer((socket) => {
      void behaviour(socket);
    });
  });
  after(async () => {
    await server.close();
  });

  void it('the server drops TCP in the middle of a frame: one WebSocketError 1006 everywhere', async () => {
    behaviour = async (socket) => {
      await acceptHandshake(socket);
      // A 1000-byte binary frame, of which only 10 bytes arrive.
      socket.write(serverFrame(2, new Uint8Array(1000)).subarray(0, 14));
      socket.destroy();
    };
    const wss = new WebSocketStream(server.url);
    const { readable, writable } = await within(wss.opened, 5000, 'opened');
    const reader = readable.getReader();
    const writer = writable.getWriter();
    const error = await rejection(wss.closed);
    assert.ok(error instanceof WebSocketError, String(error));
    assert.equal(error.constructor, WebSocketError);
    assert.equal(error.closeCode, 1006);
    assertSame(await rejection(reader.read()), error, 'reader.read() rejects with the same error');
    assertSame(await rejection(writer.closed), error, 'writer.closed rejects with the same error');
  });

  void it('the server resets while we do not read: a write the kernel refuses at once rejects, it is not reported written', async () => {
    behaviour = async (socket) => {
      await acceptHandshake(socket);
      socket.pause();
      // Unread data in our receive buffer: closing makes the kernel send an RST.
      const frame = serverFrame(2, new Uint8Array(65535));
      for (let i = 0; i < 64; i++) socket.write(frame);
      setTimeout(() => socket.destroy(), 50);
    };
    const wss = new WebSocketStream(server.url);
    const { writable } = await within(wss.opened, 5000, 'opened');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const writer = writable.getWriter();
    // The first write draws the RST; the second is refused by the kernel at once.
    await writer.write('a').catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 200));
    const second = await writer.write('b').then(
      () => 'fulfilled',
      (error: unknown) => error,
    );
    assert.ok(second instanceof WebSocketError, `the refused write rejects: ${String(second)}`);
    assert.equal(second.closeCode, 1006);
    assertSame(await rejection(wss.closed), second, 'closed rejects with the same error');
  });

  void it('the server sends FIN in the middle of a frame: 1006', async () => {
    behaviour = async (socket) => {
      await acceptHandshake(socket);
      socket.end(serverFrame(1, Buffer.from('hello')).subarray(0, 4));
    };
    const wss = new WebSocketStream(server.url);
    await within(wss.opened, 5000, 'opened');
    const error = await rejection(wss.closed);
    assert.ok(error instanceof WebSocketError);
    assert.equal(error.closeCode, 1006);
  });

  void it('a server that never answers our Close: closeTimeout ends it with 1006', async () => {
    let serverSawClose = false;
    let serverSocketClosed = false;
    behaviour = async (socket) => {
      const { rest } = await acceptHandshake(socket);
      socket.on('close', () => (serverSocketClosed = true));
      readClientFrames(
        socket,
        (frame) => {
          if (frame.opcode === 8) serverSawClose = true;
        },
        rest,
      );
    };
    const wss = new WebSocketStream(server.url, { closeTimeout: 300 });
    const { readable, writable } = await within(wss.opened, 5000, 'opened');
    const reader = readable.getReader();
    const writer = writable.getWriter();
    const read = reader.read();
    wss.close({ closeCode: 4000 });
    const error = await rejection(wss.closed, 5000);
    assert.ok(error instanceof WebSocketError);
    assert.equal(error.closeCode, 1006);
    assert.match(error.message, /300 ms/);
    assert.ok(serverSawClose, 'our Close frame was sent');
    assertSame(await rejection(read), error, 'read rejects with the same error');
    assertSame(await rejection(writer.closed), error, 'writer.closed rejects with the same error');
    await waitUntil(() => serverSocketClosed, 5000, 'TCP connection closed');
  });

  void it('writable.close() waits for the peer: it settles only when the closing handshake is done', async () => {
    let serverSocket: Socket | undefined;
    let receivedClose: Buffer | undefined;
    behaviour = async (socket) => {
      const { rest } = await acceptHandshake(socket);
      serverSocket = socket;
      readClientFrames(
        socket,
        (frame) => {
          if (frame.opcode === 8) receivedClose = frame.payload;
        },
        rest,
      );
    };
    const wss = new WebSocketStream(server.url, { closeTimeout: 5000 });
    const { writable } = await within(wss.opened, 5000, 'opened');
    let settled = false;
    const closing = writable
      .getWriter()
      .close()
      .finally(() => (settled = true));
    await waitUntil(() => receivedClose !== undefined, 5000, 'server got our Close');
    assert.equal(receivedClose!.length, 0, 'writable.close() sends no code');
    // Our Close crossed the network; the peer has not answered: still pending.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'writable.close() settled before the peer answered');
    serverSocket!.end(serverFrame(8, closePayload(4321, 'later')));
    await within(closing, 5000, 'writable.close()');
    assert.deepEqual(await within(wss.closed, 5000, 'closed'), {
      closeCode: 4321,
      reason: 'later',
    });
  });

  for (const [name, frame, code, options] of [
    ['a text message that is not UTF-8', serverFrame(1, Buffer.from([0x68, 0xff])), 1007, {}],
    ['a masked frame', Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x68 ^ 1, 0x69 ^ 2]), 1002, {}],
    [
      'a message over maxMessageSize',
      serverFrame(2, new Uint8Array(2000)),
      1009,
      { maxMessageSize: 1000 },
    ],
  ] as const) {
    void it(`the server sends ${name}: the client fails the connection with ${code}`, async () => {
      let closeFrame: Buffer | undefined;
      behaviour = async (socket) => {
        const { rest } = await acceptHandshake(socket);
        readClientFrames(
          socket,
          (f) => {
            if (f.opcode === 8) {
              closeFrame = f.payload;
              socket.end(serverFrame(8, closePayload(1000)));
            }
          },
          rest,
        );
        socket.write(frame);
      };
      const wss = new WebSocketStream(server.url, options);
      const { readable, writable } = await within(wss.opened, 5000, 'opened');
      const error = await rejection(wss.closed);
      assert.ok(error instanceof WebSocketError, String(error));
      assert.equal(error.closeCode, code);
      assertSame(
        await rejection(readable.getReader().read()),
        error,
        'the readable errors with it',
      );
      assertSame(
        await rejection(writable.getWriter().closed),
        error,
        'the writable errors with it',
      );
      await waitUntil(() => closeFrame !== undefined, 5000, 'the server got our Close');
      assert.equal(closeFrame!.readUInt16BE(0), code);
    });
  }

  void it('pending writes reject with the same error when the connection drops', async () => {
    behaviour = async (socket) => {
      await acceptHandshake(socket);
      socket.pause(); // never reads: the client's writes back up
    };
    const wss = new WebSocketStream(server.url);
    const { writable } = await within(wss.opened, 5000, 'opened');
    const writer = writable.getWriter();
    const chunk = new Uint8Array(4 * 1024 * 1024);
    const writes: Array<Promise<unknown>> = [];
    for (let i = 0; i < 8; i++) writes.push(outcome(writer.write(chunk), 10000));
    await waitUntil(() => server.sockets.length > 0 && server.connections > 0);
    server.sockets[server.sockets.length - 1]!.destroy();
    const error = await rejection(wss.closed);
    assert.ok(error instanceof WebSocketError);
    assert.equal(error.closeCode, 1006);
    const results = (await Promise.all(writes)) as Array<{ ok: boolean; error?: unknown }>;
    const failed = results.filter((r) => !r.ok);
    assert.ok(failed.length > 0, 'some writes were pending');
    for (const r of failed) assertSame(r.error, error, 'pending write rejects with the same error');
  });
});

void describe('input strictly in order: messages before a violation', { timeout: 30_000 }, () => {
  void it('3 messages and a reserved opcode in one write: our echo client answers all 3, then Close 1002', async () => {
    const got: { opcode: number; payload: Buffer }[] = [];
    const server = await startRawServer((socket) => {
      void (async () => {
        const { rest } = await acceptHandshake(socket);
        readClientFrames(
          socket,
          (f) => {
            got.push(f);
            if (f.opcode === 8) socket.end();
          },
          rest,
        );
        socket.write(
          Buffer.concat([
            serverFrame(1, Buffer.from('one')),
            serverFrame(1, Buffer.from('two')),
            serverFrame(1, Buffer.from('three')),
            serverFrame(3),
          ]),
        );
      })();
    });
    try {
      const wss = new WebSocketStream(server.url);
      const { readable, writable } = await within(wss.opened, 5000, 'opened');
      await readable.pipeTo(writable).catch(() => {});
      const error = await rejection(wss.closed);
      assert.ok(error instanceof WebSocketError, String(error));
      assert.equal(error.closeCode, 1002);
      await waitUntil(() => got.some((f) => f.opcode === 8), 5000, 'the server got our Close');
      assert.deepEqual(
        got.map((f) =>
          f.opcode === 8 ? `close ${f.payload.readUInt16BE(0)}` : f.payload.toString(),
        ),
        ['one', 'two', 'three', 'close 1002'],
      );
    } finally {
      await server.close();
    }
  });
});
