/**
 * Every way a server connection ends, started from either side, as the `ws`
 * client, our client and a raw client see it; protocol failures (unmasked
 * frames, oversized messages, invalid UTF-8); keepalive pings; graceful
 * shutdown of serve() with 1001 Going Away.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import { WebSocketStream } from '../../src/index.js';
import {
  serve,
  upgrade,
  WebSocketError,
  type ServeOptions,
  type WebSocketConnection,
  type WebSocketServer,
} from '../../src/server.js';
import {
  clientFrame,
  closePayload,
  rawClient,
  readClose,
  tcp,
  upgradeRequest,
  wsClosed,
  wsOpen,
} from './helpers.js';

type Outcome =
  | { clean: true; closeCode: number; reason: string }
  | { clean: false; closeCode: number | null; error: unknown };

async function outcome(connection: WebSocketConnection): Promise<Outcome> {
  try {
    const info = await connection.closed;
    return { clean: true, ...info };
  } catch (error) {
    assert.ok(error instanceof WebSocketError, 'closed rejects with a WebSocketError');
    return { clean: false, closeCode: error.closeCode, error };
  }
}

/**
 * A server whose handler runs `act` on the first connection once the client's
 * first message arrived; resolves `server` and the connection's outcome.
 */
async function withServer(
  act: (
    connection: WebSocketConnection,
    streams: { readable: ReadableStream; writable: WritableStream },
  ) => void | Promise<void>,
  options: ServeOptions = {},
): Promise<{ server: WebSocketServer; outcome: Promise<Outcome> }> {
  let resolveOutcome!: (o: Promise<Outcome>) => void;
  const result = new Promise<Promise<Outcome>>((resolve) => (resolveOutcome = resolve));
  const server = await serve({ host: '127.0.0.1', ...options }, async (connection) => {
    resolveOutcome(outcome(connection));
    const streams = await connection.opened;
    const reader = streams.readable.getReader();
    await reader.read().catch(() => {});
    reader.releaseLock();
    await act(connection, streams);
  });
  return { server, outcome: result.then((o) => o) };
}

