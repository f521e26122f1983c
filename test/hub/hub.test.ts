/**
 * The in-process hub against real peers: a wsstream server whose
 * connections are subscribed, `ws` clients that read, and raw TCP clients
 * that stop reading (slow consumers).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import WebSocket from 'ws';
import { Hub, SLOW_CONSUMER_CLOSE_CODE, type HubOptions } from '../../src/hub/index.js';
import { serve, type WebSocketConnection, type WebSocketServer } from '../../src/server.js';
import { WebSocketStream } from '../../src/index.js';
import { parseFrames, tcp, upgradeRequest } from '../server/helpers.js';
import { withoutUnhandledRejections } from '../unhandled.js';

const servers: WebSocketServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

/** A server that records, as text, every message its connections receive. */
async function recordingServer(received: string[]): Promise<WebSocketServer> {
  const server = await serve({ port: 0, host: '127.0.0.1' }, async (c) => {
    const reader = (await c.opened).readable.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      received.push(String(value));
    }
  });
  servers.push(server);
  return server;
}

/** A server whose every connection is subscribed to its request path. */
async function hubServer(options: HubOptions = {}): Promise<{
  hub: Hub;
  server: WebSocketServer;
  port: number;
  connections: WebSocketConnection[];
}> {
  const hub = new Hub(options);
  const connections: WebSocketConnection[] = [];
  const server = await serve({ port: 0, host: '127.0.0.1' }, (c) => {
    connections.push(c);
    hub.subscribe(c, new URL(c.url).pathname);
  });
  servers.push(server);
  return { hub, server, port: server.address.port, connections };
}

async function wsClient(
  port: number,
  path: string,
): Promise<{ ws: WebSocket; got: (string | Buffer)[] }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
  const got: (string | Buffer)[] = [];
  ws.on('message', (data: Buffer, isBinary: boolean) =>
    got.push(isBinary ? data : data.toString()),
  );
  await once(ws, 'open');
  return { ws, got };
}

