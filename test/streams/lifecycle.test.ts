/**
 * The lifecycle of a connection (`opened`, `closed`, its phase and its
 * diagnostics events) around a session on a fake transport: `closed` is the
 * session's outcome itself, and the orderings hold even when the session
 * settles while it is being made.
 */
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { test } from 'node:test';
import { DIAGNOSTICS_CHANNELS } from '../../src/index.js';
import { ConnectionLifecycle } from '../../src/streams/lifecycle.js';
import { Session } from '../../src/streams/session.js';
import type { TransportHandlers } from '../../src/streams/transport.js';
import { WebSocketError } from '../../src/streams/websocket-error.js';
import { closePayload } from '../../conformance/wire.js';
import { frameFrom, makeConnection, peerOf } from '../core/helpers.js';
import { FakeTransport, settle } from './fake-transport.js';
import { withoutUnhandledRejections } from '../unhandled.js';

/** A transport whose socket is already gone when the session attaches (reset right at the 101). */
class GoneTransport extends FakeTransport {
  override attach(handlers: TransportHandlers): void {
    super.attach(handlers);
    this.close(new Error('read ECONNRESET'));
  }
}

/** Records the lifecycle's events (open, close, failure) of every connection until `stop()`. */
function recordEvents(): { events: string[]; stop(): void } {
  const events: string[] = [];
  const names = ['open', 'close', 'failure'] as const;
  const handlers = names.map((name) => {
    const handler = (message: unknown): void => {
      const m = message as { phase?: string; clean?: boolean; closeCode?: number };
      events.push(
        name === 'open'
          ? 'open'
          : name === 'close'
            ? `close ${m.clean === true ? 'clean' : 'unclean'} ${m.closeCode}`
            : `failure ${m.phase}`,
      );
    };
    diagnosticsChannel.subscribe(DIAGNOSTICS_CHANNELS[name], handler);
    return { channel: DIAGNOSTICS_CHANNELS[name], handler };
  });
  return {
    events,
    stop() {
      for (const { channel, handler } of handlers) diagnosticsChannel.unsubscribe(channel, handler);
    },
  };
}

