/**
 * The session's parts on a fake transport: close and backpressure orderings,
 * step by step, without sockets or timing.
 */
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { WebSocketError } from '../../src/streams/websocket-error.js';
import { BINARY, CLOSE, openSession, PING, settle, TEXT, track } from './helpers.js';

function assertDomException(error: unknown, name: string): void {
  assert.ok(error instanceof DOMException, `a DOMException, got ${String(error)}`);
  assert.equal(error.name, name);
}

// ---- receive demand and pausing ----------------------------------------------

test('receive: reading resumes on demand and pauses when the readable is full', async () => {
  const { transport, session, text } = openSession();
  assert.equal(transport.paused, true, 'a session starts paused: nothing is read before a read()');
  const reader = session.readable.getReader();
  const first = reader.read();
  await settle();
  assert.equal(transport.paused, false, 'a read() resumes the transport');
  transport.receive(text('a'));
  assert.deepEqual(await first, { done: false, value: 'a' });
  // No read() pending, highWaterMark 1: one message is queued, the next ones wait and reading pauses.
  transport.receive(text('b'), text('c'), text('d'));
  await settle();
  assert.equal(transport.paused, true);
  assert.equal(session.receiver.messagesWaiting, 2, 'two messages wait in the inbox');
  assert.deepEqual(await reader.read(), { done: false, value: 'b' });
  assert.deepEqual(await reader.read(), { done: false, value: 'c' });
  assert.deepEqual(await reader.read(), { done: false, value: 'd' });
  const next = reader.read();
  await settle();
  assert.equal(transport.paused, false, 'the inbox is empty: reading resumes');
  transport.receive(text('e'));
  assert.deepEqual(await next, { done: false, value: 'e' });
  assert.equal(session.receiver.messagesDelivered, 5);
});

test('receive: a reader that empties the queue in the same turn costs no pause', async () => {
  const { transport, session, text } = openSession();
  const reader = session.readable.getReader();
  const got: string[] = [];
  const loop = (async () => {
    for (let i = 0; i < 3; i++) got.push((await reader.read()).value as string);
  })();
  await settle();
  const pausesBefore = transport.pauses;
  transport.receive(text('1'));
  transport.receive(text('2'));
  transport.receive(text('3'));
  await loop;
  assert.deepEqual(got, ['1', '2', '3']);
  assert.ok(
    transport.pauses - pausesBefore <= 1,
    `paused ${transport.pauses - pausesBefore} times`,
  );
});

test('close while paused with unread data: reads on to the peer Close, unread messages stay readable', async () => {
  const { transport, session, text, close, closesSent } = openSession();
  const reader = session.readable.getReader();
  const first = reader.read();
  await settle();
  transport.receive(text('one'), text('two'), text('three'));
  assert.deepEqual(await first, { done: false, value: 'one' });
  await settle();
  assert.equal(transport.paused, true, 'no demand: paused with messages waiting');
  const closed = track(session.closed);
  session.close(1000, 'done');
  assert.deepEqual(closesSent(), [{ code: 1000, reason: 'done' }]);
  assert.equal(
    transport.paused,
    false,
    'closing reads on regardless of demand, to find the peer Close',
  );
  transport.receive(text('four'), close(1000, 'ok'));
  await settle();
  assert.equal(closed.state, 'pending', 'the TCP connection has not closed yet');
  transport.close();
  await settle();
  assert.deepEqual(closed.value, { closeCode: 1000, reason: 'ok' });
  const rest: unknown[] = [];
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    rest.push(r.value);
  }
  assert.deepEqual(
    rest,
    ['two', 'three', 'four'],
    'nothing the peer sent before its Close is lost',
  );
});

