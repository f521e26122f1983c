/**
 * How a direct pipe (src/streams/direct-pipe.ts) ends when its source ends,
 * step by step on a fake transport, against the runtime's own pipeTo() on
 * the same streams: the pipe's promise, both locks, and what the peer got.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { settle } from './fake-transport.js';
import { openSession, TEXT } from './helpers.js';

const runtimePipeTo = Object.getOwnPropertyDescriptor(ReadableStream.prototype, 'pipeTo')!
  .value as ReadableStream['pipeTo'];

type Mode = 'direct' | 'runtime';

async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'fulfilled';
  } catch (error) {
    const e = error as Error & { closeCode?: number };
    return `rejected ${e.name}${e.closeCode === undefined ? '' : ` ${e.closeCode}`}: ${e.message}`;
  }
}

/** An echo (readable piped to writable) of a server session; `act` drives its peer. */
async function echo(
  mode: Mode,
  act: (peer: ReturnType<typeof openSession>) => Promise<void> | void,
  { written = true } = {},
): Promise<Record<string, unknown>> {
  const peer = openSession('server', { batchWrites: true });
  const { session, transport } = peer;
  const { readable, writable } = session;
  const piped = outcome(
    mode === 'direct'
      ? readable.pipeTo(writable)
      : Reflect.apply(runtimePipeTo, readable, [writable]),
  );
  await settle();
  await act(peer);
  // The kernel takes what is pending (or, with `written` false, the
  // connection ends first).
  if (written) transport.complete();
  transport.close();
  const pipe = await piped;
  const locked = [readable.locked, writable.locked];
  // Closed by the pipe's close (before the connection ended), or errored by the end.
  const writer = writable.getWriter();
  const state =
    writer.desiredSize === null ? 'errored' : writer.desiredSize === 0 ? 'closed' : 'writable';
  writer.releaseLock();
  return {
    pipe,
    locked,
    writable: state,
    closed: await outcome(session.closed),
    sent: peer
      .sent()
      .map((f) => (f.opcode === TEXT ? `text ${Buffer.from(f.payload).toString()}` : f.opcode)),
  };
}

test('the peer closes after the echoes were written: the pipe closes the writable and releases both locks', async () => {
  const act = async ({ transport, text, close }: ReturnType<typeof openSession>) => {
    transport.receive(text('a'), text('b'));
    await settle();
    transport.complete();
    await settle();
    transport.receive(close(1000, 'bye'));
    await settle();
  };
  const runtime = await echo('runtime', act);
  const direct = await echo('direct', act);
  assert.deepEqual(direct, runtime);
  assert.equal(direct.pipe, 'fulfilled');
  assert.deepEqual(direct.locked, [false, false]);
  assert.equal(direct.writable, 'closed', 'the pipe closed the writable');
  assert.deepEqual(direct.sent, ['text a', 'text b', 8]);
});

/** The echo of 'a' is batched (not yet taken by the kernel) when the peer's Close is parsed. */
async function closeWhileBatched({
  transport,
  text,
  close,
}: ReturnType<typeof openSession>): Promise<void> {
  transport.mode = 'manual';
  transport.acceptBatches = true;
  transport.receive(text('a'));
  await settle();
  transport.receive(close(4004, 'now'));
  await settle();
}

test("the peer's Close arrives while the last echo is still in the turn's batch: the echo goes out before our Close, and the close is clean", async () => {
  // The batched echo is ahead of our Close all the same. The reads are
  // separate turns, as a socket's are (a runtime's pipe may write a message
  // a few microtasks after it was read).
  const runtime = await echo('runtime', closeWhileBatched);
  const direct = await echo('direct', closeWhileBatched);
  assert.deepEqual(direct, runtime);
  assert.equal(direct.pipe, 'fulfilled');
  assert.equal(direct.writable, 'closed', 'the pipe closed the writable');
  assert.equal(direct.closed, 'fulfilled');
  assert.deepEqual(direct.sent, ['text a', 8]);
  assert.deepEqual(direct.locked, [false, false]);
});

test("the peer's Close arrives while the last echo is still in the turn's batch, and the connection ends before the kernel took it: unclean", async () => {
  const runtime = await echo('runtime', closeWhileBatched, { written: false });
  const direct = await echo('direct', closeWhileBatched, { written: false });
  assert.deepEqual(direct, runtime);
  assert.match(String(direct.pipe), /^rejected InvalidStateError: The connection closed while/);
  assert.equal(direct.writable, 'errored');
  assert.match(String(direct.closed), /^rejected WebSocketError 4004/);
  assert.deepEqual(direct.locked, [false, false]);
});
