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
  transport.complete();
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

test("the peer's Close arrives while the last echo is still in the turn's batch: the writable errors as the source ends", async () => {
  // The echo of 'a' is batched (unwritten), then the Close is parsed before
  // the batch was taken: the close is unclean, the writable errors right
  // after the readable closed, and the pipe rejects with the writable's
  // stored error. The reads are separate turns, as a socket's are (a
  // runtime's pipe may write a message a few microtasks after it was read).
  const act = async ({ transport, text, close }: ReturnType<typeof openSession>) => {
    transport.mode = 'manual';
    transport.acceptBatches = true;
    transport.receive(text('a'));
    await settle();
    transport.receive(close(4004, 'now'));
  };
  const runtime = await echo('runtime', act);
  const direct = await echo('direct', act);
  assert.deepEqual(direct, runtime);
  assert.match(String(direct.pipe), /^rejected InvalidStateError: The connection closed while/);
  assert.match(String(direct.closed), /^rejected WebSocketError 4004/);
  assert.deepEqual(direct.locked, [false, false]);
});