test('close while paused: what the readable did not ask for is held up to 1 MiB, the rest discarded', async () => {
  const { transport, session, binary, close } = openSession();
  session.close();
  const chunk = new Uint8Array(256 * 1024);
  // 6 messages of 256 KiB: the first goes to the readable's queue (it asked for one), 4 more are held (1 MiB).
  for (let i = 0; i < 6; i++) transport.receive(binary(chunk));
  transport.receive(close(1000));
  transport.close();
  await session.closed;
  const reader = session.readable.getReader();
  let n = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    n++;
  }
  assert.equal(n, 5);
});

// ---- writes --------------------------------------------------------------------

test('write: settles only once the transport handed the frame to the operating system', async () => {
  const { transport, session, sent } = openSession();
  transport.mode = 'manual';
  const writer = session.writable.getWriter();
  const w = track(writer.write('hello'));
  await settle();
  assert.equal(w.state, 'pending');
  assert.equal(session.sender.unwritten, true);
  transport.complete();
  await settle();
  assert.equal(w.state, 'fulfilled');
  assert.equal(session.sender.unwritten, false);
  assert.deepEqual(
    sent().map((f) => f.opcode),
    [TEXT],
  );
  assert.equal(session.sender.messagesSent, 1);
});

test('batch: a batched write resolves at once, and counts as unwritten until the batch was taken', async () => {
  const { transport, session, sent } = openSession('client', { batchWrites: true });
  transport.mode = 'manual';
  transport.acceptBatches = true;
  const writer = session.writable.getWriter();
  await writer.write(new Uint8Array([1]));
  await writer.write(new Uint8Array([2]));
  assert.equal(transport.pending.length, 2, 'both frames are in the batch, none taken yet');
  assert.equal(session.sender.unwritten, true);
  transport.complete();
  assert.equal(session.sender.unwritten, false);
  assert.deepEqual(
    sent().map((f) => [f.opcode, f.payload[0]]),
    [
      [BINARY, 1],
      [BINARY, 2],
    ],
  );
});

test('write lost: the pending write, the streams and closed share one WebSocketError (1006)', async () => {
  const { transport, session } = openSession();
  transport.mode = 'manual';
  const writer = session.writable.getWriter();
  const w = track(writer.write('x'));
  const closed = track(session.closed);
  await settle();
  assert.equal(transport.pending.length, 1);
  transport.failPending(new Error('ECONNRESET'));
  await settle();
  assert.equal(w.state, 'rejected');
  assert.ok(w.error instanceof WebSocketError);
  assert.equal(w.error.closeCode, 1006);
  assert.equal(closed.error, w.error);
  await assert.rejects(session.readable.getReader().read(), (e) => e === w.error);
});

test('pong accounting: pings whose pongs pile up unwritten fail the connection with 1008', async () => {
  const { transport, session, ping, closesSent } = openSession('server', { maxPendingPongs: 2 });
  transport.mode = 'manual';
  const closed = track(session.closed);
  transport.receive(ping(), ping());
  await settle();
  assert.equal(session.sender.pongsPending, 2);
  assert.equal(closed.state, 'pending');
  transport.receive(ping());
  await settle();
  assert.equal(closed.state, 'rejected');
  assert.equal((closed.error as WebSocketError).closeCode, 1008);
  assert.equal(transport.ended, true, 'the server closes the TCP connection after failing');
  transport.complete();
  assert.deepEqual(closesSent(), [{ code: 1008, reason: '' }]);
});

test('pong accounting: pongs the peer reads free their place', async () => {
  const { transport, session, ping } = openSession('server', { maxPendingPongs: 1 });
  transport.mode = 'manual';
  for (let i = 0; i < 5; i++) {
    transport.receive(ping());
    assert.equal(session.sender.pongsPending, 1);
    transport.complete();
    assert.equal(session.sender.pongsPending, 0);
  }
  const closed = track(session.closed);
  await settle();
  assert.equal(closed.state, 'pending');
  assert.equal(
    transport.frames('server').filter((f) => f.opcode === 0xa).length,
    5,
    'five pongs were sent',
  );
  void PING;
});

// ---- the close outcome ------------------------------------------------------------

