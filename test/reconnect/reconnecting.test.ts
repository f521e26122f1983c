/**
 * The reconnecting client against a real wsstream server that drains (1001
 * Going Away) and comes back on the same port, and against a closed port.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import * as net from 'node:net';
import diagnosticsChannel from 'node:diagnostics_channel';
import { after, describe, it } from 'node:test';
import { DIAGNOSTICS_CHANNELS, WebSocketError } from '../../src/index.js';
import {
  reconnecting,
  type ReconnectEvent,
  type ReconnectingWebSocketStream,
} from '../../src/reconnecting.js';
import { serve, WebSocketConnection, type WebSocketServer } from '../../src/server.js';
import { freePort } from '../hub/redis-server.js';
import { withoutUnhandledRejections } from '../unhandled.js';

const servers: WebSocketServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

/** An echo server on `port` that records every message it got. */
async function echo(port: number, got: string[]): Promise<WebSocketServer> {
  const server = await serve({ port, host: '127.0.0.1' }, async (c) => {
    const { readable, writable } = await c.opened;
    const reader = readable.getReader();
    const writer = writable.getWriter();
    for (;;) {
      const next = await reader.read();
      if (next.done) return;
      got.push(String(next.value));
      await writer.write(next.value);
    }
  });
  servers.push(server);
  return server;
}

/**
 * A server whose k-th connection (from 1) sends `count` messages (`c<k>`, or
 * `c<k>-<i>` when more than one), then is given to `then`.
 */
async function numbered(
  count: number,
  then: (connection: WebSocketConnection, k: number) => void,
): Promise<{ server: WebSocketServer; accepted: () => number }> {
  let n = 0;
  const server = await serve({ port: 0, host: '127.0.0.1' }, async (c) => {
    const k = ++n;
    const { writable } = await c.opened;
    const writer = writable.getWriter();
    for (let i = 0; i < count; i++) await writer.write(count === 1 ? `c${k}` : `c${k}-${i}`);
    then(c, k);
  });
  servers.push(server);
  return { server, accepted: () => n };
}

/** Resolves once `events` saw `count` opened connections. */
async function opens(events: ReconnectEvent[], count: number): Promise<void> {
  while (events.filter((e) => e.type === 'open').length < count)
    await new Promise((r) => setTimeout(r, 5));
}

/** A reconnecting client that retries after 5 ms, holds up to 8 messages, and records its events. */
function watched(url: string): { ws: ReconnectingWebSocketStream; events: ReconnectEvent[] } {
  const events: ReconnectEvent[] = [];
  const ws = reconnecting(url, {
    reconnectDelay: 5,
    readableStrategy: { highWaterMark: 8 },
    onEvent: (e) => events.push(e),
  });
  return { ws, events };
}

