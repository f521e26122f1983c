/**
 * readable.pipeTo(writable) between wsstream streams (src/streams/direct-pipe.ts):
 * - it takes the direct path (the runtime's pipeTo() runs only once the
 *   pipe hands over) and holds both locks meanwhile;
 * - every way such a pipe ends gives the same outcome as the runtime's
 *   pipeTo() on the same streams: the pipe's promise, both connections'
 *   `closed`, and what the peers (`ws` clients, a raw client) receive;
 * - backpressure, counted in bytes: an echo client and a relay destination
 *   that never read stall the sender, with at most one message held in
 *   wsstream for them.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import WebSocket from 'ws';
import { serve, type WebSocketConnection, type WebSocketServer } from '../../src/server.js';
import { Sender } from '../../src/streams/sender.js';
import {
  clientFrame,
  closePayload,
  rawClient,
  readClose,
  tcp,
  upgradeRequest,
  wsOpen,
} from './helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The runtime's own pipeTo(), for the comparison. */
const runtimePipeTo = Object.getOwnPropertyDescriptor(ReadableStream.prototype, 'pipeTo')!
  .value as ReadableStream['pipeTo'];

type Mode = 'direct' | 'runtime';

function pipe(
  mode: Mode,
  readable: ReadableStream,
  writable: WritableStream,
  options?: StreamPipeOptions,
): Promise<void> {
  return mode === 'direct'
    ? readable.pipeTo(writable, options)
    : Reflect.apply(runtimePipeTo, readable, [writable, options]);
}

/** A settled promise as a comparable string. */
async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    const value = await promise;
    return `fulfilled ${JSON.stringify(value ?? null)}`;
  } catch (error) {
    const e = error as Error & { closeCode?: number; reason?: string };
    const code = e.closeCode === undefined ? '' : ` ${e.closeCode} ${JSON.stringify(e.reason)}`;
    return `rejected ${e.name}${code}: ${e.message}`;
  }
}

/** What a `ws` client received: its messages in order, then its close. */
function record(ws: WebSocket): { messages: string[]; closed: Promise<string> } {
  const messages: string[] = [];
  ws.on('message', (data: Buffer, isBinary) =>
    messages.push(`${isBinary ? 'binary' : 'text'} ${data.toString()}`),
  );
  ws.on('error', () => {});
  const closed = once(ws, 'close').then(
    ([code, reason]) => `${String(code)} ${String(reason as Buffer)}`,
  );
  return { messages, closed };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 2));
}

/**
 * A server whose handler, for each connection, hands it to `onConnection`
 * (in the order they open).
 */
async function server(
  onConnection: (connection: WebSocketConnection) => Promise<void> | void,
): Promise<WebSocketServer> {
  return serve({ host: '127.0.0.1' }, onConnection);
}

interface Scenario {
  name: string;
  run(mode: Mode): Promise<Record<string, unknown>>;
}

/** An echo connection: the client sends `sent`, waits for them back, then `end` acts. */
function echoScenario(
  name: string,
  options: (signal: AbortController) => StreamPipeOptions | undefined,
  end: (ctx: { ws: WebSocket; connection: WebSocketConnection; abort: AbortController }) => void,
): Scenario {
  return {
    name,
    async run(mode) {
      let piped!: Promise<string>;
      let connection!: WebSocketConnection;
      const abort = new AbortController();
      const srv = await server(async (c) => {
        connection = c;
        const { readable, writable } = await c.opened;
        piped = outcome(pipe(mode, readable, writable, options(abort)));
        await piped;
      });
      try {
        const ws = await wsOpen(srv.url);
        const got = record(ws);
        ws.send('a');
        ws.send(Buffer.from('b'));
        ws.send('c'.repeat(100));
        await until(() => got.messages.length === 3);
        end({ ws, connection, abort });
        return {
          pipe: await piped,
          serverClosed: await outcome(connection.closed),
          client: { messages: got.messages, closed: await got.closed },
        };
      } finally {
        await srv.close();
      }
    },
  };
}