test('clean close: closed fulfils with the peer code, the writable errors with InvalidStateError', async () => {
  const { transport, session, close, closesSent } = openSession('server');
  const closed = track(session.closed);
  transport.receive(close(4000, 'bye'));
  await settle();
  assert.deepEqual(
    closesSent(),
    [{ code: 4000, reason: 'bye' }],
    'the code and the reason are echoed',
  );
  assert.equal(transport.ended, true, 'RFC 6455 7.1.1: the server closes the TCP connection first');
  transport.close();
  await settle();
  assert.deepEqual(closed.value, { closeCode: 4000, reason: 'bye' });
  await assert.rejects(
    session.writable.getWriter().write('late'),
    (e: unknown) => e instanceof DOMException && e.name === 'InvalidStateError',
  );
  assert.deepEqual(await session.readable.getReader().read(), { done: true, value: undefined });
});

test('peer Close while a write is pending: the write goes out before our Close, and once written the close is clean', async () => {
  // Over TLS, or on Deno, a write's callback may come well after the peer's
  // Close: the bytes are ahead of our Close all the same.
  const { transport, session, text, close, sent } = openSession('server');
  transport.mode = 'manual';
  const reader = session.readable.getReader();
  transport.receive(text('before'));
  const writer = session.writable.getWriter();
  const w = track(writer.write(new Uint8Array(1024)));
  const closed = track(session.closed);
  await settle();
  assert.equal(transport.pending.length, 1, 'the write waits for the kernel');
  transport.receive(close(4001, 'going'));
  await settle();
  assert.equal(closed.state, 'pending', 'nothing is decided while the write may still complete');
  assert.equal(w.state, 'pending');
  const later = track(writer.write('later'));
  transport.complete();
  await settle();
  assert.equal(w.state, 'fulfilled', 'the pending write was handed to the operating system');
  assertDomException(later.error, 'InvalidStateError');
  assert.deepEqual(
    sent().map((f) => f.opcode),
    [BINARY, CLOSE],
    'the data, then the echo of the Close',
  );
  transport.close();
  await settle();
  assert.deepEqual(closed.value, { closeCode: 4001, reason: 'going' });
  assert.deepEqual(await reader.read(), { done: false, value: 'before' });
  assert.deepEqual(await reader.read(), { done: true, value: undefined });
});

test('peer Close while a write is pending, and the connection ends before it was written: unclean with the peer code and reason, the write fails with InvalidStateError', async () => {
  const { transport, session, text, close, closesSent } = openSession('server');
  transport.mode = 'manual';
  const reader = session.readable.getReader();
  transport.receive(text('before'));
  const writer = session.writable.getWriter();
  const w = track(writer.write(new Uint8Array(1024)));
  const closed = track(session.closed);
  await settle();
  transport.receive(close(4001, 'going'));
  await settle();
  assert.equal(closed.state, 'pending');
  // The peer drops the connection without reading on.
  transport.close();
  await settle();
  assert.equal(closed.state, 'rejected');
  const error = closed.error as WebSocketError;
  assert.ok(error instanceof WebSocketError);
  assert.equal(error.closeCode, 4001);
  assert.equal(error.reason, 'going');
  assert.match(error.message, /still being sent/);
  assert.equal(w.state, 'rejected');
  assertDomException(w.error, 'InvalidStateError');
  await assert.rejects(writer.write('later'), (e) => e === w.error, 'later writes: the same error');
  // The Close echo was queued behind the data; the message before the Close stays readable.
  transport.complete();
  assert.deepEqual(closesSent(), [{ code: 4001, reason: 'going' }]);
  assert.deepEqual(await reader.read(), { done: false, value: 'before' });
  assert.deepEqual(await reader.read(), { done: true, value: undefined });
});

