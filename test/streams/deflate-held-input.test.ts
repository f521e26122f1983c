/**
 * The session and the core's inflate budget: input held back after a read
 * inflated to more than 1 MiB is picked up again when the readable asks,
 * without waiting for more socket data, and reading stays paused meanwhile.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { constants, deflateRawSync } from 'node:zlib';
import { closePayload } from '../../conformance/wire.js';
import { Connection } from '../../src/core/connection.js';
import { acceptOffer } from '../../src/core/extensions/deflate-negotiation.js';
import { PerMessageDeflate } from '../../src/core/extensions/permessage-deflate.js';
import { encodeFrame } from '../../src/core/frame.js';
import { nodeDeflateEngine } from '../../src/node/zlib-deflate.js';
import { Session } from '../../src/streams/session.js';
import { FakeTransport, settle } from './fake-transport.js';

const MESSAGES = 20;
const SIZE = 256 * 1024;

/** One read from a server: 20 compressed messages of 256 KiB (5 MiB once inflated), then `tail`. */
function packedRead(tail: Uint8Array = new Uint8Array(0)): Uint8Array {
  const raw = deflateRawSync(new Uint8Array(SIZE).fill(1), { finishFlush: constants.Z_SYNC_FLUSH });
  // RFC 7692 7.2.1: the trailing 00 00 ff ff is removed.
  const one = encodeFrame(0x2, raw.subarray(0, raw.length - 4), { rsv1: true, maskKey: null });
  const read = new Uint8Array(one.length * MESSAGES + tail.length);
  for (let i = 0; i < MESSAGES; i++) read.set(one, i * one.length);
  read.set(tail, one.length * MESSAGES);
  return read;
}

function open(): { transport: FakeTransport; conn: Connection; session: Session } {
  const agreed = acceptOffer('permessage-deflate; server_no_context_takeover', {
    serverMaxWindowBits: 15,
  })!;
  const conn = new Connection({
    role: 'client',
    extension: new PerMessageDeflate('client', agreed, nodeDeflateEngine),
  });
  const transport = new FakeTransport();
  const session = new Session(conn, transport);
  return { transport, conn, session };
}

test('held-back input is inflated as the readable asks, with no more socket data; reading stays paused until then', async () => {
  const { transport, conn, session } = open();
  const reader = session.readable.getReader();
  transport.receive(packedRead());
  await settle();
  // The budget stopped parsing after about 1 MiB: the rest waits in the core.
  assert.equal(conn.hasPendingInput, true, 'input held back');
  assert.equal(transport.paused, true, 'no reading while input is held back');
  assert.ok(session.stats().messagesReceived <= 6, `${session.stats().messagesReceived} inflated`);
  const resumesBefore = transport.resumes;
  let n = 0;
  for (; n < MESSAGES; n++) {
    const r = await reader.read();
    assert.equal(r.done, false);
    assert.equal((r.value as Uint8Array).length, SIZE);
  }
  assert.equal(conn.hasPendingInput, false);
  assert.equal(session.stats().bytesReceived, MESSAGES * SIZE, 'decompressed bytes counted');
  // Only once everything held was delivered does reading resume.
  await settle();
  assert.ok(transport.resumes > resumesBefore, 'reading resumed after the held input');
  session.close();
  transport.receive(encodeFrame(0x8, closePayload(1000, ''), { maskKey: null }));
  transport.close();
  await session.closed;
});

test('closing with input held back: it is parsed at once to find the Close in it', async () => {
  const { transport, conn, session } = open();
  const close = encodeFrame(0x8, closePayload(1000, 'done'), { maskKey: null });
  transport.receive(packedRead(close));
  await settle();
  assert.equal(conn.hasPendingInput, true);
  session.close();
  await settle();
  assert.equal(conn.hasPendingInput, false, 'read on to the Close');
  assert.equal(conn.closedCleanly || conn.closeSent, true);
  transport.close();
  assert.deepEqual(await session.closed, { closeCode: 1000, reason: 'done' });
});

test("the peer's FIN while input is held back: its messages and its Close are still read, and the close is clean", async () => {
  const { transport, conn, session } = open();
  const reader = session.readable.getReader();
  const close = encodeFrame(0x8, closePayload(1000, 'bye'), { maskKey: null });
  transport.receive(packedRead(close));
  transport.peerEnd();
  await settle();
  assert.equal(conn.hasPendingInput, true, 'input still held back after the FIN');
  assert.equal(transport.ended, false, 'our FIN waits for the held input');
  for (let n = 0; n < MESSAGES; n++) {
    const r = await reader.read();
    assert.equal(r.done, false, `message ${n + 1} of ${MESSAGES}`);
    assert.equal((r.value as Uint8Array).length, SIZE);
  }
  assert.equal((await reader.read()).done, true, 'the readable ends after the last message');
  await settle();
  // Our Close answered the peer's, then our FIN answered its FIN.
  const sent = transport.frames('client');
  assert.equal(sent.at(-1)?.opcode, 0x8, 'our Close went out');
  assert.equal(transport.ended, true, 'then our FIN');
  transport.close();
  assert.deepEqual(await session.closed, { closeCode: 1000, reason: 'bye' });
});

test("the transport closing while input is held back: the messages before the peer's Close are all delivered", async () => {
  const { transport, session } = open();
  const reader = session.readable.getReader();
  const close = encodeFrame(0x8, closePayload(1000, 'bye'), { maskKey: null });
  transport.receive(packedRead(close));
  transport.close();
  await settle();
  let delivered = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    delivered++;
  }
  assert.equal(delivered, MESSAGES, 'every message received before the close');
  // Whether our Close still went out is the transport's affair; the connection settles.
  await session.closed.catch(() => {});
});

test('terminate() while the closed transport still holds input: the connection settles', async () => {
  const { transport, conn, session } = open();
  transport.receive(packedRead());
  transport.close();
  await settle();
  assert.equal(conn.hasPendingInput, true);
  session.terminate();
  await assert.rejects(session.closed, (e: Error & { closeCode?: number }) => e.closeCode === 1006);
});