/** Two connections, A's readable piped to B's writable; A sends, then `end` acts. */
function relayScenario(
  name: string,
  options: StreamPipeOptions | undefined,
  end: (ctx: { a: WebSocket; b: WebSocket; conns: WebSocketConnection[] }) => void,
): Scenario {
  return {
    name,
    async run(mode) {
      const conns: WebSocketConnection[] = [];
      let piped!: Promise<string>;
      const srv = await server(async (c) => {
        conns.push(c);
        await c.opened;
        if (conns.length === 2) {
          const a = (await conns[0]!.opened).readable;
          const b = (await conns[1]!.opened).writable;
          piped = outcome(pipe(mode, a, b, options));
        }
      });
      try {
        const a = await wsOpen(srv.url);
        const gotA = record(a);
        await until(() => conns.length === 1);
        const b = await wsOpen(srv.url);
        const gotB = record(b);
        await until(() => piped !== undefined);
        a.send('one');
        a.send(Buffer.from('two'));
        a.send('three');
        await until(() => gotB.messages.length === 3);
        end({ a, b, conns });
        const pipeOutcome = await piped;
        const closedA = await outcome(conns[0]!.closed);
        const closedB = await outcome(conns[1]!.closed);
        return {
          pipe: pipeOutcome,
          closedA,
          closedB,
          a: { messages: gotA.messages, closed: await gotA.closed },
          b: { messages: gotB.messages, closed: await gotB.closed },
        };
      } finally {
        await srv.close();
      }
    },
  };
}

const scenarios: Scenario[] = [
  echoScenario(
    'echo: the peer closes',
    () => undefined,
    ({ ws }) => ws.close(1000, 'bye'),
  ),
  echoScenario(
    'echo: the peer drops the connection',
    () => undefined,
    ({ ws }) => ws.terminate(),
  ),
  echoScenario(
    'echo with preventClose: the peer closes',
    () => ({ preventClose: true }),
    ({ ws }) => ws.close(4000, 'prevent'),
  ),
  echoScenario(
    'echo: the application closes the connection',
    () => undefined,
    ({ connection }) => connection.close({ closeCode: 4001, reason: 'app' }),
  ),
  echoScenario(
    'echo: the signal aborts',
    (abort) => ({ signal: abort.signal }),
    ({ abort, ws }) => {
      abort.abort(new Error('stop'));
      ws.on('close', () => {});
    },
  ),
  echoScenario(
    'echo with preventAbort and preventCancel: the signal aborts',
    (abort) => ({ signal: abort.signal, preventAbort: true, preventCancel: true }),
    ({ abort, connection }) => {
      abort.abort(new Error('stop'));
      setTimeout(() => connection.close({ closeCode: 4002, reason: 'after' }), 20);
    },
  ),
  relayScenario('relay: the source peer closes', undefined, ({ a }) => a.close(1000, 'a done')),
  relayScenario('relay: the destination peer closes', undefined, ({ b }) =>
    b.close(4003, 'b done'),
  ),
  relayScenario(
    'relay with preventCancel: the destination peer drops',
    { preventCancel: true },
    ({ a, b }) => {
      b.terminate();
      // A stays open: its peer closes it later.
      setTimeout(() => a.close(1000, 'a later'), 50);
    },
  ),
  relayScenario(
    'relay with preventClose: the source peer drops',
    { preventClose: true },
    ({ a, b }) => {
      a.terminate();
      setTimeout(() => b.close(1000, 'b later'), 20);
    },
  ),
];

for (const scenario of scenarios) {
  void test(`the same outcome as the runtime's pipeTo(): ${scenario.name}`, async (t) => {
    const runtime = await scenario.run('runtime');
    const direct = await scenario.run('direct');
    t.diagnostic(JSON.stringify(direct));
    assert.deepEqual(direct, runtime);
  });
}

/**
 * An echo to a raw client that writes `bytes` in one write, then reads
 * every frame back until the server closes the connection.
 */
async function rawEcho(mode: Mode, bytes: Buffer): Promise<Record<string, unknown>> {
  let piped!: Promise<string>;
  let connection!: WebSocketConnection;
  const srv = await serve({ host: '127.0.0.1', perMessageDeflate: false }, async (c) => {
    connection = c;
    const { readable, writable } = await c.opened;
    piped = outcome(pipe(mode, readable, writable));
    await piped;
  });
  try {
    const raw = await rawClient(srv.address.port);
    raw.socket.write(bytes);
    const closed = once(raw.socket, 'close');
    const got = [];
    for (;;) {
      const frame = await raw.nextFrame().catch(() => null);
      if (frame === null) break;
      got.push(frame);
    }
    await closed;
    return {
      frames: got.map((f) =>
        f.opcode === 8
          ? `close ${JSON.stringify(readClose(f.payload))}`
          : `${f.opcode} ${f.payload.toString()}`,
      ),
      pipe: await piped,
      serverClosed: await outcome(connection.closed),
    };
  } finally {
    await srv.close();
  }
}