test('peer Close while a write is pending, and the write fails: unclean with the peer code and reason', async () => {
  const { transport, session, close } = openSession('client');
  transport.mode = 'manual';
  const writer = session.writable.getWriter();
  const w = track(writer.write('x'));
  const closed = track(session.closed);
  await settle();
  transport.receive(close(4002, 'reset'));
  await settle();
  transport.failPending(new Error('ECONNRESET'));
  await settle();
  assert.equal(closed.state, 'rejected');
  assert.equal((closed.error as WebSocketError).closeCode, 4002);
  assert.equal((closed.error as WebSocketError).reason, 'reset');
  assertDomException(w.error, 'InvalidStateError');
  transport.close(new Error('ECONNRESET'));
});

test('peer Close after every write was handed over: clean', async () => {
  const { transport, session, close } = openSession('server');
  transport.mode = 'manual';
  const writer = session.writable.getWriter();
  const w = writer.write('x');
  await settle();
  transport.complete();
  await w;
  transport.receive(close(1000));
  transport.close();
  assert.deepEqual(await session.closed, { closeCode: 1000, reason: '' });
});

test('peer Close while a batch is still waiting for the kernel: clean once the batch was taken, unclean if the connection ends first', async () => {
  for (const taken of [true, false]) {
    const { transport, session, close, sent } = openSession('client', { batchWrites: true });
    transport.mode = 'manual';
    transport.acceptBatches = true;
    await session.writable.getWriter().write('batched');
    transport.receive(close(1001, 'away'));
    await settle();
    if (taken) transport.complete();
    transport.close();
    const result = await session.closed.then(
      (info) => info,
      (e: unknown) => e as WebSocketError,
    );
    if (taken) {
      assert.deepEqual(result, { closeCode: 1001, reason: 'away' });
      assert.deepEqual(
        sent().map((f) => f.opcode),
        [TEXT, CLOSE],
      );
    } else {
      assert.ok(result instanceof WebSocketError);
      assert.equal(result.closeCode, 1001);
      assert.equal(result.reason, 'away');
    }
  }
});

test('unclean close: a TCP close without a closing handshake rejects closed with 1006', async () => {
  const { transport, session } = openSession();
  const closed = track(session.closed);
  transport.close(new Error('ECONNRESET'));
  await settle();
  assert.ok(closed.error instanceof WebSocketError);
  assert.equal(closed.error.closeCode, 1006);
  assert.match(closed.error.message, /ECONNRESET/);
});

test('closeTimeout: a peer that never answers our Close is dropped, the outcome is 1006', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { transport, session } = openSession('client', { closeTimeout: 500 });
  const closed = track(session.closed);
  session.close(1000);
  t.mock.timers.tick(499);
  await settle();
  assert.equal(closed.state, 'pending');
  assert.equal(transport.destroyed, false);
  t.mock.timers.tick(1);
  await settle();
  assert.equal(transport.destroyed, true);
  assert.equal((closed.error as WebSocketError).closeCode, 1006);
  assert.match((closed.error as WebSocketError).message, /within 500 ms/);
});

test('closeTimeout: a completed handshake stops the timer', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { transport, session, close } = openSession('client', { closeTimeout: 500 });
  session.close();
  transport.receive(close(1000));
  transport.close();
  await settle();
  t.mock.timers.tick(1000);
  assert.deepEqual(await session.closed, { closeCode: 1000, reason: '' });
  assert.equal(transport.destroyed, false);
});

// ---- keepalive ------------------------------------------------------------------------

test('keepalive: a Ping after the interval, and a peer silent for the timeout is dropped with 1006', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { transport, session, sent } = openSession('client', {
    pingInterval: 100,
    pingTimeout: 50,
  });
  transport.resume(); // reading flows: silence is evidence
  const closed = track(session.closed);
  await settle(); // the readable's first pull: reading runs from the start
  t.mock.timers.tick(100);
  assert.deepEqual(
    sent().map((f) => f.opcode),
    [PING],
  );
  t.mock.timers.tick(49);
  await settle();
  assert.equal(closed.state, 'pending');
  t.mock.timers.tick(1);
  await settle();
  assert.equal(transport.destroyed, true);
  assert.equal((closed.error as WebSocketError).closeCode, 1006);
  assert.match((closed.error as WebSocketError).message, /within 50 ms of a ping/);
});