void describe('the server closes', { timeout: 20_000 }, () => {
  void test('the ws client closes and drops the connection while our 20 MiB write is unwritten: unclean, with its code and reason (as Chrome)', async () => {
    let writeResult: Promise<unknown> | undefined;
    let laterWrite: (() => Promise<unknown>) | undefined;
    let writing!: () => void;
    const started = new Promise<void>((resolve) => (writing = resolve));
    const { server, outcome } = await withServer((connection, { writable }) => {
      const writer = writable.getWriter();
      writeResult = writer.write(new Uint8Array(20 * 1024 * 1024)).then(
        () => null,
        (e: unknown) => e,
      );
      laterWrite = () =>
        writer.write('later').then(
          () => null,
          (e: unknown) => e,
        );
      writing();
      void connection;
    });
    try {
      // Without compression: 20 MiB of zeros deflate to a few KiB, which the
      // kernel would take at once.
      const ws = await wsOpen(server.url, undefined, { perMessageDeflate: false });
      ws.send('go');
      // ws stops reading: the server's write cannot be handed to the operating system completely.
      (ws as unknown as { _socket: { pause(): void } })._socket.pause();
      await started;
      const connection = [...server.connections][0]!;
      const transport = connection.session!.transport;
      for (let i = 0; i < 500 && transport.bufferedAmount === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.ok(transport.bufferedAmount > 0, 'the write is backed up');
      const readBefore = connection.stats.socketBytesRead;
      ws.close(4002, 'client bye');
      for (let i = 0; i < 500 && connection.stats.socketBytesRead === readBefore; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.ok(connection.stats.socketBytesRead > readBefore, "the client's Close arrived");
      // The client drops the connection without reading our data and our Close.
      ws.terminate();
      const o = await outcome;
      assert.equal(o.clean, false, 'not a clean close');
      assert.equal(o.closeCode, 4002, "the client's code");
      assert.equal(
        (o as { error: WebSocketError }).error.reason,
        'client bye',
        "the client's reason",
      );
      const writeError = await writeResult;
      assert.ok(writeError instanceof DOMException && writeError.name === 'InvalidStateError');
      assert.equal(await laterWrite!(), writeError, 'a later write rejects with the same error');
    } finally {
      await server.close();
    }
  });

  void test('close({closeCode, reason}): the ws client sees them, the server sees the echo', async () => {
    const { server, outcome } = await withServer((c) =>
      c.close({ closeCode: 4001, reason: 'server bye' }),
    );
    try {
      const ws = await wsOpen(server.url);
      const closed = wsClosed(ws);
      ws.send('go');
      assert.deepEqual(await closed, { code: 4001, reason: 'server bye' });
      const o = await outcome;
      assert.equal(o.clean, true);
      assert.equal(o.closeCode, 4001);
    } finally {
      await server.close();
    }
  });

  void test('close() with no code: the client sees 1005, the server a clean close', async () => {
    const { server, outcome } = await withServer((c) => c.close());
    try {
      const ws = await wsOpen(server.url);
      const closed = wsClosed(ws);
      ws.send('go');
      assert.equal((await closed).code, 1005);
      assert.deepEqual(await outcome, { clean: true, closeCode: 1005, reason: '' });
    } finally {
      await server.close();
    }
  });

  void test('close() checks its arguments as the client does', async () => {
    let errors: unknown[] = [];
    const { server } = await withServer((c) => {
      for (const info of [
        { closeCode: 1001 },
        { closeCode: 2999 },
        { closeCode: 1000, reason: 'x'.repeat(124) },
      ]) {
        try {
          c.close(info);
        } catch (e) {
          errors.push(e);
        }
      }
      c.close();
    });
    try {
      const ws = await wsOpen(server.url);
      const closed = wsClosed(ws);
      ws.send('go');
      await closed;
      assert.deepEqual(
        errors.map((e) => (e as DOMException).name),
        ['InvalidAccessError', 'InvalidAccessError', 'SyntaxError'],
      );
      errors = [];
    } finally {
      await server.close();
    }
  });

  void test('writable.close(): client sees 1005, the write side promise settles after the handshake', async () => {
    let writerClosed: Promise<void> | undefined;
    const { server, outcome } = await withServer((_c, { writable }) => {
      writerClosed = writable.getWriter().close();
    });
    try {
      const ws = await wsOpen(server.url);
      const closed = wsClosed(ws);
      ws.send('go');
      assert.equal((await closed).code, 1005);
      assert.equal((await outcome).clean, true);
      await writerClosed;
    } finally {
      await server.close();
    }
  });

  void test('writable.abort(WebSocketError) and readable.cancel(WebSocketError) send its code and reason', async () => {
    for (const how of ['abort', 'cancel'] as const) {
      const { server, outcome } = await withServer(async (_c, { readable, writable }) => {
        const error = new WebSocketError('', { closeCode: 4002, reason: how });
        if (how === 'abort') await writable.abort(error);
        else await readable.cancel(error);
      });
      try {
        const ws = await wsOpen(server.url);
        const closed = wsClosed(ws);
        ws.send('go');
        assert.deepEqual(await closed, { code: 4002, reason: how });
        assert.equal((await outcome).clean, true);
      } finally {
        await server.close();
      }
    }
  });

  void test('terminate(): the client sees 1006, the server an unclean close', async () => {
    const { server, outcome } = await withServer((c) => c.terminate());
    try {
      const ws = await wsOpen(server.url);
      const closed = wsClosed(ws);
      ws.send('go');
      assert.equal((await closed).code, 1006);
      const o = await outcome;
      assert.equal(o.clean, false);
      assert.equal(o.closeCode, 1006);
    } finally {
      await server.close();
    }
  });

  void test('a handler that throws closes its connection with 1011', async () => {
    const { server } = await withServer(() => {
      throw new Error('bug in the application');
    });
    try {
      const ws = await wsOpen(server.url);
      const closed = wsClosed(ws);
      ws.send('go');
      assert.equal((await closed).code, 1011);
    } finally {
      await server.close();
    }
  });

  void test('the server closes the TCP connection first (RFC 6455 7.1.1)', async () => {
    const { server, outcome } = await withServer(() => {}, {});
    try {
      const raw = await rawClient(server.address.port);
      raw.socket.write(clientFrame(0x1, 'go'));
      raw.socket.write(clientFrame(0x8, closePayload(1000, 'raw bye')));
      const frame = await raw.nextFrame();
      assert.equal(frame.opcode, 0x8);
      assert.equal(frame.masked, false, 'server frames are not masked');
      assert.equal(readClose(frame.payload).code, 1000);
      // We never close our side; the server's FIN arrives anyway.
      await once(raw.socket, 'end');
      raw.socket.end();
      assert.deepEqual(await outcome, { clean: true, closeCode: 1000, reason: 'raw bye' });
    } finally {
      await server.close();
    }
  });
});

void describe('the client closes', { timeout: 20_000 }, () => {
  async function readAllThenOutcome(options: ServeOptions = {}): Promise<{
    server: WebSocketServer;
    result: Promise<{ messages: unknown[]; outcome: Outcome }>;
  }> {
    let resolve!: (r: Promise<{ messages: unknown[]; outcome: Outcome }>) => void;
    const result = new Promise<Promise<{ messages: unknown[]; outcome: Outcome }>>(
      (r) => (resolve = r),
    );
    const server = await serve({ host: '127.0.0.1', ...options }, async (connection) => {
      const o = outcome(connection);
      const messages: unknown[] = [];
      resolve(
        (async () => {
          const { readable } = await connection.opened;
          try {
            const reader = readable.getReader();
            for (;;) {
              const { value, done } = await reader.read();
              if (done) break;
              messages.push(value);
            }
          } catch {
            // the readable errors on an unclean close
          }
          return { messages, outcome: await o };
        })(),
      );
    });
    return { server, result: result.then((r) => r) };
  }

  void test('ws close(1000, reason): the server reads every message, then a clean close', async () => {
    const { server, result } = await readAllThenOutcome();
    try {
      const ws = await wsOpen(server.url);
      ws.send('a');
      ws.send(Buffer.from([1, 2]));
      ws.close(1000, 'bye');
      const { messages, outcome: o } = await result;
      assert.deepEqual(messages, ['a', new Uint8Array([1, 2])]);
      assert.deepEqual(o, { clean: true, closeCode: 1000, reason: 'bye' });
      // Our answer echoes the code and the reason, as ws and python-websockets do.
      assert.deepEqual(await wsClosed(ws), { code: 1000, reason: 'bye' });
    } finally {
      await server.close();
    }
  });

  void test('ws close() with no code: the server sees 1005', async () => {
    const { server, result } = await readAllThenOutcome();
    try {
      const ws = await wsOpen(server.url);
      const wsSaw = wsClosed(ws);
      ws.close();
      assert.deepEqual((await result).outcome, { clean: true, closeCode: 1005, reason: '' });
      // A Close without a body is answered without a body: ws reports 1005 too.
      assert.deepEqual(await wsSaw, { code: 1005, reason: '' });
    } finally {
      await server.close();
    }
  });

  void test('ws terminate(): the server sees an unclean close with 1006', async () => {
    const { server, result } = await readAllThenOutcome();
    try {
      // Without compression: ws queues a message behind its async deflate
      // step even when it sends it uncompressed, and terminate() would drop it.
      const ws = await wsOpen(server.url, undefined, { perMessageDeflate: false });
      ws.send('x');
      ws.terminate();
      const { messages, outcome: o } = await result;
      assert.deepEqual(messages, ['x']);
      assert.equal(o.clean, false);
      assert.equal(o.closeCode, 1006);
    } finally {
      await server.close();
    }
  });

  void test('our client close({closeCode, reason}) and close()', async () => {
    for (const [info, expected] of [
      [
        { closeCode: 4000, reason: 'ours' },
        { clean: true, closeCode: 4000, reason: 'ours' },
      ],
      [undefined, { clean: true, closeCode: 1005, reason: '' }],
    ] as const) {
      const { server, result } = await readAllThenOutcome();
      try {
        const wss = new WebSocketStream(server.url);
        const { writable } = await wss.opened;
        const writer = writable.getWriter();
        await writer.write('m');
        wss.close(info);
        const r = await result;
        assert.deepEqual(r.messages, ['m']);
        assert.deepEqual(r.outcome, expected);
        await wss.closed;
      } finally {
        await server.close();
      }
    }
  });

  void test('a client that hangs up during authenticate(): opened rejects at once, nothing opens', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let resolveConnection!: (c: WebSocketConnection) => void;
    const connection = new Promise<WebSocketConnection>((resolve) => (resolveConnection = resolve));
    const http = createServer();
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // A deadline longer than this test's own timeout: only noticing the hang-up can pass.
      resolveConnection(
        upgrade(req, socket, head, { authenticate: () => gate, handshakeTimeout: 60_000 }),
      );
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const port = (http.address() as AddressInfo).port;
    try {
      const socket = await tcp(port);
      socket.write(upgradeRequest(port));
      const c = await connection;
      // A frame sent early (before the 101) sits in front of the FIN.
      socket.end(clientFrame(0x1, 'early'));
      // Rejects while authenticate() is still pending: the hang-up was noticed.
      await assert.rejects(
        c.opened,
        (e: unknown) =>
          e instanceof WebSocketError &&
          e.closeCode === 1006 &&
          /closed the connection during the opening handshake/.test(e.message),
      );
      await assert.rejects(c.closed);
      release();
      await new Promise((r) => setImmediate(r));
      assert.equal(c.session, null, 'no session was started');
    } finally {
      release();
      http.close();
    }
  });
});

void describe('protocol failures', { timeout: 20_000 }, () => {
  void test('an unmasked client frame fails the connection with 1002', async () => {
    const { server, outcome } = await withServer(() => {});
    try {
      const raw = await rawClient(server.address.port);
      raw.socket.write(clientFrame(0x1, 'go'));
      raw.socket.write(clientFrame(0x1, 'not masked', { mask: false }));
      const frame = await raw.nextFrame();
      assert.equal(frame.opcode, 0x8);
      assert.equal(readClose(frame.payload).code, 1002);
      await once(raw.socket, 'end');
      raw.socket.end();
      const o = await outcome;
      assert.equal(o.clean, false);
      assert.equal(o.closeCode, 1002);
    } finally {
      await server.close();
    }
  });

  void test('a message over maxMessageSize fails the connection with 1009', async () => {
    const { server, outcome } = await withServer(
      async (_c, { readable }) => {
        await readable.pipeTo(new WritableStream()).catch(() => {});
      },
      { maxMessageSize: 1024 },
    );
    try {
      const ws = await wsOpen(server.url);
      const closed = wsClosed(ws);
      ws.send('go');
      ws.send(Buffer.alloc(1024)); // at the limit: fine
      ws.send(Buffer.alloc(1025));
      assert.equal((await closed).code, 1009);
      assert.equal((await outcome).closeCode, 1009);
    } finally {
      await server.close();
    }
  });

  void test('invalid UTF-8 in a text message fails the connection with 1007', async () => {
    const { server, outcome } = await withServer(async (_c, { readable }) => {
      await readable.pipeTo(new WritableStream()).catch(() => {});
    });
    try {
      const raw = await rawClient(server.address.port);
      raw.socket.write(clientFrame(0x1, 'go'));
      raw.socket.write(clientFrame(0x1, new Uint8Array([0xc3, 0x28])));
      const frame = await raw.nextFrame();
      assert.equal(readClose(frame.payload).code, 1007);
      raw.socket.end();
      assert.equal((await outcome).closeCode, 1007);
    } finally {
      await server.close();
    }
  });
});

void describe('keepalive', { timeout: 20_000 }, () => {
  void test('a client that stops answering is dropped with 1006', async () => {
    const { server, outcome } = await withServer(() => {}, { pingInterval: 100, pingTimeout: 100 });
    try {
      const raw = await rawClient(server.address.port);
      raw.socket.write(clientFrame(0x1, 'go'));
      // From now on the raw client sends nothing, not even a Pong.
      await once(raw.socket, 'close');
      const pings = raw.frames.filter((f) => f.opcode === 0x9);
      assert.ok(pings.length >= 1, 'the server pinged before giving up');
      const o = await outcome;
      assert.equal(o.clean, false);
      assert.equal(o.closeCode, 1006);
    } finally {
      await server.close();
    }
  });

  void test('a live ws client (answering pings) stays open', async () => {
    let connection: WebSocketConnection | undefined;
    const { server } = await withServer(
      async (c, { readable, writable }) => {
        connection = c;
        await readable.pipeTo(writable).catch(() => {});
      },
      { pingInterval: 50, pingTimeout: 50 },
    );
    try {
      const ws = await wsOpen(server.url);
      ws.send('go');
      let pings = 0;
      await new Promise<void>((resolve) =>
        ws.on('ping', () => {
          if (++pings === 6) resolve();
        }),
      );
      assert.equal(ws.readyState, WebSocket.OPEN);
      assert.equal(server.connections.size, 1);
      const echo = once(ws, 'message');
      ws.send('still here');
      assert.equal(String((await echo)[0]), 'still here');
      const closed = connection!.closed;
      ws.close(1000);
      assert.equal((await closed).closeCode, 1000);
    } finally {
      await server.close();
    }
  });
});

void describe('graceful shutdown', { timeout: 20_000 }, () => {
  void test('close() sends 1001 to every client, waits for them, and refuses new ones', async () => {
    const server = await serve({ host: '127.0.0.1' }, async (connection) => {
      const { readable, writable } = await connection.opened;
      await readable.pipeTo(writable).catch(() => {});
    });
    const url = server.url;
    const wsClients = await Promise.all(Array.from({ length: 5 }, () => wsOpen(url)));
    const ours = Array.from({ length: 5 }, () => new WebSocketStream(url));
    await Promise.all(ours.map((s) => s.opened));
    while (server.connections.size < 10) await new Promise((r) => setImmediate(r));
    const wsSeen = wsClients.map((ws) => wsClosed(ws));
    const serverOutcomes = [...server.connections].map((c) => outcome(c));
    await server.close();
    for (const seen of await Promise.all(wsSeen))
      assert.deepEqual(seen, { code: 1001, reason: 'Server shutting down' });
    for (const s of ours)
      assert.deepEqual(await s.closed, { closeCode: 1001, reason: 'Server shutting down' });
    for (const o of await Promise.all(serverOutcomes)) assert.equal(o.clean, true);
    assert.equal(server.connections.size, 0);
    const late = new WebSocket(url);
    const [error] = (await once(late, 'error')) as [NodeJS.ErrnoException];
    assert.equal(error.code, 'ECONNREFUSED');
  });

  void test('a client that never answers Close is dropped after shutdownTimeout; handshakes in progress are dropped', async () => {
    const server = await serve(
      {
        host: '127.0.0.1',
        shutdownTimeout: 200,
        authenticate: (req) => (req.url === '/slow' ? new Promise<boolean>(() => {}) : true),
      },
      () => {},
    );
    const port = server.address.port;
    const silent = await rawClient(port);
    const pendingSocket = await tcp(port);
    pendingSocket.on('error', () => {});
    pendingSocket.write(upgradeRequest(port, [], '/slow'));
    const idle = await tcp(port); // connected, no request yet
    idle.on('error', () => {});
    while (server.connections.size < 1) await new Promise((r) => setImmediate(r));
    await server.close();
    assert.equal(readClose((await silent.nextFrame()).payload).code, 1001);
    await Promise.all([
      silent.socket.destroyed ? null : once(silent.socket, 'close'),
      pendingSocket.destroyed ? null : once(pendingSocket, 'close'),
      idle.destroyed ? null : once(idle, 'close'),
    ]);
  });
});

void describe('input strictly in order: messages before a violation', { timeout: 20_000 }, () => {
  void test('3 masked messages and a reserved opcode in one write: the echo server answers all 3, then Close 1002', async () => {
    let result!: Promise<Outcome>;
    const server = await serve({ host: '127.0.0.1' }, async (connection) => {
      result = outcome(connection);
      const { readable, writable } = await connection.opened;
      await readable.pipeTo(writable).catch(() => {});
    });
    try {
      const raw = await rawClient(server.address.port);
      raw.socket.write(
        Buffer.concat([
          clientFrame(0x1, 'one'),
          clientFrame(0x1, 'two'),
          clientFrame(0x1, 'three'),
          clientFrame(0x3),
        ]),
      );
      const seen: string[] = [];
      for (;;) {
        const frame = await raw.nextFrame();
        if (frame.opcode === 0x8) {
          seen.push(`close ${readClose(frame.payload).code}`);
          break;
        }
        seen.push(frame.payload.toString());
      }
      assert.deepEqual(seen, ['one', 'two', 'three', 'close 1002']);
      await once(raw.socket, 'end');
      raw.socket.end();
      const o = await result;
      assert.equal(o.clean, false);
      assert.equal(o.closeCode, 1002);
    } finally {
      await server.close();
    }
  });
});
