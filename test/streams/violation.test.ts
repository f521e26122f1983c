/**
 * Input strictly in order at the session: the messages that arrived before a
 * protocol violation (in the same read) are read and answered before the
 * connection is failed for the violation.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebSocketError } from '../../src/streams/websocket-error.js';
import { openSession, settle, TEXT, track } from './helpers.js';

const RESERVED_OPCODE = 0x3;

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

for (const role of ['client', 'server'] as const) {
  test(`${role}: messages then a violation in one read: the messages are read, the replies written, then Close 1002`, async () => {
    const { transport, session, text, frame, sent } = openSession(role);
    const reader = session.readable.getReader();
    const writer = session.writable.getWriter();
    const closed = track(session.closed);
    const echo = (async () => {
      for (;;) {
        const r = await reader.read().catch(() => ({ done: true as const, value: undefined }));
        if (r.done) return;
        await writer.write(`echo ${r.value as string}`).catch(() => {});
      }
    })();
    await settle();
    transport.receive(
      concat(text('a'), text('b'), text('c'), frame(RESERVED_OPCODE), text('after')),
    );
    assert.equal(transport.paused, true, 'reading stops at the violation');
    await echo;
    const frames = sent();
    assert.deepEqual(
      frames.filter((f) => f.opcode === TEXT).map((f) => new TextDecoder().decode(f.payload)),
      ['echo a', 'echo b', 'echo c'],
      'nothing after the violation is delivered',
    );
    const last = frames.at(-1)!;
    assert.equal(last.opcode, 0x8, 'the Close comes after the replies');
    assert.equal((last.payload[0]! << 8) | last.payload[1]!, 1002);
    await settle();
    assert.equal(closed.state, 'rejected');
    assert.ok(closed.error instanceof WebSocketError);
    assert.equal(closed.error.closeCode, 1002);
    assert.equal(transport.ended, true);
    // The peer's Close and FIN are read now, not at the close timeout.
    assert.equal(transport.paused, false, 'reading again once failed');
  });
}

test('a reply still waiting for the transport delays the failure until it is written', async () => {
  const { transport, session, text, frame, closesSent } = openSession('server');
  transport.mode = 'manual';
  const reader = session.readable.getReader();
  const writer = session.writable.getWriter();
  const read = reader.read();
  await settle();
  transport.receive(concat(text('x'), frame(RESERVED_OPCODE)));
  assert.deepEqual(await read, { done: false, value: 'x' });
  const write = track(writer.write('reply'));
  await settle();
  await settle();
  assert.deepEqual(closesSent(), [], 'no Close while the reply waits for the transport');
  assert.equal(write.state, 'pending');
  transport.complete();
  await settle();
  await settle();
  assert.equal(write.state, 'fulfilled', 'the reply was written');
  transport.complete();
  assert.deepEqual(closesSent(), [{ code: 1002, reason: '' }]);
});

test('an application that never reads is failed after closeTimeout', async () => {
  const { transport, session, text, frame, closesSent } = openSession('client', {
    closeTimeout: 100,
  });
  const closed = track(session.closed);
  const reader = session.readable.getReader();
  const first = reader.read();
  await settle();
  transport.receive(concat(text('1'), text('2'), text('3'), frame(RESERVED_OPCODE)));
  assert.deepEqual(await first, { done: false, value: '1' });
  // It never reads '2' and '3'.
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(closesSent(), [], 'still waiting within closeTimeout');
  assert.equal(closed.state, 'pending');
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(closesSent(), [{ code: 1002, reason: '' }]);
  assert.equal(closed.state, 'rejected');
  assert.equal((closed.error as WebSocketError).closeCode, 1002);
});

test('a violation with an empty inbox fails at once, after one turn', async () => {
  const { transport, session, frame, closesSent } = openSession('server');
  const closed = track(session.closed);
  const reader = session.readable.getReader();
  const read = track(reader.read());
  await settle();
  transport.receive(frame(RESERVED_OPCODE));
  assert.deepEqual(closesSent(), [], 'not in the same turn');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(closesSent(), [{ code: 1002, reason: '' }]);
  await settle();
  assert.equal(closed.state, 'rejected');
  assert.equal(read.state, 'rejected', 'the pending read fails with the error');
  assert.equal((closed.error as WebSocketError).closeCode, 1002);
});

test('close() while a violation is held fails with the violation at once', async () => {
  const { transport, session, text, frame, closesSent } = openSession('client');
  const closed = track(session.closed);
  const reader = session.readable.getReader();
  const read = reader.read();
  await settle();
  transport.receive(concat(text('1'), text('2'), frame(RESERVED_OPCODE)));
  await read;
  session.close(1000);
  assert.deepEqual(closesSent(), [{ code: 1002, reason: '' }]);
  await settle();
  assert.equal((closed.error as WebSocketError).closeCode, 1002);
  assert.equal(transport.paused, false, 'reading again once failed');
});

test('the failure carries the violation’s own code: invalid UTF-8 after a message fails with 1007', async () => {
  const { transport, session, text, frame, sent, closesSent } = openSession('server');
  const closed = track(session.closed);
  const reader = session.readable.getReader();
  const writer = session.writable.getWriter();
  const read = reader.read();
  await settle();
  transport.receive(concat(text('fine'), frame(TEXT, Uint8Array.of(0x68, 0xff))));
  const { value } = await read;
  await writer.write(`echo ${value as string}`);
  const next = track(reader.read());
  await settle();
  assert.deepEqual(
    sent().map((f) => f.opcode),
    [TEXT, 0x8],
  );
  assert.deepEqual(closesSent(), [{ code: 1007, reason: '' }]);
  assert.equal(next.state, 'rejected', 'nothing after the violation is delivered');
  assert.equal((closed.error as WebSocketError).closeCode, 1007);
});
