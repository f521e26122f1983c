/**
 * Fault injection on open connections, against our client and our server:
 * each fault ends in a clear error (an unclean close with a documented code
 * and message) while the process lives on.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Peer, Under } from '../../conformance/peer.js';
import { closeTargets, openTarget, type App } from '../../conformance/targets.js';
import { concat, Op, randomBytes } from '../../conformance/wire.js';
import type { WebSocketConnection } from '../../src/server.js';
import type { WebSocketStream } from '../../src/index.js';

const UNDERS: Under[] = ['client', 'server'];
const noop = (): void => {};

after(closeTargets);

/** The outcome, which must be an unclean close. */
async function unclean(peer: Peer): Promise<{ code: number | null; message: string }> {
  const outcome = await peer.outcome;
  assert.equal(outcome.clean, false, `expected an unclean close, got ${JSON.stringify(outcome)}`);
  return outcome;
}

/** Waits until the implementation closed the TCP connection (the peer reads again to see it). */
async function peerClosed(peer: Peer): Promise<void> {
  if (peer.closed || peer.ended) return;
  const seen = new Promise<void>((resolve) => {
    peer.socket.once('close', () => resolve());
    peer.socket.once('end', () => resolve());
  });
  peer.socket.resume();
  await seen;
}

/** The implementation still works: a fresh connection echoes a message and closes cleanly. */
async function stillServes(under: Under): Promise<void> {
  const peer = await openTarget(under);
  try {
    await peer.send(peer.frame(Op.TEXT, 'alive'));
    await peer.expectEcho(Op.TEXT, 'alive');
    await peer.closeHandshake(1000);
  } finally {
    peer.destroy();
  }
}