/** A client that completes the handshake and then never reads again. */
async function stalledClient(port: number, path: string): Promise<Socket> {
  const socket = await tcp(port);
  socket.write(upgradeRequest(port, [], path));
  const [head] = (await once(socket, 'data')) as [Buffer];
  assert.match(head.toString('latin1'), /^HTTP\/1.1 101/);
  socket.pause();
  return socket;
}

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('Hub, in-process', () => {
  test('every subscriber of a topic gets each message once, in order, text as text and binary as binary', async () => {
    const { hub, port, connections } = await hubServer();
    const a = await wsClient(port, '/room/a');
    const b = await wsClient(port, '/room/a');
    const other = await wsClient(port, '/room/b');
    await until(
      () => connections.length === 3 && hub.subscriberCount('/room/a') === 2,
      'subscriptions',
    );
    for (let i = 0; i < 100; i++) {
      await hub.publish('/room/a', i % 2 === 0 ? `text ${i}` : new Uint8Array([i, 255 - i]));
    }
    await until(() => a.got.length === 100 && b.got.length === 100, 'delivery');
    for (const c of [a, b]) {
      c.got.forEach((m, i) => {
        if (i % 2 === 0) assert.equal(m, `text ${i}`);
        else assert.deepEqual([...(m as Buffer)], [i, 255 - i]);
      });
    }
    assert.equal(other.got.length, 0);
    for (const c of [a, b, other]) c.ws.close();
  });

  test('except: the sender does not get its own message', async () => {
    const { hub, port, connections } = await hubServer();
    const a = await wsClient(port, '/t');
    const b = await wsClient(port, '/t');
    await until(() => hub.subscriberCount('/t') === 2, 'subscriptions');
    await hub.publish('/t', 'hello', { except: connections[0] });
    await until(() => b.got.length === 1, 'delivery');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(a.got, []);
    a.ws.close();
    b.ws.close();
  });

  test('a connection that closes leaves its topics; the last one out removes the topic', async () => {
    const { hub, port } = await hubServer();
    const a = await wsClient(port, '/x');
    await until(() => hub.subscriberCount('/x') === 1, 'subscription');
    assert.deepEqual(hub.topics, ['/x']);
    a.ws.terminate();
    await until(() => hub.subscriberCount('/x') === 0, 'leave');
    assert.deepEqual(hub.topics, []);
  });

  test('unsubscribe(connection, topic) and unsubscribe(connection)', async () => {
    const { hub, port, connections } = await hubServer();
    const a = await wsClient(port, '/one');
    await until(() => connections.length === 1, 'connection');
    const c = connections[0]!;
    hub.subscribe(c, '/two');
    assert.deepEqual(hub.topicsOf(c).sort(), ['/one', '/two']);
    hub.unsubscribe(c, '/one');
    await hub.publish('/one', 'not for a');
    await hub.publish('/two', 'for a');
    await until(() => a.got.length === 1, 'delivery');
    assert.deepEqual(a.got, ['for a']);
    hub.unsubscribe(c);
    assert.deepEqual(hub.topics, []);
    // The writable is released: the application can write to the connection again.
    const { writable } = await c.opened;
    const writer = writable.getWriter();
    await writer.write('direct');
    await until(() => a.got.length === 2, 'direct write');
    writer.releaseLock();
    a.ws.close();
  });

  test('a client WebSocketStream subscribed before it opened gets what was published meanwhile', async () => {
    const received: string[] = [];
    const server = await recordingServer(received);
    const hub = new Hub();
    const ws = new WebSocketStream(server.url);
    hub.subscribe(ws, 'upstream');
    await hub.publish('upstream', 'early 1');
    await hub.publish('upstream', 'early 2');
    await ws.opened;
    await hub.publish('upstream', 'late');
    await until(() => received.length === 3, 'delivery');
    assert.deepEqual(received, ['early 1', 'early 2', 'late']);
    ws.close();
  });

  test('a hook that throws does not stop delivery', async () => {
    const { hub, port } = await hubServer({
      maxQueue: 1,
      slow: 'drop',
      onLeave: () => {
        throw new Error('hook');
      },
    });
    const a = await wsClient(port, '/h');
    await until(() => hub.subscriberCount('/h') === 1, 'subscription');
    await hub.publish('/h', 'x');
    await until(() => a.got.length === 1, 'delivery');
    a.ws.terminate();
    await until(() => hub.subscriberCount('/h') === 0, 'leave');
  });

  test('send(): one connection, through its queue, in order with topic messages', async () => {
    const { hub, port, connections } = await hubServer();
    const a = await wsClient(port, '/s1');
    const b = await wsClient(port, '/s1');
    await until(() => hub.subscriberCount('/s1') === 2, 'subscriptions');
    await hub.publish('/s1', 'one');
    assert.equal(hub.send(connections[0]!, 'direct'), true);
    await hub.publish('/s1', 'two');
    await until(() => a.got.length === 3 && b.got.length === 2, 'delivery');
    assert.deepEqual(a.got, ['one', 'direct', 'two']);
    assert.deepEqual(b.got, ['one', 'two']);
    a.ws.close();
    b.ws.close();
  });

  test('a Buffer the caller reuses: every message goes out as it was when published', async () => {
    const { hub, port, connections } = await hubServer();
    const a = await wsClient(port, '/reuse');
    await until(() => hub.subscriberCount('/reuse') === 1, 'subscription');
    // Buffer.prototype.slice() is a view: the copy must not be made with it.
    // Published in one turn: all but the first wait in the connection's writable.
    const buffer = Buffer.alloc(4);
    const published: Promise<void>[] = [];
    for (let i = 0; i < 5; i++) {
      buffer.write(`msg${i}`);
      published.push(hub.publish('/reuse', buffer));
    }
    buffer.write('sent');
    assert.equal(hub.send(connections[0]!, buffer), true);
    buffer.write('late');
    await Promise.all(published);
    await until(() => a.got.length === 6, 'delivery');
    assert.deepEqual(
      (a.got as Buffer[]).map((m) => m.toString()),
      ['msg0', 'msg1', 'msg2', 'msg3', 'msg4', 'sent'],
    );
    a.ws.close();
  });

  test('a topic with a lone surrogate (no UTF-8 form) is a TypeError; paired surrogates are fine', () => {
    const hub = new Hub();
    for (const topic of ['room\uD800', '\uDC00room', 'a\uDBFFb']) {
      assert.throws(() => hub.publish(topic, 'x'), /well-formed Unicode/, JSON.stringify(topic));
      assert.throws(
        () => hub.subscribe({} as WebSocketConnection, topic),
        /well-formed Unicode/,
        JSON.stringify(topic),
      );
    }
    // An emoji is a surrogate pair: a well-formed topic.
    void hub.publish('room \u{1F600}', 'x');
  });

  test('a closed hub: publish() rejects with CLOSED, a topic that is not a string still throws', async () => {
    const hub = new Hub();
    await hub.close();
    await assert.rejects(hub.publish('t', 'x'), { name: 'HubError', code: 'CLOSED' });
    assert.throws(() => hub.publish(42 as unknown as string, 'x'), TypeError);
    assert.throws(() => hub.subscribe({} as WebSocketConnection, 't'), { code: 'CLOSED' });
  });

  test('async hooks that reject do not take the process down', async () => {
    await withoutUnhandledRejections(async () => {
      const { hub, port } = await hubServer({
        maxQueue: 1,
        slow: 'drop',
        // What users write for a logger that awaits: the hub must cope with the promise.
        // eslint-disable-next-line @typescript-eslint/no-misused-promises
        onLeave: async () => {
          throw new Error('onLeave');
        },
        // eslint-disable-next-line @typescript-eslint/no-misused-promises
        onSlow: async () => {
          throw new Error('onSlow');
        },
      });
      const a = await wsClient(port, '/async');
      await until(() => hub.subscriberCount('/async') === 1, 'subscription');
      await hub.publish('/async', 'x');
      await until(() => a.got.length === 1, 'delivery');
      a.ws.terminate();
      await until(() => hub.subscriberCount('/async') === 0, 'leave');
    });
  });

  test('options are checked', () => {
    assert.throws(() => new Hub({ maxQueue: 0 }), RangeError);
    assert.throws(() => new Hub({ slow: 'wait' as 'drop' }), TypeError);
    assert.throws(() => new Hub().publish('t', 42 as unknown as string), TypeError);
  });
});

