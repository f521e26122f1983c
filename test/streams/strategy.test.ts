/**
 * Users' queuing strategies never crash or hang a connection (a size() that
 * throws or returns what the streams refuse fails that connection with 1011),
 * and MessageSizeQueuingStrategy counts messages by their bytes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MessageSizeQueuingStrategy,
  messageSize,
} from '../../src/streams/message-size-strategy.js';
import { WebSocketError } from '../../src/streams/websocket-error.js';
import { openSession, settle, track } from './helpers.js';

test('messageSize: UTF-8 bytes of text, byte length of binary', () => {
  assert.equal(messageSize('abc'), 3);
  assert.equal(messageSize('é'), 2);
  assert.equal(messageSize('€'), 3);
  assert.equal(messageSize('😀'), 4);
  assert.equal(messageSize(new Uint8Array(7)), 7);
  assert.equal(messageSize(new ArrayBuffer(5)), 5);
  assert.equal(messageSize(new DataView(new ArrayBuffer(9), 1, 4)), 4);
  assert.equal(messageSize(1234), 4, 'a number is sent as its text');
  const strategy = new MessageSizeQueuingStrategy({ highWaterMark: 1 << 20 });
  assert.equal(strategy.highWaterMark, 1 << 20);
  const size = strategy.size;
  assert.equal(size('ééé'), 6, 'size works detached, as the streams call it');
  assert.throws(() => new MessageSizeQueuingStrategy({} as never), TypeError);
  assert.equal(Object.prototype.toString.call(strategy), '[object MessageSizeQueuingStrategy]');
});

test('ByteLengthQueuingStrategy and a text message after a binary one: 1011, no throw out of the data callback', async () => {
  const { transport, session, binary, text, closesSent } = openSession('client', {
    // What a JavaScript user writes (TypeScript refuses it: text has no byteLength).
    readableStrategy: new ByteLengthQueuingStrategy({ highWaterMark: 1 << 20 }) as never,
  });
  const closed = track(session.closed);
  await settle();
  assert.equal(transport.paused, false, 'a high-water mark above 1 reads ahead at once');
  // Neither call may throw: they are the socket's data callback.
  transport.receive(binary(new Uint8Array(10)));
  transport.receive(text('a string has no byteLength'));
  await settle();
  assert.equal(closed.state, 'rejected');
  const error = closed.error as WebSocketError;
  assert.ok(error instanceof WebSocketError);
  assert.equal(error.closeCode, 1011);
  assert.match(error.message, /readableStrategy\.size\(\) returned undefined for a text message/);
  assert.deepEqual(closesSent(), [{ code: 1011, reason: '' }]);
  // Unclean: the readable errors with the same error (its queue is dropped, as for any unclean close).
  await assert.rejects(session.readable.getReader().read(), (e) => e === error);
  await assert.rejects(session.writable.getWriter().write('x'), (e) => e === error);
});

test('ByteLengthQueuingStrategy and a text message first: the connection fails instead of hanging', async () => {
  const { transport, session, text } = openSession('client', {
    // What a JavaScript user writes (TypeScript refuses it: text has no byteLength).
    readableStrategy: new ByteLengthQueuingStrategy({ highWaterMark: 1 << 20 }) as never,
  });
  await settle();
  transport.receive(text('first'));
  await settle();
  const error = await session.closed.then(
    () => null,
    (e: unknown) => e as WebSocketError,
  );
  assert.equal(error?.closeCode, 1011);
  await assert.rejects(session.readable.getReader().read(), (e) => e === error);
});

test('a size() that throws fails the connection with 1011, the thrown error as cause', async () => {
  const boom = new Error('boom');
  const { transport, session, text } = openSession('server', {
    readableStrategy: {
      highWaterMark: 4,
      size: () => {
        throw boom;
      },
    },
  });
  await settle();
  transport.receive(text('a'), text('b'));
  const error = await session.closed.then(
    () => null,
    (e: unknown) => e as WebSocketError,
  );
  assert.equal(error?.closeCode, 1011);
  assert.equal(error?.cause, boom);
  assert.equal(transport.ended, true);
});

test('a peer Close in the same read as the message whose size() throws: the readable still settles', async () => {
  const { transport, session, binary, text, close } = openSession('client', {
    // What a JavaScript user writes (TypeScript refuses it: text has no byteLength).
    readableStrategy: new ByteLengthQueuingStrategy({ highWaterMark: 1 << 20 }) as never,
  });
  await settle();
  transport.receive(binary(new Uint8Array(1)), text('x'), close(1000));
  await settle();
  await assert.rejects(session.readable.getReader().read(), WebSocketError);
  transport.close();
  await assert.rejects(session.closed, (e) => e instanceof WebSocketError && e.closeCode === 1011);
});

test("a writable strategy's size() that throws: the write rejects with a 1011 WebSocketError", async () => {
  const { session, closesSent } = openSession('client', {
    writableStrategy: {
      highWaterMark: 1,
      size: () => {
        throw new Error('bad size');
      },
    },
  });
  const writer = session.writable.getWriter();
  const error = await writer.write('x').then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(error instanceof WebSocketError, `got ${String(error)}`);
  assert.equal(error.closeCode, 1011);
  await assert.rejects(session.closed, (e) => e === error);
  assert.deepEqual(closesSent(), [{ code: 1011, reason: '' }]);
});

test('an invalid highWaterMark is refused when the session is made', () => {
  assert.throws(
    () => openSession('client', { readableStrategy: { highWaterMark: -1 } }),
    RangeError,
  );
  assert.throws(
    () => openSession('client', { readableStrategy: { highWaterMark: NaN } }),
    RangeError,
  );
});

test('MessageSizeQueuingStrategy: read-ahead bounded by bytes, text counted in UTF-8 bytes', async () => {
  const { transport, session, text } = openSession('client', {
    readableStrategy: new MessageSizeQueuingStrategy({ highWaterMark: 64 * 1024 }),
  });
  await settle();
  // 4 KiB of UTF-8 in 2048 UTF-16 units each: 16 messages fill 64 KiB.
  const message = 'é'.repeat(2048);
  for (let i = 0; i < 40; i++) transport.receive(text(message));
  await settle();
  assert.equal(session.receiver.messagesDelivered, 16, 'the readable took 64 KiB of messages');
  assert.equal(session.receiver.messagesWaiting, 24, 'the rest waits in the inbox');
  assert.equal(transport.paused, true, 'and reading paused');
  const reader = session.readable.getReader();
  for (let i = 0; i < 40; i++) assert.equal((await reader.read()).value, message);
});

for (const [name, strategy] of [
  ['CountQueuingStrategy', new CountQueuingStrategy({ highWaterMark: 0 })],
  ['ByteLengthQueuingStrategy', new ByteLengthQueuingStrategy({ highWaterMark: 0 })],
  ['a plain strategy', { highWaterMark: 0, size: () => 1 }],
] as const) {
  test(`highWaterMark 0 (${name}): each read() gets the next message; nothing is read ahead`, async () => {
    const { transport, session, text } = openSession('client', {
      readableStrategy: strategy as never,
    });
    const reader = session.readable.getReader();
    await settle();
    transport.receive(text('one'));
    transport.receive(text('two'));
    await settle();
    assert.equal(transport.paused, true, 'no demand: reading paused');
    assert.deepEqual(await reader.read(), { done: false, value: 'one' });
    assert.deepEqual(await reader.read(), { done: false, value: 'two' });
    // A read that waits for a message not yet received gets it as it arrives.
    const third = reader.read();
    await settle();
    assert.equal(transport.paused, false, 'a waiting read resumes reading');
    transport.receive(text('three'));
    assert.deepEqual(await third, { done: false, value: 'three' });
  });
}
