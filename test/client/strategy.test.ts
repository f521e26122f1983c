/**
 * Queuing strategies against a ws server: a user's strategy that cannot
 * count text (ByteLengthQueuingStrategy) fails that connection with 1011
 * instead of killing the process or hanging it, other connections carry on,
 * and MessageSizeQueuingStrategy bounds the read-ahead by bytes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageSizeQueuingStrategy, WebSocketError, WebSocketStream } from '../../src/index.js';
import { READ_BUFFER_SIZE } from '../../src/node/socket-transport.js';
import {
  lastTransport,
  rejection,
  wsServerForSuite,
  waitStable,
  within,
  type WsFixture,
} from './helpers.js';

const MiB = 1024 * 1024;

void describe('queuing strategies with a ws server', { timeout: 30_000 }, () => {
  const server = wsServerForSuite();

  const byteLength = (): never =>
    // What a JavaScript user writes (TypeScript refuses it: text has no byteLength).
    new ByteLengthQueuingStrategy({ highWaterMark: 1 << 20 }) as never;

  async function closeCodeSeenBy(peer: Awaited<ReturnType<WsFixture['next']>>): Promise<number> {
    return new Promise((resolve) => peer.ws.once('close', (code: number) => resolve(code)));
  }

  void it('ByteLengthQueuingStrategy, binary then text: the connection fails with 1011, the process and another connection carry on', async () => {
    const other = new WebSocketStream(server.url);
    const { readable: otherReadable, writable: otherWritable } = await within(
      other.opened,
      5000,
      'opened',
    );
    const otherPeer = await server.next();
    const wss = new WebSocketStream(server.url, { readableStrategy: byteLength() });
    await within(wss.opened, 5000, 'opened');
    const peer = await server.next();
    const seen = closeCodeSeenBy(peer);
    peer.ws.send(new Uint8Array(100));
    peer.ws.send('text has no byteLength');
    const error = await rejection(wss.closed);
    assert.ok(error instanceof WebSocketError);
    assert.equal(error.closeCode, 1011);
    assert.match(error.message, /readableStrategy\.size\(\) returned undefined for a text message/);
    assert.equal(await within(seen, 5000, 'server close'), 1011, 'ws receives our Close with 1011');
    // The other connection still works both ways.
    otherPeer.ws.on('message', (data, isBinary) => otherPeer.ws.send(data, { binary: isBinary }));
    const writer = otherWritable.getWriter();
    await writer.write('still here');
    const reader = otherReadable.getReader();
    assert.deepEqual(await within(reader.read(), 5000, 'echo'), {
      done: false,
      value: 'still here',
    });
    other.close();
    await other.closed;
  });

  void it('ByteLengthQueuingStrategy, text as the first message: fails with 1011 instead of hanging', async () => {
    const wss = new WebSocketStream(server.url, { readableStrategy: byteLength() });
    const { readable } = await within(wss.opened, 5000, 'opened');
    const peer = await server.next();
    peer.ws.send('first');
    const error = await rejection(wss.closed);
    assert.ok(error instanceof WebSocketError);
    assert.equal(error.closeCode, 1011);
    assert.equal(await rejection(readable.getReader().read()), error, 'read() settles too');
  });

  void it('a size() that throws or returns a value that cannot be shown as text (a null-prototype object) fails the connection with 1011, never the process', async () => {
    const odd = (): object => Object.create(null) as object;
    const sizes: Array<[string, () => unknown]> = [
      [
        'throws',
        () => {
          // What a JavaScript user can throw.
          // eslint-disable-next-line @typescript-eslint/only-throw-error
          throw odd();
        },
      ],
      ['returns', odd],
      [
        'throws an error whose message getter throws',
        () => {
          const error = new Error();
          Object.defineProperty(error, 'message', {
            get() {
              throw new Error('no message');
            },
          });
          throw error;
        },
      ],
    ];
    for (const [what, size] of sizes) {
      for (const side of ['readableStrategy', 'writableStrategy'] as const) {
        const wss = new WebSocketStream(server.url, {
          [side]: { highWaterMark: 4, size } as QueuingStrategy<never>,
        });
        const { writable } = await within(wss.opened, 5000, 'opened');
        const peer = await server.next();
        if (side === 'readableStrategy') peer.ws.send('hello');
        else
          await writable
            .getWriter()
            .write('hello')
            .catch(() => {});
        const error = await rejection(wss.closed);
        assert.ok(error instanceof WebSocketError, `${side} ${what}`);
        assert.equal(error.closeCode, 1011, `${side} ${what}`);
        assert.match(error.message, new RegExp(`${side}\\.size\\(\\)`), `${side} ${what}`);
      }
    }
  });

  void it('MessageSizeQueuingStrategy bounds the read-ahead by bytes, text counted in UTF-8', async () => {
    const highWaterMark = 1 * MiB;
    const wss = new WebSocketStream(server.url, {
      readableStrategy: new MessageSizeQueuingStrategy({ highWaterMark }),
    });
    const { readable } = await within(wss.opened, 5000, 'opened');
    const peer = await server.next();
    // 64 KiB of UTF-8 in 32 Ki UTF-16 units each; 32 MiB in all, and the application does not read.
    const message = 'é'.repeat(32 * 1024);
    const count = 512;
    let sent = 0;
    const sendMore = (): void => {
      while (sent < count && peer.ws.bufferedAmount < 4 * MiB) {
        peer.ws.send(message);
        sent++;
      }
      if (sent < count) setTimeout(sendMore, 5);
    };
    sendMore();
    const transport = lastTransport();
    const [bytesRead] = await waitStable(() => [transport.bytesRead]);
    // What wsstream holds in user space: the readable's queue (the high-water
    // mark plus one message), one read's worth in the inbox, a partial message.
    const bound = highWaterMark + 64 * 1024 + READ_BUFFER_SIZE + 64 * 1024;
    assert.ok(bytesRead! <= bound, `read ${bytesRead} bytes ahead; bound ${bound}`);
    // Counted in messages (highWaterMark 1) it would hold one; counted by UTF-16 length, twice as many.
    assert.ok(bytesRead! >= highWaterMark, `read only ${bytesRead} bytes ahead`);
    const reader = readable.getReader();
    for (let i = 0; i < count; i++) {
      const { value } = await within(reader.read(), 5000, `message ${i}`);
      assert.equal(value, message);
    }
    wss.close();
    await wss.closed;
  });
});