void test("the same outcome as the runtime's pipeTo(): a protocol violation after messages", async () => {
  // Two messages, then a text frame that is not UTF-8, in one write.
  const bytes = Buffer.concat([
    clientFrame(1, 'first'),
    clientFrame(2, 'second'),
    clientFrame(1, Buffer.from([0x61, 0xff, 0x62])),
  ]);
  const runtime = await rawEcho('runtime', bytes);
  const direct = await rawEcho('direct', bytes);
  assert.deepEqual(direct, runtime);
  assert.match(String((direct.frames as string[])[2]), /1007/);
});

void test("the same outcome as the runtime's pipeTo(): a message and the peer's Close in one segment", async () => {
  // The Close is handled before the message is delivered: the closing
  // handshake has started when the pipe writes, and the echo is refused.
  const bytes = Buffer.concat([clientFrame(1, 'last'), clientFrame(8, closePayload(4004, 'now'))]);
  const runtime = await rawEcho('runtime', bytes);
  const direct = await rawEcho('direct', bytes);
  assert.deepEqual(direct, runtime);
  assert.deepEqual(direct.frames, ['close {"code":4004,"reason":"now"}']);
  assert.match(String(direct.pipe), /^rejected InvalidStateError/);
  assert.equal(direct.serverClosed, 'fulfilled {"closeCode":4004,"reason":"now"}');
});

void test('the direct path writes without the writable (both locks held)', async () => {
  // The writable's underlying sink is the Sender: count the calls of its write().
  const sink = Sender.prototype as unknown as { write: (chunk: unknown) => unknown };
  const original = sink.write;
  let sinkWrites = 0;
  sink.write = function (this: Sender, chunk: unknown) {
    sinkWrites++;
    return Reflect.apply(original, this, [chunk]);
  };
  try {
    for (const mode of ['runtime', 'direct'] as const) {
      sinkWrites = 0;
      const locks: boolean[] = [];
      let piped!: Promise<string>;
      const srv = await server(async (c) => {
        const { readable, writable } = await c.opened;
        piped = outcome(pipe(mode, readable, writable));
        locks.push(readable.locked, writable.locked);
        await piped;
        locks.push(readable.locked, writable.locked);
      });
      try {
        const ws = await wsOpen(srv.url);
        const got = record(ws);
        for (let i = 0; i < 200; i++) ws.send(`message ${i}`);
        await until(() => got.messages.length === 200);
        assert.deepEqual(
          got.messages,
          Array.from({ length: 200 }, (_, i) => `text message ${i}`),
        );
        assert.equal(sinkWrites, mode === 'direct' ? 0 : 200, `${mode}: the writable's writes`);
        ws.close(1000);
        assert.equal(await piped, 'fulfilled null');
        assert.deepEqual(locks, [true, true, false, false]);
      } finally {
        await srv.close();
      }
    }
  } finally {
    sink.write = original;
  }
});

void test('an application strategy keeps the runtime pipeTo() (its size() is called)', async () => {
  let sized = 0;
  const srv = await serve(
    {
      host: '127.0.0.1',
      writableStrategy: {
        highWaterMark: 4,
        size: () => {
          sized++;
          return 1;
        },
      },
    },
    async (c) => {
      const { readable, writable } = await c.opened;
      await readable.pipeTo(writable).catch(() => {});
    },
  );
  try {
    const ws = await wsOpen(srv.url);
    const got = record(ws);
    for (let i = 0; i < 10; i++) ws.send(`m${i}`);
    await until(() => got.messages.length === 10);
    assert.ok(sized >= 10, `size() calls: ${sized}`);
    ws.close();
    await got.closed;
  } finally {
    await srv.close();
  }
});

/** A raw client that floods 64 KiB binary messages and never reads; counts what it wrote. */
async function flooder(
  port: number,
  path = '/',
): Promise<{ start: () => void; written: () => number; stop: () => void }> {
  const socket = await tcp(port);
  socket.on('error', () => {});
  socket.write(upgradeRequest(port, [], path));
  await once(socket, 'data');
  socket.pause();
  const frame = clientFrame(2, Buffer.alloc(64 * KiB, 3));
  let written = 0;
  let stopped = false;
  const pump = (): void => {
    while (!stopped && socket.write(frame)) written += frame.length;
    if (!stopped) {
      written += frame.length;
      socket.once('drain', pump);
    }
  };
  return {
    start: pump,
    written: () => written - socket.writableLength,
    stop: () => {
      stopped = true;
      socket.destroy();
    },
  };
}

