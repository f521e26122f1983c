/**
 * DenoConnTransport's writes on a connection the test drives by hand (the
 * `Deno.Conn` methods it uses, with each write completing when told): every
 * write's callback runs exactly once, in order, including when destroy()
 * comes while a write is in flight. The transport runs on Deno in the
 * runtime suite; its bookkeeping is checked here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DenoConnTransport, type DenoConn } from '../../src/deno/conn-transport.js';
import { loopHolds } from '../../src/node/loop-hold.js';
import type { TransportHandlers } from '../../src/streams/transport.js';
import { settle } from './fake-transport.js';

function handConn() {
  const writes: Array<{ data: Uint8Array; done: (n: number) => void }> = [];
  let closed = false;
  const conn: DenoConn = {
    read: () => new Promise<number | null>(() => {}),
    write: (data) => new Promise<number>((resolve) => writes.push({ data, done: resolve })),
    closeWrite: () => Promise.resolve(),
    close: () => {
      closed = true;
    },
  };
  return { conn, writes, closed: () => closed };
}

function attach(transport: DenoConnTransport): { closes: number } {
  const seen = { closes: 0 };
  const handlers: TransportHandlers = {
    onData: () => {},
    onEnd: () => {},
    onError: () => {},
    onClose: () => seen.closes++,
  };
  transport.attach(handlers);
  return seen;
}

test('writes call back once each, in order, once the kernel took them', async () => {
  const { conn, writes } = handConn();
  const transport = new DenoConnTransport(conn);
  attach(transport);
  const calls: string[] = [];
  transport.write([new Uint8Array(3)], (e) => calls.push(`a ${e?.message ?? 'ok'}`));
  transport.write([new Uint8Array(2)], (e) => calls.push(`b ${e?.message ?? 'ok'}`));
  assert.equal(transport.bufferedAmount, 5);
  await settle();
  writes.shift()!.done(3);
  await settle();
  writes.shift()!.done(2);
  await settle();
  assert.deepEqual(calls, ['a ok', 'b ok']);
  assert.equal(transport.bufferedAmount, 0);
  transport.destroy();
});

test('while paused (no read pending) the transport keeps the event loop alive; reading or closed, it does not', async () => {
  const { conn } = handConn();
  const transport = new DenoConnTransport(conn);
  const before = loopHolds();
  attach(transport);
  assert.equal(loopHolds(), before + 1, 'held from attach: a transport starts paused');
  transport.resume();
  assert.equal(loopHolds(), before, 'a pending read keeps the runtime alive instead');
  transport.pause();
  assert.equal(loopHolds(), before + 1, 'paused again');
  transport.destroy();
  assert.equal(loopHolds(), before, 'closed');
  transport.resume();
  assert.equal(loopHolds(), before, 'nothing held after the close');
  await settle();
});

test('destroy() while a write is in flight: that write and the queued ones fail once, even if the in-flight one completes after', async () => {
  const { conn, writes, closed } = handConn();
  const transport = new DenoConnTransport(conn);
  const seen = attach(transport);
  const calls: string[] = [];
  transport.write([new Uint8Array(3)], (e) => calls.push(`a ${e?.message ?? 'ok'}`));
  transport.write([new Uint8Array(2)], (e) => calls.push(`b ${e?.message ?? 'ok'}`));
  await settle();
  assert.equal(writes.length, 1, 'the first write is in flight');
  transport.destroy();
  assert.equal(closed(), true);
  // The runtime reports the in-flight write as done after the close.
  writes.shift()!.done(3);
  await settle();
  assert.deepEqual(calls, ['a The socket is closed', 'b The socket is closed']);
  assert.equal(writes.length, 0, 'nothing more is written');
  assert.equal(transport.bufferedAmount, 0);
  assert.equal(seen.closes, 1);
});