test('lifecycle: closed is the session outcome itself, settled in the same turn as the streams', async () => {
  const life = new ConnectionLifecycle();
  life.describe({ url: 'ws://example/' }, 'server');
  const transport = new FakeTransport();
  const session = new Session(makeConnection('server'), transport, {}, undefined, life);
  life.open(session, '', '');
  assert.equal(session.closed, life.closed, 'one promise, not one following the other');
  assert.equal(life.state, 'open');
  const readableClosed = session.readable.getReader().closed;
  readableClosed.catch(() => {});
  transport.close(new Error('read ECONNRESET'));
  assert.equal(life.state, 'done', 'the phase changes with the outcome, not a turn later');
  const error = await life.closed.then(
    () => assert.fail('closed fulfilled after a reset'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof WebSocketError);
  assert.equal(error.closeCode, 1006);
  await assert.rejects(readableClosed, (e) => e === error, 'the same error errors the readable');
});

test('lifecycle: a session that settles while it is made: opened fulfils first, then closed, and the events come in that order', async () => {
  const recorded = recordEvents();
  try {
    const life = new ConnectionLifecycle();
    life.describe({ url: 'ws://example/' }, 'server');
    const order: string[] = [];
    void life.opened.then(() => order.push('opened'));
    life.closed.then(
      () => order.push('closed fulfilled'),
      (e: WebSocketError) => order.push(`closed rejected ${e.closeCode}`),
    );
    const session = new Session(makeConnection('server'), new GoneTransport(), {}, undefined, life);
    assert.equal(life.state, 'connecting', 'not settled before it opened');
    assert.deepEqual(recorded.events, [], 'no close event before the open event');
    life.open(session, '', '');
    assert.equal(life.state, 'done');
    await settle();
    assert.deepEqual(order, ['opened', 'closed rejected 1006']);
    assert.deepEqual(recorded.events, ['open', 'failure open', 'close unclean 1006']);
  } finally {
    recorded.stop();
  }
});

test('lifecycle: a clean close publishes its event and fulfils closed with the peer code', async () => {
  const recorded = recordEvents();
  try {
    const life = new ConnectionLifecycle();
    life.describe({ url: 'ws://example/' }, 'client');
    const transport = new FakeTransport();
    life.open(new Session(makeConnection('client'), transport, {}, undefined, life), '', '');
    transport.receive(
      frameFrom(peerOf('client'), { opcode: 0x8, payload: closePayload(4000, 'bye') }),
    );
    transport.peerEnd();
    transport.close();
    assert.equal(life.state, 'done');
    assert.deepEqual(await life.closed, { closeCode: 4000, reason: 'bye' });
    assert.deepEqual(recorded.events, ['open', 'close clean 4000']);
  } finally {
    recorded.stop();
  }
});

test('lifecycle: a failed handshake or an unclean close rejects with no unhandled rejection when nobody awaits', async () => {
  await withoutUnhandledRejections(async () => {
    const failed = new ConnectionLifecycle();
    failed.fail(new WebSocketError('handshake refused'));
    const life = new ConnectionLifecycle();
    const transport = new FakeTransport();
    life.open(new Session(makeConnection('client'), transport, {}, undefined, life), '', '');
    transport.close(new Error('read ECONNRESET'));
    await settle();
    // Awaited later, both still reject as they did.
    await assert.rejects(failed.opened, /handshake refused/);
    await assert.rejects(failed.closed, /handshake refused/);
    await assert.rejects(life.closed, WebSocketError);
  });
});

test('lifecycle: a watcher is told once, in the turn the connection ended, before any reaction to closed; closed is made on first use', async () => {
  const told: string[] = [];
  const watcher = { closedSettled: (name: string) => told.push(name) };

  // Watched while open, `closed` awaited: the watcher first, then the reaction.
  const watched = new ConnectionLifecycle();
  const transport = new FakeTransport();
  watched.open(new Session(makeConnection('server'), transport, {}, undefined, watched), '', '');
  watched.watch(watcher, 'a');
  watched.closed.then(
    () => told.push('a fulfilled'),
    () => told.push('a rejected'),
  );
  transport.close(new Error('read ECONNRESET'));
  assert.deepEqual(told, ['a'], 'told in the same turn');
  await settle();
  assert.deepEqual(told, ['a', 'a rejected']);

  // Ended before anyone asked for `closed` or watched: told at once, and
  // `closed`, made now, is the outcome, the same promise every time.
  await withoutUnhandledRejections(async () => {
    const ended = new ConnectionLifecycle();
    const gone = new FakeTransport();
    ended.open(new Session(makeConnection('server'), gone, {}, undefined, ended), '', '');
    gone.close(new Error('read ECONNRESET'));
    await settle();
    ended.watch(watcher, 'b');
    assert.deepEqual(told, ['a', 'a rejected', 'b']);
    assert.equal(ended.closed, ended.closed);
    const error = await ended.closed.then(
      () => assert.fail('closed fulfilled after a reset'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof WebSocketError);
    assert.equal(error.closeCode, 1006);
  });

  // A clean close with nobody asking: fulfilled with the peer's code when asked.
  const clean = new ConnectionLifecycle();
  const peer = new FakeTransport();
  clean.open(new Session(makeConnection('client'), peer, {}, undefined, clean), '', '');
  clean.watch(watcher, 'c');
  peer.receive(frameFrom(peerOf('client'), { opcode: 0x8, payload: closePayload(4001, 'done') }));
  peer.peerEnd();
  peer.close();
  assert.deepEqual(told, ['a', 'a rejected', 'b', 'c'], 'each watcher told once');
  assert.deepEqual(await clean.closed, { closeCode: 4001, reason: 'done' });
  assert.deepEqual(told, ['a', 'a rejected', 'b', 'c']);
});
