/**
 * What an open server connection keeps of its handshake: nothing. The
 * callbacks the server gives for the handshake alone (the deadline's, the
 * one run when `opened` settles) must be collectable once the handshake is
 * over, while the connection and its socket live on; each one kept would be
 * held, with everything it closes over, for the connection's whole life.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { ConnectionRegistry, HandshakeDeadlines } from '../../src/node/serve-registry.js';
import type { WebSocketConnection } from '../../src/node/server.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Whether the object `ref` points to is collected, after a few turns of garbage collection. */
async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 10 && ref.deref() !== undefined; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return ref.deref() === undefined;
}

test('the callback run when opened settles is not kept while the handler runs', async () => {
  // The handler's promise never settles, and is held (as a handler awaiting
  // its connection's streams is): the registry reacts to it for the
  // connection's whole life.
  const running = new Promise<void>(() => {});
  const registry = new ConnectionRegistry(Infinity, () => running);
  const connection = {
    opened: Promise.resolve({}),
    watchClosed() {},
    closeWithCode() {},
  } as unknown as WebSocketConnection;
  let settledRef: WeakRef<object>;
  let ran = 0;
  (() => {
    const settled = (): void => {
      ran++;
    };
    settledRef = new WeakRef(settled);
    registry.admit(connection, settled);
  })();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(ran, 1);
  assert.equal(registry.connections.has(connection), true);
  assert.equal(await collected(settledRef!), true, 'the settled callback is still held');
  assert.ok(running);
});

test('a settled handshake deadline keeps nothing of what would have ended it', async () => {
  const deadlines = new HandshakeDeadlines(60_000);
  const socket = { destroy() {} };
  let expireRef: WeakRef<object>;
  (() => {
    const expire = (): void => {};
    expireRef = new WeakRef(expire);
    deadlines.add(socket);
    deadlines.handOver(socket, expire);
  })();
  deadlines.settle(socket);
  assert.equal(await collected(expireRef!), true, 'the expire callback is still held');
  deadlines.dispose();
  // The socket itself lives on (as an open connection's does).
  assert.ok(socket);
});