/**
 * Publishes `count` messages of `size` bytes at a pace a reading client keeps
 * up with, and records the largest queue the hub held for `watch`.
 */
async function publishPaced(
  hub: Hub,
  topic: string,
  count: number,
  size: number,
  watch: () => number,
): Promise<number> {
  let maxQueued = 0;
  const payload = new Uint8Array(size);
  for (let i = 0; i < count; i++) {
    payload[0] = i >> 8;
    payload[1] = i & 0xff;
    await hub.publish(topic, payload);
    maxQueued = Math.max(maxQueued, watch());
    if (i % 8 === 7) await new Promise((r) => setTimeout(r, 1));
  }
  return maxQueued;
}

describe('Hub.send() to a slow subscriber', () => {
  test('closed as too slow through send(): onSlow is called, as for a topic message', async () => {
    const slow: Array<[unknown, number]> = [];
    const hub = new Hub({ maxQueue: 1000, onSlow: (c, queued) => slow.push([c, queued]) });
    const closes: unknown[] = [];
    // Its writes never complete: whatever is handed to it stays queued.
    const stalled = {
      opened: Promise.resolve({
        writable: new WritableStream({ write: () => new Promise(() => {}) }),
      }),
      closed: new Promise(() => {}),
      close: (info?: unknown) => closes.push(info),
    };
    hub.subscribe(stalled, 't');
    await new Promise((r) => setTimeout(r, 10));
    const results: boolean[] = [];
    for (let i = 0; i < 5; i++) results.push(hub.send(stalled, 'x'.repeat(400)));
    const over = results.indexOf(false);
    assert.ok(over > 0 && results.slice(0, over).every(Boolean), `sends: ${results.join(' ')}`);
    assert.equal(closes.length, 1);
    assert.equal((closes[0] as { closeCode: number }).closeCode, SLOW_CONSUMER_CLOSE_CODE);
    assert.equal(slow.length, 1, 'onSlow once');
    assert.equal(slow[0]![0], stalled);
    assert.ok(slow[0]![1] <= 1000 && slow[0]![1] + 400 > 1000, `queued ${slow[0]![1]}`);
    await hub.close();
  });
});