test('keepalive: any byte from the peer counts as liveness', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { transport, session, text } = openSession('client', {
    pingInterval: 100,
    pingTimeout: 50,
  });
  const reader = session.readable.getReader();
  const closed = track(session.closed);
  for (let i = 0; i < 5; i++) {
    t.mock.timers.tick(100);
    const read = reader.read();
    await settle();
    transport.receive(text(`alive ${i}`));
    await read;
    t.mock.timers.tick(50);
  }
  await settle();
  assert.equal(closed.state, 'pending');
  assert.equal(transport.destroyed, false);
  mock.timers.reset();
});

test('keepalive: silence while reading is paused by backpressure is no evidence', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { transport, session } = openSession('client', { pingInterval: 100, pingTimeout: 50 });
  assert.equal(session.receiver.paused, true);
  const closed = track(session.closed);
  t.mock.timers.tick(100);
  t.mock.timers.tick(50);
  t.mock.timers.tick(100);
  t.mock.timers.tick(50);
  await settle();
  assert.equal(closed.state, 'pending');
  assert.equal(transport.destroyed, false);
});

test('keepalive: while reading is paused the Ping stays outstanding: no second Ping whose Pong could only pile up at the peer', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { transport, session, sent } = openSession('client', {
    pingInterval: 100,
    pingTimeout: 50,
  });
  assert.equal(session.receiver.paused, true);
  const closed = track(session.closed);
  for (let i = 0; i < 10; i++) t.mock.timers.tick(50);
  await settle();
  assert.deepEqual(
    sent().map((f) => f.opcode),
    [PING],
  );
  assert.equal(closed.state, 'pending');
  assert.equal(transport.destroyed, false);
});

test('keepalive: reading resumed during the wait gives the peer a whole timeout with reading running', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { transport, session } = openSession('client', { pingInterval: 100, pingTimeout: 50 });
  assert.equal(session.receiver.paused, true);
  const closed = track(session.closed);
  t.mock.timers.tick(100); // the Ping, sent while paused
  t.mock.timers.tick(49);
  session.readable
    .getReader()
    .read()
    .catch(() => {}); // reading resumes just before the check
  await settle();
  t.mock.timers.tick(1);
  await settle();
  assert.equal(closed.state, 'pending', 'bytes the kernel held could not be read yet');
  t.mock.timers.tick(50);
  await settle();
  assert.equal(transport.destroyed, true);
  assert.equal((closed.error as WebSocketError).closeCode, 1006);
});

test('closing: a reader that keeps reading gets an unbroken run of what the peer sent, cut at the hold bound', async () => {
  const { transport, session, binary } = openSession('client');
  const reader = session.readable.getReader();
  const SIZE = 16 * 1024;
  const message = (i: number): Uint8Array => {
    const m = new Uint8Array(SIZE);
    new DataView(m.buffer).setUint32(0, i);
    return m;
  };
  const got: number[] = [];
  const readOne = async (): Promise<void> => {
    const r = await reader.read();
    if (!r.done) got.push(new DataView((r.value as Uint8Array).buffer).getUint32(0));
  };
  await settle();
  session.close(1000);
  // The peer had 400 messages (6.25 MiB) on the way; the reader takes one
  // for every five that arrive, sometimes when the inbox is empty.
  for (let i = 0; i < 400; i++) {
    transport.receive(binary(message(i)));
    if (i % 5 === 4) await readOne();
  }
  for (;;) {
    const r = await Promise.race([reader.read(), settle().then(() => null)]);
    if (r === null || r.done) break;
    got.push(new DataView((r.value as Uint8Array).buffer).getUint32(0));
  }
  assert.ok(got.length > 64, `${got.length} messages read`);
  assert.ok(got.length < 400, 'the rest was discarded at the bound');
  assert.deepEqual(
    got,
    got.map((_, i) => i),
    'no message missing in the middle',
  );
});