describe('reconnecting()', () => {
  it('the server drains with 1001, the client reconnects, writes made in the gap wait and then arrive in order', async () => {
    const port = await freePort();
    const got1: string[] = [];
    const server1 = await echo(port, got1);
    const events: ReconnectEvent[] = [];
    const ws = reconnecting(`ws://127.0.0.1:${port}/`, {
      reconnectDelay: 50,
      maxReconnectDelay: 200,
      onEvent: (e) => events.push(e),
    });
    const { readable, writable } = await ws.opened;
    const reader = readable.getReader();
    const writer = writable.getWriter();
    await writer.write('one');
    assert.deepEqual(await reader.read(), { value: 'one', done: false });

    await server1.close();
    assert.ok(
      events.some((e) => e.type === 'close' && e.closeCode === 1001),
      'saw 1001 Going Away',
    );
    // While no server listens: the writes wait, none resolves.
    let resolved = 0;
    const w2 = writer.write('two').then(() => resolved++);
    const w3 = writer.write('three').then(() => resolved++);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(resolved, 0, 'writes wait while disconnected');
    assert.ok(writer.desiredSize! <= 0, 'backpressure: the writable is full');
    assert.ok(events.filter((e) => e.type === 'retry').length >= 2, 'kept retrying');

    const got2: string[] = [];
    await echo(port, got2);
    await Promise.all([w2, w3]);
    assert.deepEqual((await reader.read()).value, 'two');
    assert.deepEqual((await reader.read()).value, 'three');
    assert.deepEqual(got1, ['one']);
    assert.deepEqual(got2, ['two', 'three']);
    assert.ok(
      events.some((e) => e.type === 'open' && e.attempt > 0),
      'reconnected',
    );
    // Backoff: the retries' delays grow and stay within the cap (jitter: 50-100% of the step).
    for (const e of events)
      if (e.type === 'retry') assert.ok(e.delay >= 25 && e.delay <= 200, `delay ${e.delay}`);

    ws.close({ closeCode: 1000 });
    assert.deepEqual(await ws.closed, { closeCode: 1000, reason: '' });
    assert.equal((await reader.read()).done, true);
  });

  it('a normal closure (1000) by the server is final: no reconnect', async () => {
    const server = await serve({ port: 0, host: '127.0.0.1' }, (c) =>
      c.close({ closeCode: 1000, reason: 'bye' }),
    );
    servers.push(server);
    const events: ReconnectEvent[] = [];
    const ws = reconnecting(server.url, { reconnectDelay: 10, onEvent: (e) => events.push(e) });
    assert.deepEqual(await ws.closed, { closeCode: 1000, reason: 'bye' });
    assert.equal(events.filter((e) => e.type === 'retry').length, 0);
  });

  it('messages a connection received before it closed are delivered, also when the next connection opened and closed meanwhile', async () => {
    // Each connection sends three messages and closes: 1001 (reconnect) for
    // the first two, 1000 (final) for the third.
    const { server, accepted } = await numbered(3, (c, k) =>
      c.closeWithCode(k < 3 ? 1001 : 1000, `done ${k}`),
    );
    // Room for what each connection sends: a full readable would stop reading
    // before the Close (backpressure), and no connection would end.
    const ws = reconnecting(server.url, {
      reconnectDelay: 5,
      maxReconnectDelay: 10,
      readableStrategy: { highWaterMark: 8 },
    });
    const { readable } = await ws.opened;
    const reader = readable.getReader();
    // Nothing is read until every connection has come and gone.
    assert.deepEqual(await ws.closed, { closeCode: 1000, reason: 'done 3' });
    assert.equal(accepted(), 3);
    const got: string[] = [];
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      got.push(String(next.value));
    }
    assert.deepEqual(got, ['c1-0', 'c1-1', 'c1-2', 'c2-0', 'c2-1', 'c2-2', 'c3-0', 'c3-1', 'c3-2']);
  });

  it('a read waiting when the connection closes gets what it received, then the next connection', async () => {
    const { server } = await numbered(1, (c, k) => {
      if (k === 1) c.closeWithCode(1001);
    });
    const ws = reconnecting(server.url, { reconnectDelay: 5 });
    const { readable } = await ws.opened;
    const reader = readable.getReader();
    assert.equal((await reader.read()).value, 'c1');
    assert.equal((await reader.read()).value, 'c2');
    ws.close();
    assert.deepEqual(await reader.read(), { value: undefined, done: true });
  });

  it('a readable nobody reads keeps nothing of the connections that ended', async () => {
    const { server } = await numbered(1, (c, k) => {
      if (k === 1) c.closeWithCode(1001);
    });
    const { ws, events } = watched(server.url);
    const { readable } = await ws.opened;
    await opens(events, 2);
    // Reading starts with the connection that is open.
    const reader = readable.getReader();
    assert.equal((await reader.read()).value, 'c2');
    ws.close();
    await ws.closed;
  });

  it('a reader taken after a connection ended with no reader starts with the connection open then', async () => {
    const { server } = await numbered(1, (c, k) => {
      if (k < 3) setTimeout(() => c.closeWithCode(1001), 20);
    });
    const { ws, events } = watched(server.url);
    const { readable } = await ws.opened;
    // Held (not read) while the first connection ends, released while the second does.
    const first = readable.getReader();
    await opens(events, 2);
    first.releaseLock();
    await opens(events, 3);
    const reader = readable.getReader();
    assert.equal((await reader.read()).value, 'c3');
    ws.close();
    await ws.closed;
  });

  it('a reader that holds the readable but reads nothing keeps no connection that ended empty', async () => {
    const v8 = await import('node:v8');
    const vm = await import('node:vm');
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const made: Array<WeakRef<object>> = [];
    const onOpen = (message: unknown): void => {
      made.push(new WeakRef((message as { connection: object }).connection));
    };
    diagnosticsChannel.subscribe(DIAGNOSTICS_CHANNELS.open, onOpen);
    const { server, accepted } = await numbered(0, (c) =>
      setTimeout(() => c.closeWithCode(1001), 5),
    );
    try {
      const ws = reconnecting(server.url, { reconnectDelay: 5, maxReconnectDelay: 10 });
      const { readable } = await ws.opened;
      const reader = readable.getReader();
      while (accepted() < 20) await new Promise((r) => setTimeout(r, 10));
      for (let i = 0; i < 4; i++) {
        gc();
        await new Promise((r) => setTimeout(r, 10));
      }
      const clients = made.filter((ref) => !(ref.deref() instanceof WebSocketConnection));
      const alive = clients.filter((ref) => ref.deref() !== undefined).length;
      assert.ok(clients.length >= 20, `${clients.length} connections`);
      // Reconnects go on meanwhile: the current connection and those still
      // closing are alive (a few more on a loaded machine); a leak keeps them all.
      assert.ok(alive <= 6, `${alive} of ${clients.length} connections still held`);
      ws.close();
      await ws.closed;
      assert.deepEqual(await reader.read(), { value: undefined, done: true });
    } finally {
      diagnosticsChannel.unsubscribe(DIAGNOSTICS_CHANNELS.open, onOpen);
    }
  });

  it('once no connection follows, the writable errors and the readable ends without a read or write', async () => {
    const server = await serve({ port: 0, host: '127.0.0.1' }, async (c) => {
      await c.opened;
      c.closeWithCode(1000, 'done');
    });
    servers.push(server);
    const ws = reconnecting(server.url);
    const { readable, writable } = await ws.opened;
    const reader = readable.getReader();
    const writer = writable.getWriter();
    assert.deepEqual(await ws.closed, { closeCode: 1000, reason: 'done' });
    await assert.rejects(writer.closed, { name: 'InvalidStateError' });
    await reader.closed;

    // Given up: both streams error with the reason.
    const port = await freePort();
    const gone = await echo(port, []);
    const given = reconnecting(`ws://127.0.0.1:${port}/`, { reconnectDelay: 5, maxAttempts: 1 });
    const streams = await given.opened;
    const w = streams.writable.getWriter();
    const r = streams.readable.getReader();
    await gone.close();
    await assert.rejects(given.closed, /gave up after 1 failed attempt/);
    await assert.rejects(w.closed, /gave up after 1 failed attempt/);
    await assert.rejects(r.closed, /gave up after 1 failed attempt/);
  });

  it('the signal of the options is not listened to once closed', async () => {
    const port = await freePort();
    await echo(port, []);
    const controller = new AbortController();
    const before = getEventListeners(controller.signal, 'abort').length;
    for (let i = 0; i < 3; i++) {
      const ws = reconnecting(`ws://127.0.0.1:${port}/`, { signal: controller.signal });
      await ws.opened;
      ws.close();
      await ws.closed;
    }
    assert.equal(getEventListeners(controller.signal, 'abort').length, before);
  });

  it('maxAttempts: gives up after that many failed attempts; closed rejects, the streams error', async () => {
    const port = await freePort(); // nothing listens
    const events: ReconnectEvent[] = [];
    const ws = reconnecting(`ws://127.0.0.1:${port}/`, {
      reconnectDelay: 10,
      maxAttempts: 3,
      onEvent: (e) => events.push(e),
    });
    await assert.rejects(ws.closed, /gave up after 3 failed attempts/);
    await assert.rejects(ws.opened, /gave up after 3 failed attempts/);
    assert.equal(events.filter((e) => e.type === 'close').length, 3);
    assert.deepEqual(events.at(-1), { type: 'give-up', attempts: 3 });
  });

  it('a server that accepts and drops at once is retried ever more slowly: a connection shorter than minUptime is a failed attempt', async () => {
    const accepted: number[] = [];
    const server = await serve({ port: 0, host: '127.0.0.1' }, (c) => {
      accepted.push(performance.now());
      c.closeWithCode(1013, 'Try Again Later');
    });
    servers.push(server);
    const events: ReconnectEvent[] = [];
    // The default minUptime (5 s) outlasts the test: no connection resets the backoff.
    const ws = reconnecting(server.url, {
      reconnectDelay: 10,
      maxReconnectDelay: 400,
      onEvent: (e) => events.push(e),
    });
    await ws.opened;
    await new Promise((r) => setTimeout(r, 1500));
    ws.close();
    await ws.closed;
    // Reset at every open, 1.5 s of 5-10 ms delays is dozens of connections;
    // growing, even the shortest delays (10, 20, 40, 80, 160, then 200 each)
    // leave room for 11.
    assert.ok(accepted.length <= 12, `${accepted.length} connections in 1.5 s`);
    const retries = events.filter((e) => e.type === 'retry');
    assert.ok(retries.length >= 4, `${retries.length} retries`);
    // Each retry is the next step: the first connection was attempt 1.
    retries.forEach((e, i) => {
      const step = Math.min(400, 10 * 2 ** (i + 1));
      assert.equal(e.attempt, i + 2, `retry ${i}`);
      assert.ok(e.delay >= step / 2 && e.delay <= step, `retry ${i}: ${e.delay} ms`);
    });
    // The server saw them spaced at least as the client meant to (a timer
    // never fires early; 2 ms for the rounding of the clocks).
    for (let i = 1; i < accepted.length; i++) {
      const gap = accepted[i]! - accepted[i - 1]!;
      assert.ok(gap >= retries[i - 1]!.delay - 2, `gap ${i}: ${gap} ms`);
    }
  });

  it('a connection that stays open minUptime resets the backoff; one that closes sooner does not', async () => {
    // How long the server keeps its k-th connection (from 1); the fifth stays.
    const hold = [0, 100, 800, 0];
    let n = 0;
    const server = await serve({ port: 0, host: '127.0.0.1' }, async (c) => {
      const k = ++n;
      await c.opened;
      if (k <= hold.length) setTimeout(() => c.closeWithCode(1013), hold[k - 1]);
    });
    servers.push(server);
    const events: ReconnectEvent[] = [];
    const ws = reconnecting(server.url, {
      reconnectDelay: 10,
      minUptime: 400,
      onEvent: (e) => events.push(e),
    });
    await opens(events, 5);
    ws.close();
    await ws.closed;
    const retries = events.flatMap((e) => (e.type === 'retry' ? [e] : []));
    // 100 ms is short of minUptime (the step grows), 800 ms is past it (back to the first step).
    assert.deepEqual(
      retries.map((e) => e.attempt),
      [2, 3, 1, 2],
    );
    for (const e of retries) {
      const step = 10 * 2 ** (e.attempt - 1);
      assert.ok(e.delay >= step / 2 && e.delay <= step, `attempt ${e.attempt}: ${e.delay} ms`);
    }
    assert.deepEqual(
      events.flatMap((e) => (e.type === 'open' ? [e.attempt] : [])),
      [0, 1, 2, 0, 1],
    );
  });

  it('minUptime 0: every open resets the backoff', async () => {
    const server = await serve({ port: 0, host: '127.0.0.1' }, (c) => c.closeWithCode(1013));
    servers.push(server);
    const events: ReconnectEvent[] = [];
    const ws = reconnecting(server.url, {
      reconnectDelay: 5,
      minUptime: 0,
      onEvent: (e) => events.push(e),
    });
    await opens(events, 4);
    ws.close();
    await ws.closed;
    const retries = events.flatMap((e) => (e.type === 'retry' ? [e] : []));
    assert.ok(retries.length >= 3, `${retries.length} retries`);
    for (const e of retries) assert.equal(e.attempt, 1);
  });

  it('close() during the longer backoff after a short connection ends it at once', async () => {
    const server = await serve({ port: 0, host: '127.0.0.1' }, (c) => c.closeWithCode(1013));
    servers.push(server);
    const retries: Array<ReconnectEvent & { type: 'retry' }> = [];
    let retried!: () => void;
    const waiting = new Promise<void>((resolve) => (retried = resolve));
    const ws = reconnecting(server.url, {
      reconnectDelay: 20_000,
      onEvent: (e) => {
        if (e.type !== 'retry') return;
        retries.push(e);
        retried();
      },
    });
    await waiting;
    const start = Date.now();
    ws.close();
    assert.equal((await ws.closed).closeCode, 1013);
    assert.ok(Date.now() - start < 5_000, `closed after ${Date.now() - start} ms`);
    // The short connection was a failed attempt: the second step, capped at 30 s.
    assert.equal(retries.length, 1);
    assert.equal(retries[0]!.attempt, 2);
    assert.ok(retries[0]!.delay >= 15_000, `${retries[0]!.delay} ms`);
  });

  it('close() during the backoff stops it at once', async () => {
    const port = await freePort();
    const ws = reconnecting(`ws://127.0.0.1:${port}/`, { reconnectDelay: 60_000 });
    await new Promise((r) => setTimeout(r, 100));
    ws.close();
    assert.equal((await ws.closed).closeCode, 1005);
  });

  it('close() during the backoff before any connection: opened rejects, closed fulfils', async () => {
    const port = await freePort();
    const ws = reconnecting(`ws://127.0.0.1:${port}/`, { reconnectDelay: 60_000 });
    await new Promise((r) => setTimeout(r, 100));
    ws.close();
    await assert.rejects(ws.opened, /closed before a connection/);
    assert.equal((await ws.closed).closeCode, 1005);
  });

  it('close() while the first connection is in its handshake drops it at once', async () => {
    // Accepts TCP and never answers the handshake.
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const ws = reconnecting(`ws://127.0.0.1:${port}/`, { handshakeTimeout: 30_000 });
      await new Promise((r) => setTimeout(r, 100));
      const start = Date.now();
      ws.close({ closeCode: 1000 });
      await assert.rejects(ws.opened, /closed before a connection/);
      assert.equal((await ws.closed).closeCode, 1005);
      assert.ok(Date.now() - start < 5_000, `settled after ${Date.now() - start} ms`);
    } finally {
      silent.close();
    }
  });

  it('close() checks its argument as WebSocketStream does: a bad one throws and changes nothing', async () => {
    const port = await freePort();
    const got: string[] = [];
    await echo(port, got);
    const ws = reconnecting(`ws://127.0.0.1:${port}/`);
    await ws.opened;
    assert.throws(() => ws.close({ closeCode: 999 }), { name: 'InvalidAccessError' });
    assert.throws(() => ws.close({ closeCode: 1000, reason: 'x'.repeat(124) }), {
      name: 'SyntaxError',
    });
    ws.close({ closeCode: 4000, reason: 'done' });
    assert.deepEqual(await ws.closed, { closeCode: 4000, reason: 'done' });
  });

  it('an async hook that rejects does not take the process down', async () => {
    await withoutUnhandledRejections(async () => {
      const port = await freePort();
      const ws = reconnecting(`ws://127.0.0.1:${port}/`, {
        reconnectDelay: 5,
        maxAttempts: 2,
        // eslint-disable-next-line @typescript-eslint/no-misused-promises
        onEvent: async () => {
          throw new Error('hook');
        },
      });
      await assert.rejects(ws.closed, /gave up/);
    });
  });

  it('a hook that throws does not stop it', async () => {
    const port = await freePort();
    const ws = reconnecting(`ws://127.0.0.1:${port}/`, {
      reconnectDelay: 5,
      maxAttempts: 2,
      onEvent: () => {
        throw new Error('hook');
      },
      shouldReconnect: () => {
        throw new Error('hook');
      },
    });
    await assert.rejects(ws.closed, /gave up/);
  });

  it('shouldReconnect whose answer throws when its then is read counts as false, and the streams end', async () => {
    const server = await serve({ port: 0, host: '127.0.0.1' }, (c) =>
      c.close({ closeCode: 4001, reason: 'bye' }),
    );
    servers.push(server);
    const ws = reconnecting(server.url, {
      reconnectDelay: 5,
      shouldReconnect: () => ({
        get then(): never {
          throw new Error('hook');
        },
      }),
    });
    const { writable } = await ws.opened;
    assert.deepEqual(await ws.closed, { closeCode: 4001, reason: 'bye' });
    await assert.rejects(writable.getWriter().write('x'), { name: 'InvalidStateError' });
  });

  it('headers given as a generator are sent on every connection, not used up by the first', async () => {
    const seen: Array<string | undefined> = [];
    let n = 0;
    const server = await serve({ port: 0, host: '127.0.0.1' }, (c) => {
      seen.push(c.request.headers['x-token'] as string | undefined);
      c.close({ closeCode: ++n < 3 ? 1012 : 1000 });
    });
    servers.push(server);
    function* headers(): Generator<[string, string]> {
      yield ['X-Token', 'abc'];
    }
    const ws = reconnecting(server.url, { reconnectDelay: 5, headers: headers() });
    assert.deepEqual(await ws.closed, { closeCode: 1000, reason: '' });
    assert.deepEqual(seen, ['abc', 'abc', 'abc']);
  });

  it('shouldReconnect may answer with a promise; a rejection counts as false', async () => {
    let n = 0;
    const server = await serve({ port: 0, host: '127.0.0.1' }, (c) =>
      c.close({ closeCode: 4000 + ++n, reason: `close ${n}` }),
    );
    servers.push(server);
    const asked: number[] = [];
    const ws = reconnecting(server.url, {
      reconnectDelay: 5,
      shouldReconnect: async (code) => {
        asked.push(code);
        await new Promise((r) => setTimeout(r, 30));
        if (code === 4003) throw new Error('decided against');
        return code < 4003;
      },
    });
    assert.deepEqual(await ws.closed, { closeCode: 4003, reason: 'close 3' });
    assert.deepEqual(asked, [4001, 4002, 4003]);
    assert.equal(n, 3, 'no attempt after the rejection');
  });

  it('close() does not wait for a shouldReconnect promise, and no retry is told of after it', async () => {
    const { server } = await numbered(0, (c) => c.closeWithCode(4000));
    const events: ReconnectEvent[] = [];
    const ws = reconnecting(server.url, {
      reconnectDelay: 5,
      shouldReconnect: () => new Promise<boolean>((r) => setTimeout(() => r(true), 3_000)),
      onEvent: (e) => events.push(e),
    });
    const { writable } = await ws.opened;
    const writer = writable.getWriter();
    while (!events.some((e) => e.type === 'close')) await new Promise((r) => setTimeout(r, 5));
    // The write waits for a connection while the decision is pending.
    const write = writer.write('waits');
    const start = Date.now();
    ws.close();
    assert.equal((await ws.closed).closeCode, 4000);
    await assert.rejects(write, { name: 'InvalidStateError' });
    assert.ok(Date.now() - start < 1_000, `closed after ${Date.now() - start} ms`);
    assert.deepEqual(
      events.map((e) => e.type),
      ['open', 'close'],
    );
  });

  it('close() called from the retry event ends the backoff at once', async () => {
    const port = await freePort();
    const ws = reconnecting(`ws://127.0.0.1:${port}/`, {
      reconnectDelay: 60_000,
      onEvent: (e) => {
        // The first failed attempt's retry event comes after the constructor returned.
        if (e.type === 'retry') ws.close();
      },
    });
    const start = Date.now();
    assert.equal((await ws.closed).closeCode, 1005);
    assert.ok(Date.now() - start < 5_000, `closed after ${Date.now() - start} ms`);
  });

  it('an aborted signal: no attempt follows, opened and closed reject with its reason', async () => {
    // Accepts TCP and never answers the handshake.
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const events: ReconnectEvent[] = [];
      const controller = new AbortController();
      const ws = reconnecting(`ws://127.0.0.1:${port}/`, {
        signal: controller.signal,
        reconnectDelay: 5,
        handshakeTimeout: 30_000,
        onEvent: (e) => events.push(e),
      });
      await new Promise((r) => setTimeout(r, 50));
      const reason = new Error('user aborted');
      controller.abort(reason);
      await assert.rejects(ws.opened, (e) => e === reason);
      await assert.rejects(ws.closed, (e) => e === reason);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(
        events.filter((e) => e.type === 'retry'),
        [],
        'no attempt after the abort',
      );
      // Already aborted: nothing is attempted at all.
      const early = reconnecting(`ws://127.0.0.1:${port}/`, { signal: AbortSignal.abort(reason) });
      await assert.rejects(early.closed, (e) => e === reason);
    } finally {
      silent.close();
    }
  });

  it("cancelling the readable closes with the reason's code and ends reconnecting", async () => {
    const port = await freePort();
    await echo(port, []);
    const ws = reconnecting(`ws://127.0.0.1:${port}/`);
    const { readable } = await ws.opened;
    await readable.cancel(new WebSocketError('bye', { closeCode: 4001, reason: 'r4001' }));
    assert.deepEqual(await ws.closed, { closeCode: 4001, reason: 'r4001' });
  });

  it('aborting the writable while a write waits for a connection ends it at once', async () => {
    const port = await freePort();
    const server = await echo(port, []);
    const events: ReconnectEvent[] = [];
    const ws = reconnecting(`ws://127.0.0.1:${port}/`, {
      reconnectDelay: 20,
      maxReconnectDelay: 40,
      onEvent: (e) => events.push(e),
    });
    const { writable } = await ws.opened;
    const writer = writable.getWriter();
    await server.close(); // 1001, then every attempt is refused
    const pending = writer.write('waits for a connection');
    pending.catch(() => {});
    const start = Date.now();
    await writer.abort(new Error('gave up'));
    await ws.closed;
    assert.ok(Date.now() - start < 2_000, `ended after ${Date.now() - start} ms`);
    await assert.rejects(pending);
    const retries = events.filter((e) => e.type === 'retry').length;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(events.filter((e) => e.type === 'retry').length, retries, 'no retry after');
  });

  it('a chunk WebSocketStream refuses rejects the write with its TypeError', async () => {
    const port = await freePort();
    await echo(port, []);
    const ws = reconnecting(`ws://127.0.0.1:${port}/`);
    const { writable } = await ws.opened;
    const writer = writable.getWriter();
    await assert.rejects(writer.write(new SharedArrayBuffer(4)), TypeError);
    ws.close();
    await ws.closed;
  });

  it('a chunk whose conversion throws anything else rejects with that, at once', async () => {
    const port = await freePort();
    await echo(port, []);
    const ws = reconnecting(`ws://127.0.0.1:${port}/`);
    const { writable } = await ws.opened;
    const writer = writable.getWriter();
    const chunk = {
      toString(): string {
        throw new RangeError('no string for this');
      },
    };
    await assert.rejects(writer.write(chunk), RangeError);
    ws.close();
    await ws.closed;
  });
});