for (const under of UNDERS) {
  describe(`faults on an open connection, our ${under}`, () => {
    test('TCP reset in the middle of a frame: unclean close 1006 naming the lost connection', async () => {
      const peer = await openTarget(under);
      const frame = peer.frame(Op.BINARY, randomBytes(1000));
      await peer.send(frame.subarray(0, 500));
      peer.socket.resetAndDestroy();
      const outcome = await unclean(peer);
      assert.equal(outcome.code, 1006);
      assert.match(outcome.message, /connection (was lost|closed)/);
      await stillServes(under);
    });

    test('TCP reset in the middle of a frame header', async () => {
      const peer = await openTarget(under);
      await peer.send(peer.frame(Op.BINARY, randomBytes(70000)).subarray(0, 5));
      peer.socket.resetAndDestroy();
      assert.equal((await unclean(peer)).code, 1006);
    });

    test('half-open peer (silent, never reads): keepalive drops it with 1006', async () => {
      const peer = await openTarget(under, { pingInterval: 100, pingTimeout: 100 });
      peer.socket.pause();
      const outcome = await unclean(peer);
      assert.equal(outcome.code, 1006);
      assert.match(outcome.message, /No data from the peer within 100 ms of a ping/);
      await peerClosed(peer);
    });

    test('a peer that never answers Close: dropped after closeTimeout with 1006', async () => {
      const app: App = (_info, handle) => {
        handle.close({ closeCode: 1000, reason: 'done' });
      };
      const peer = await openTarget(under, { closeTimeout: 200 }, app);
      await peer.expectClose(1000);
      const outcome = await unclean(peer);
      assert.equal(outcome.code, 1006);
      assert.match(outcome.message, /closing handshake did not complete within 200 ms/);
      await peerClosed(peer);
    });

    test('100,000 one-byte fragments with maxFragments 16384: fail 1009 at the 16,385th', async () => {
      const peer = await openTarget(under, { maxFragments: 16384 });
      const frames: Uint8Array[] = [];
      for (let i = 0; i < 100_000; i++) {
        frames.push(
          peer.frame(i === 0 ? Op.BINARY : Op.CONT, Uint8Array.of(i & 0xff), { fin: i === 99_999 }),
        );
      }
      await peer.send(concat(frames));
      await peer.expectFail(1009, 20_000);
    });

    test('a 2^63 length: fail 1002; 2^63 - 1: fail 1009, nothing allocated', async () => {
      for (const [length, code] of [
        [2n ** 63n, 1002],
        [2n ** 63n - 1n, 1009],
      ] as const) {
        const peer = await openTarget(under);
        await peer.send(
          peer.frame(Op.BINARY, new Uint8Array(0), { declaredLength: length, lengthForm: 64 }),
        );
        await peer.expectFail(code);
        peer.destroy();
      }
    });

    test('a peer that never reads: writes pend with bounded memory, then close() and closeTimeout drop it (1006)', async () => {
      const SIZE = 256 * 1024;
      let acked = 0;
      let pending: Promise<void> | undefined;
      let handle: WebSocketStream | WebSocketConnection | undefined;
      let stalled!: () => void;
      const stall = new Promise<void>((resolve) => {
        stalled = resolve;
      });
      const app: App = ({ writable }, h) => {
        handle = h;
        const writer = writable.getWriter();
        void (async () => {
          const chunk = randomBytes(SIZE, 9);
          // Write until the transport holds a whole message the kernel would not take.
          for (;;) {
            pending = writer.write(chunk);
            const done = await Promise.race([
              pending.then(() => true),
              new Promise((r) => setTimeout(() => r(false), 300)),
            ]);
            if (!done) break;
            acked += SIZE;
            if (acked > 512 * 1024 * 1024) break;
          }
          stalled();
        })().catch(noop);
      };
      const peer = await openTarget(under, { closeTimeout: 300 }, app);
      peer.socket.pause();
      await stall;
      // The peer read nothing, so everything acknowledged sits in kernel buffers: bounded.
      assert.ok(acked < 64 * 1024 * 1024, `${acked} bytes acknowledged to a peer that never reads`);
      assert.ok(
        peer.socket.bytesRead < SIZE,
        `the peer read ${peer.socket.bytesRead} bytes before it paused`,
      );
      if (under === 'server') {
        const session = (handle as WebSocketConnection).session!;
        // At most the one message whose write is pending waits in user space.
        assert.ok(
          session.transport.bufferedAmount <= SIZE + 14,
          `bufferedAmount ${session.transport.bufferedAmount}`,
        );
      }
      pending!.catch(noop);
      handle!.close({ closeCode: 1000 });
      const outcome = await unclean(peer);
      assert.equal(outcome.code, 1006);
      assert.match(outcome.message, /closing handshake did not complete within 300 ms/);
      await assert.rejects(pending!);
      await peerClosed(peer);
    });

    test('a ping flood from a peer that never reads our pongs: pending pongs bounded, fail 1008', async () => {
      let handle: WebSocketStream | WebSocketConnection | undefined;
      const app: App = ({ readable, writable }, h) => {
        handle = h;
        readable.pipeTo(writable).catch(noop);
      };
      const peer = await openTarget(under, { closeTimeout: 100 }, app);
      peer.socket.pause();
      let maxBuffered = 0;
      const sampler =
        under === 'server'
          ? setInterval(() => {
              const s = (handle as WebSocketConnection | undefined)?.session;
              if (s) maxBuffered = Math.max(maxBuffered, s.transport.bufferedAmount);
            }, 2)
          : undefined;
      const ping = peer.frame(Op.PING, randomBytes(125, 3));
      const batch = concat(Array.from({ length: 500 }, () => ping));
      let sent = 0;
      // After failing, the implementation discards input until closeTimeout drops the connection.
      const CAP = 2 * 1024 * 1024 * 1024;
      while (!peer.closed && sent < CAP) {
        const ok = peer.socket.write(batch);
        sent += batch.length;
        if (!ok) {
          await new Promise<void>((resolve) => {
            const done = (): void => {
              peer.socket.off('drain', done);
              peer.socket.off('close', done);
              resolve();
            };
            peer.socket.on('drain', done);
            peer.socket.on('close', done);
          });
        }
      }
      clearInterval(sampler);
      assert.ok(peer.closed, `the implementation took ${sent} bytes of pings without closing`);
      const outcome = await unclean(peer);
      assert.equal(outcome.code, 1008);
      assert.match(outcome.message, /More than 60 pongs pending/);
      if (under === 'server')
        assert.ok(maxBuffered < 1024 * 1024, `up to ${maxBuffered} bytes of pongs queued`);
      await stillServes(under);
    });
  });
}