/**
 * A promise that counts the reactions attached to it: `catch`, `finally` and
 * `await` all go through `then`. On a promise that never settles, each one is
 * kept for as long as the promise is.
 */
class Watched<T> extends Promise<T> {
  reactions = 0;

  override then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    this.reactions++;
    return super.then(onFulfilled, onRejected);
  }
}

/** An open connection that stays open; `write` is its writable's sink. */
function fakeConnection(write: (message: unknown) => Promise<void> | void): {
  opened: Watched<{ writable: WritableStream<unknown> }>;
  closed: Watched<unknown>;
  close: (info?: unknown) => void;
  closes: unknown[];
} {
  const closes: unknown[] = [];
  return {
    opened: new Watched((resolve) => resolve({ writable: new WritableStream({ write }) })),
    closed: new Watched(() => {}),
    close: (info) => closes.push(info),
    closes,
  };
}

describe('Hub, leaving every topic and joining again on one connection', () => {
  test('20,000 times: the hub attaches nothing more to the connection than for the first subscription', async () => {
    const written: unknown[] = [];
    const c = fakeConnection((m) => {
      written.push(m);
    });
    const hub = new Hub();
    hub.subscribe(c, 'room');
    await new Promise((r) => setTimeout(r, 1));
    const first = { opened: c.opened.reactions, closed: c.closed.reactions };
    assert.ok(first.closed > 0, 'the hub watches the connection close');
    for (let i = 1; i <= 20_000; i++) {
      hub.unsubscribe(c);
      hub.subscribe(c, 'room');
      if (i % 1000 === 0) {
        // Writes handed over in the meantime resolve between the rounds.
        await hub.publish('room', `round ${i / 1000}`);
        await new Promise((r) => setImmediate(r));
      }
    }
    // The connection's `closed` never settles: a reaction per subscription would be kept until it does.
    assert.deepEqual({ opened: c.opened.reactions, closed: c.closed.reactions }, first);
    await until(() => written.length === 20, 'delivery');
    assert.deepEqual(
      written,
      Array.from({ length: 20 }, (_, i) => `round ${i + 1}`),
    );
    assert.equal(hub.queuedBytes(c), 0);
    await hub.close();
  });

  test('50,000 times while a write never resolves: that write still counts and the bound holds', async () => {
    const hub = new Hub({ maxQueue: 1000, slow: 'drop' });
    // A peer that stopped reading: whatever is handed to the writable stays queued.
    const c = fakeConnection(() => new Promise(() => {}));
    hub.subscribe(c, 'room');
    await new Promise((r) => setTimeout(r, 1));
    assert.equal(hub.send(c, 'x'.repeat(600)), true);
    for (let i = 0; i < 50_000; i++) {
      hub.unsubscribe(c, 'room');
      hub.subscribe(c, 'room');
    }
    assert.deepEqual(hub.topicsOf(c), ['room']);
    assert.equal(hub.queuedBytes(c), 600);
    await hub.publish('room', 'y'.repeat(401));
    assert.equal(hub.dropped(c), 1, 'over the bound: dropped');
    await hub.publish('room', 'z'.repeat(400));
    assert.equal(hub.dropped(c), 1, 'up to the bound: queued');
    assert.equal(hub.queuedBytes(c), 1000);
    assert.deepEqual(c.closes, []);
    await hub.close();
  });

  test('empty messages count one byte each: a subscriber that does not read cannot be sent them without bound', async () => {
    const hub = new Hub({ maxQueue: 100, slow: 'drop' });
    const c = fakeConnection(() => new Promise(() => {}));
    hub.subscribe(c, 'room');
    await new Promise((r) => setTimeout(r, 1));
    for (let i = 0; i < 10_000; i++)
      await hub.publish('room', i % 2 === 0 ? '' : new Uint8Array(0));
    assert.equal(hub.queuedBytes(c), 100);
    assert.equal(hub.dropped(c), 9_900);
    await hub.close();
  });

  test('before the connection opened: what the ended subscription held is not sent, the new one is', async () => {
    const received: string[] = [];
    const server = await recordingServer(received);
    const hub = new Hub();
    const ws = new WebSocketStream(server.url);
    hub.subscribe(ws, 'upstream');
    await hub.publish('upstream', 'left behind');
    hub.unsubscribe(ws);
    assert.equal(hub.queuedBytes(ws), 0);
    hub.subscribe(ws, 'upstream');
    await hub.publish('upstream', 'early');
    await ws.opened;
    await hub.publish('upstream', 'late');
    await until(() => received.length === 2, 'delivery');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(received, ['early', 'late']);
    ws.close();
  });

  test('the application writes between two subscriptions: the next one takes the writer back', async () => {
    const { hub, port, connections } = await hubServer();
    const a = await wsClient(port, '/w');
    await until(() => hub.subscriberCount('/w') === 1, 'subscription');
    const c = connections[0]!;
    await hub.publish('/w', 'one');
    hub.unsubscribe(c);
    const writer = (await c.opened).writable.getWriter();
    await writer.write('direct');
    writer.releaseLock();
    hub.subscribe(c, '/w');
    await hub.publish('/w', 'two');
    await until(() => a.got.length === 3, 'delivery');
    assert.deepEqual(a.got, ['one', 'direct', 'two']);
    a.ws.close();
  });
});