/** Moves `total` bytes through an echo connection of `url`. */
async function echoBytes(url: string, total: number): Promise<void> {
  const ws = await wsOpen(url);
  let received = 0;
  const done = new Promise<void>((resolve) =>
    ws.on('message', (d: Buffer) => {
      received += d.length;
      if (received >= total) resolve();
    }),
  );
  const chunk = Buffer.alloc(64 * KiB, 1);
  for (let sent = 0; sent < total; sent += chunk.length) {
    ws.send(chunk);
    if (ws.bufferedAmount > 4 * MiB) await new Promise((r) => setImmediate(r));
  }
  await done;
  ws.terminate();
}

void test(
  'backpressure: an echo client that never reads stalls, with one message held for it',
  {
    timeout: 60_000,
  },
  async (t) => {
    const conns = new Map<string, WebSocketConnection>();
    const srv = await serve({ host: '127.0.0.1', perMessageDeflate: false }, async (c) => {
      conns.set(c.request.url ?? '', c);
      const { readable, writable } = await c.opened;
      await readable.pipeTo(writable).catch(() => {});
    });
    try {
      const flood = await flooder(srv.address.port, '/flood');
      flood.start();
      const session = (): NonNullable<WebSocketConnection['session']> =>
        conns.get('/flood')!.session!;
      // Counted on the server (what the client's kernel accepts meanwhile
      // depends on how its buffers grow): once the echo's write waits, the
      // server reads nothing more from this client.
      await echoBytes(`${srv.url}other`, 16 * MiB);
      const first = session().transport.bytesRead;
      await echoBytes(`${srv.url}other`, 16 * MiB);
      const second = session().transport.bytesRead;
      const stats = session().stats();
      t.diagnostic(
        `the flooding client wrote ${flood.written()} bytes; the server read ${second}, ` +
          `holds ${session().transport.bufferedAmount} in its socket and ${stats.messagesWaiting} messages in its inbox`,
      );
      assert.equal(second, first, 'the server read on while another connection moved 16 MiB');
      assert.ok(
        session().transport.bufferedAmount <= 64 * KiB + 14,
        `held in the server's socket: ${session().transport.bufferedAmount} bytes (one frame at most)`,
      );
      assert.ok(stats.messagesWaiting <= 2, `messages waiting: ${stats.messagesWaiting}`);
      assert.equal(session().receiver.paused, true);
      flood.stop();
    } finally {
      await srv.close();
    }
  },
);

void test(
  'backpressure: a relay to a client that never reads stalls its source',
  {
    timeout: 60_000,
  },
  async (t) => {
    const conns: WebSocketConnection[] = [];
    let piping = false;
    const srv = await serve({ host: '127.0.0.1', perMessageDeflate: false }, async (c) => {
      conns.push(c);
      await c.opened;
      if (conns.length === 2) {
        const { readable } = await conns[0]!.opened;
        const { writable } = await conns[1]!.opened;
        const piped = readable.pipeTo(writable).catch(() => {});
        piping = true;
        await piped;
      }
    });
    try {
      const source = await flooder(srv.address.port);
      await until(() => conns.length === 1);
      // The destination: handshake, then never read.
      const sink = await tcp(srv.address.port);
      sink.on('error', () => {});
      sink.write(upgradeRequest(srv.address.port));
      await once(sink, 'data');
      sink.pause();
      await until(() => piping);
      source.start();
      const [from, to] = [conns[0]!.session!, conns[1]!.session!];
      let last = -1;
      // Until the relay reads nothing from the source for 300 ms (counted
      // on the server: the source's kernel may accept more meanwhile).
      for (;;) {
        await new Promise((r) => setTimeout(r, 300));
        const now = from.transport.bytesRead;
        if (now === last) break;
        assert.ok(now < 256 * MiB, `the relay is still reading after ${now} bytes`);
        last = now;
      }
      last = source.written();
      t.diagnostic(
        `the source wrote ${last} bytes; the relay read ${from.transport.bytesRead}, holds ` +
          `${to.transport.bufferedAmount} in the destination's socket and ${from.stats().messagesWaiting} messages`,
      );
      assert.ok(
        to.transport.bufferedAmount <= 64 * KiB + 14,
        'one frame at most for the destination',
      );
      assert.ok(from.stats().messagesWaiting <= 2);
      assert.equal(from.receiver.paused, true);
      // Reading again moves everything along.
      let drained = 0;
      sink.on('data', (c: Buffer) => (drained += c.length));
      sink.resume();
      await until(() => source.written() > last + 4 * MiB);
      assert.ok(drained > 0);
      source.stop();
      sink.destroy();
    } finally {
      await srv.close();
    }
  },
);