describe('Hub, slow consumers', () => {
  const MAX_QUEUE = 256 * 1024;
  const SIZE = 8 * 1024;
  const COUNT = 4000; // 32 MiB: more than loopback's socket buffers hold

  test("policy 'close': the stalled subscriber is closed with 4008 at the bound; the reader gets everything", async () => {
    const slowClosed: number[] = [];
    const { hub, port, connections } = await hubServer({
      maxQueue: MAX_QUEUE,
      onSlow: (_c, queued) => slowClosed.push(queued),
    });
    const stalled = await stalledClient(port, '/s');
    await until(() => connections.length === 1, 'stalled connection');
    const slow = connections[0]!;
    const fast = await wsClient(port, '/s');
    await until(() => hub.subscriberCount('/s') === 2, 'subscriptions');
    const maxQueued = await publishPaced(hub, '/s', COUNT, SIZE, () => hub.queuedBytes(slow));
    await until(() => fast.got.length === COUNT, 'the reader got every message', 20_000);
    assert.ok(maxQueued <= MAX_QUEUE, `queued ${maxQueued} bytes for the stalled subscriber`);
    assert.equal(slowClosed.length, 1);
    assert.ok(slowClosed[0]! + SIZE > MAX_QUEUE);
    (fast.got as Buffer[]).forEach((m, i) => assert.equal(m.readUInt16BE(0), i));
    // The Close frame is queued behind the data the stalled client never read: it is failed at the close timeout, or
    // sees 4008 when it reads. Read everything and look for it.
    stalled.resume();
    const chunks: Buffer[] = [];
    stalled.on('data', (c: Buffer) => chunks.push(c));
    stalled.on('error', () => {});
    await until(
      () => {
        const { frames } = parseFrames(Buffer.concat(chunks));
        return frames.some((f) => f.opcode === 8);
      },
      'the Close frame',
      20_000,
    );
    const close = parseFrames(Buffer.concat(chunks)).frames.find((f) => f.opcode === 8)!;
    assert.equal(close.payload.readUInt16BE(0), SLOW_CONSUMER_CLOSE_CODE);
    assert.match(close.payload.subarray(2).toString(), /too slow/);
    stalled.destroy();
    fast.ws.close();
  });

  test('leaving the last topic and subscribing again does not reset the bound: earlier writes still count', async () => {
    const slowClosed: number[] = [];
    const { hub, port, connections } = await hubServer({
      maxQueue: MAX_QUEUE,
      onSlow: (_c, queued) => slowClosed.push(queued),
    });
    const stalled = await stalledClient(port, '/again');
    await until(() => connections.length === 1, 'stalled connection');
    const slow = connections[0]!;
    let maxQueued = 0;
    const payload = new Uint8Array(SIZE);
    for (let i = 0; i < COUNT && slowClosed.length === 0; i++) {
      await hub.publish('/again', payload);
      maxQueued = Math.max(maxQueued, hub.queuedBytes(slow));
      if (i % 2 === 1) {
        // A room change: out of every topic (the subscription ends), then in again.
        hub.unsubscribe(slow, '/again');
        hub.subscribe(slow, '/again');
      }
      if (i % 8 === 7) await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal(slowClosed.length, 1, 'closed as too slow at the bound');
    assert.ok(slowClosed[0]! + SIZE > MAX_QUEUE, `closed with ${slowClosed[0]} bytes queued`);
    assert.ok(maxQueued <= MAX_QUEUE, `queued ${maxQueued} bytes for the stalled subscriber`);
    stalled.destroy();
  });

  test('a message the stalled peer never takes still counts after 50,000 leave/join cycles: the next one closes it', async () => {
    const slowClosed: number[] = [];
    const { hub, port, connections } = await hubServer({
      maxQueue: MAX_QUEUE,
      onSlow: (_c, queued) => slowClosed.push(queued),
    });
    const stalled = await stalledClient(port, '/big');
    await until(() => connections.length === 1, 'stalled connection');
    const slow = connections[0]!;
    // Bigger than the bound (sent: the queue is empty) and than what loopback's buffers hold.
    const BIG = 32 * 1024 * 1024;
    assert.equal(hub.send(slow, new Uint8Array(BIG)), true);
    for (let i = 0; i < 50_000; i++) {
      hub.unsubscribe(slow, '/big');
      hub.subscribe(slow, '/big');
    }
    assert.ok(hub.queuedBytes(slow) >= BIG, `queued ${hub.queuedBytes(slow)} bytes`);
    await hub.publish('/big', new Uint8Array(SIZE));
    assert.deepEqual(slowClosed.length, 1, 'closed as too slow');
    assert.ok(slowClosed[0]! >= BIG, `closed with ${slowClosed[0]} bytes queued`);
    stalled.destroy();
  });

  test("policy 'drop': the stalled subscriber skips messages and they are counted; the reader gets everything", async () => {
    const left: number[] = [];
    const { hub, port, connections } = await hubServer({
      maxQueue: MAX_QUEUE,
      slow: 'drop',
      onLeave: (_c, dropped) => left.push(dropped),
    });
    const stalled = await stalledClient(port, '/d');
    await until(() => connections.length === 1, 'stalled connection');
    const slow = connections[0]!;
    const fast = await wsClient(port, '/d');
    await until(() => hub.subscriberCount('/d') === 2, 'subscriptions');
    const maxQueued = await publishPaced(hub, '/d', COUNT, SIZE, () => hub.queuedBytes(slow));
    await until(() => fast.got.length === COUNT, 'the reader got every message', 20_000);
    assert.ok(maxQueued <= MAX_QUEUE, `queued ${maxQueued} bytes for the stalled subscriber`);
    const dropped = hub.dropped(slow);
    assert.ok(dropped > 0, 'messages were dropped');
    // Now it reads: it gets the messages that were not dropped, in order, and nothing more.
    const chunks: Buffer[] = [];
    stalled.on('data', (c: Buffer) => chunks.push(c));
    stalled.resume();
    await until(
      () => parseFrames(Buffer.concat(chunks)).frames.length === COUNT - dropped,
      'the rest',
      20_000,
    );
    const frames = parseFrames(Buffer.concat(chunks)).frames;
    let last = -1;
    for (const f of frames) {
      assert.equal(f.payload.length, SIZE);
      const seq = f.payload.readUInt16BE(0);
      assert.ok(seq > last, 'in order');
      last = seq;
    }
    stalled.destroy();
    await until(() => left.length === 1, 'leave');
    assert.equal(left[0], dropped);
    fast.ws.close();
  });
});
