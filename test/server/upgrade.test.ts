/**
 * upgrade() on an existing node:http server's 'upgrade' event (the pattern of
 * Express, Fastify and Hono's Node server): the same connection shape as the
 * client, routing by path beside ordinary HTTP routes, and refusals that
 * answer HTTP first and then reject `opened`.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { WebSocketStream } from '../../src/index.js';
import { upgrade, WebSocketError, type WebSocketConnection } from '../../src/server.js';
import {
  clientFrame,
  exchange,
  parseFrames,
  parseResponse,
  tcp,
  upgradeRequest,
  wsMessage,
  wsOpen,
} from './helpers.js';

void describe('upgrade() on an existing http server', { timeout: 20_000 }, () => {
  let http: Server;
  let port: number;
  const connections: WebSocketConnection[] = [];

  before(async () => {
    http = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`plain HTTP at ${req.url ?? ''}`);
    });
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!req.url?.startsWith('/ws')) {
        socket.destroy(); // not ours: the application decides
        return;
      }
      const connection = upgrade(req, socket, head, {
        protocols: ['json'],
        authenticate: (r) =>
          r.headers['x-token'] !== 'bad' || { status: 403, message: 'Bad token' },
      });
      connections.push(connection);
      connection.opened.then(
        ({ readable, writable }) => readable.pipeTo(writable).catch(() => {}),
        () => {},
      );
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    port = (http.address() as AddressInfo).port;
  });

  after(() => {
    http.closeAllConnections();
    http.close();
  });

  void test('HTTP routes and WebSocket routes share the port', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/hello`);
    assert.equal(await res.text(), 'plain HTTP at /hello');
    const ws = await wsOpen(`ws://127.0.0.1:${port}/ws/echo`, ['json']);
    assert.equal(ws.protocol, 'json');
    const got = wsMessage(ws);
    ws.send('{"a":1}');
    assert.equal((await got).data.toString(), '{"a":1}');
    const closed = once(ws, 'close');
    ws.close(1000, 'bye');
    await closed;
    const c = connections.at(-1)!;
    assert.equal(c.url, `ws://127.0.0.1:${port}/ws/echo`);
    assert.equal(c.request.headers['sec-websocket-protocol'], 'json');
    assert.deepEqual(await c.closed, { closeCode: 1000, reason: 'bye' });
  });

  void test('the connection has the client shape: url, opened {readable, writable, protocol, extensions}, closed, close()', async () => {
    const client = new WebSocketStream(`ws://127.0.0.1:${port}/ws/shape`, { protocols: ['json'] });
    await client.opened;
    const c = connections.at(-1)!;
    const info = await c.opened;
    assert.ok(info.readable instanceof ReadableStream);
    assert.ok(info.writable instanceof WritableStream);
    assert.equal(info.protocol, 'json');
    assert.equal(
      info.extensions,
      'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12',
    );
    c.close({ closeCode: 4100, reason: 'from the server' });
    assert.equal((await client.closed).closeCode, 4100);
    assert.equal((await c.closed).closeCode, 4100);
  });

  void test('a refusal is answered over HTTP, then opened and closed reject', async () => {
    const res = await exchange(port, upgradeRequest(port, ['X-Token: bad'], '/ws/x'));
    assert.equal(res.status, 403);
    assert.match(res.body, /Bad token/);
    const c = connections.at(-1)!;
    await assert.rejects(
      c.opened,
      (e: unknown) => e instanceof WebSocketError && /403/.test(e.message),
    );
    await assert.rejects(c.closed, WebSocketError);
  });

  void test('a bad handshake on the shared server: 426 for version 8, and the server serves on', async () => {
    const res = await exchange(
      port,
      upgradeRequest(port, [], '/ws/x').replace(
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Version: 8',
      ),
    );
    assert.equal(res.status, 426);
    await assert.rejects(connections.at(-1)!.opened, WebSocketError);
    const ws = await wsOpen(`ws://127.0.0.1:${port}/ws/after`);
    ws.terminate();
    assert.equal((await fetch(`http://127.0.0.1:${port}/still`)).status, 200);
  });

  void test('frames a client sends before the 101 are kept for the session, in order', async () => {
    const socket = await tcp(port);
    const frames = [clientFrame(0x1, 'first'), clientFrame(0x2, Buffer.from([9, 8, 7]))];
    socket.write(Buffer.concat([Buffer.from(upgradeRequest(port, [], '/ws/early')), frames[0]!]));
    setImmediate(() => socket.write(frames[1]!)); // and one more in a later segment
    let data = Buffer.alloc(0);
    for (;;) {
      const [chunk] = (await once(socket, 'data')) as [Buffer];
      data = Buffer.concat([data, chunk]);
      const parsed = parseResponse(data);
      if (parsed === null) continue;
      assert.equal(parsed.response.status, 101);
      const { frames: got } = parseFrames(parsed.rest);
      if (got.length < 2) continue;
      assert.deepEqual(
        got.map((f) => [f.opcode, [...f.payload]]),
        [
          [0x1, [...Buffer.from('first')]],
          [0x2, [9, 8, 7]],
        ],
      );
      break;
    }
    socket.destroy();
  });

  void test('authenticate() throwing: the client gets a bare 500, opened rejects with the error as cause', async () => {
    let hold!: (c: WebSocketConnection) => void;
    const held = new Promise<WebSocketConnection>((resolve) => (hold = resolve));
    const failure = new Error('database down');
    const other = createServer();
    other.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      hold(
        upgrade(req, socket, head, {
          authenticate: () => {
            throw failure;
          },
        }),
      );
    });
    other.listen(0, '127.0.0.1');
    await once(other, 'listening');
    try {
      const otherPort = (other.address() as AddressInfo).port;
      const res = await exchange(otherPort, upgradeRequest(otherPort));
      assert.equal(res.status, 500);
      assert.doesNotMatch(res.body, /database/);
      const c = await held;
      await assert.rejects(
        c.opened,
        (e: unknown) => e instanceof WebSocketError && e.cause === failure,
      );
    } finally {
      other.close();
    }
  });

  void test('upgrade() of a socket the application already answered and ended: opened rejects, the client gets that answer only', async () => {
    let hold!: (c: WebSocketConnection) => void;
    const held = new Promise<WebSocketConnection>((resolve) => (hold = resolve));
    const other = createServer();
    other.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      hold(upgrade(req, socket, head));
    });
    other.listen(0, '127.0.0.1');
    await once(other, 'listening');
    try {
      const otherPort = (other.address() as AddressInfo).port;
      const res = await exchange(otherPort, upgradeRequest(otherPort));
      assert.equal(res.status, 403);
      const c = await held;
      await assert.rejects(
        c.opened,
        (e: unknown) => e instanceof WebSocketError && /already ended/.test(e.message),
      );
      await assert.rejects(c.closed, WebSocketError);
    } finally {
      other.close();
    }
  });

  void test('authenticate() that answers and ends the socket itself, then accepts: the socket is destroyed after the refusal linger, not held for as long as the client stays', async () => {
    let hold!: (socket: Duplex) => void;
    const held = new Promise<Duplex>((resolve) => (hold = resolve));
    const other = createServer();
    other.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      hold(socket);
      const c = upgrade(req, socket, head, {
        authenticate: () => {
          socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
          return true;
        },
      });
      c.opened.catch(() => {});
    });
    other.listen(0, '127.0.0.1');
    await once(other, 'listening');
    // A client that never closes its side.
    const client = await tcp((other.address() as AddressInfo).port);
    client.on('error', () => {});
    try {
      client.write(upgradeRequest((other.address() as AddressInfo).port));
      const socket = await held;
      // REFUSAL_LINGER is 1 s.
      await once(socket, 'close');
      assert.equal(socket.destroyed, true);
    } finally {
      client.destroy();
      other.close();
    }
  });

  void test('close() during the handshake drops the socket and rejects opened', async () => {
    let hold!: (c: WebSocketConnection) => void;
    const held = new Promise<WebSocketConnection>((resolve) => (hold = resolve));
    const other = createServer();
    other.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      hold(upgrade(req, socket, head, { authenticate: () => new Promise<boolean>(() => {}) }));
    });
    other.listen(0, '127.0.0.1');
    await once(other, 'listening');
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${(other.address() as AddressInfo).port}/`);
      ws.on('error', () => {});
      const wsClosed = new Promise<number>((resolve) => ws.on('close', resolve));
      const c = await held;
      c.close({ closeCode: 1000 });
      await assert.rejects(
        c.opened,
        (e: unknown) => e instanceof WebSocketError && e.closeCode === 1006,
      );
      assert.equal(await wsClosed, 1006);
    } finally {
      other.close();
    }
  });

  void test('a second upgrade() of the same socket throws, and the first connection goes on', async () => {
    let second: unknown = null;
    const other = createServer();
    const first = new Promise<WebSocketConnection>((resolve) => {
      other.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        const connection = upgrade(req, socket, head);
        try {
          upgrade(req, socket, head);
        } catch (error) {
          second = error;
        }
        resolve(connection);
      });
    });
    other.listen(0, '127.0.0.1');
    await once(other, 'listening');
    try {
      const ws = await wsOpen(`ws://127.0.0.1:${(other.address() as AddressInfo).port}/`);
      assert.ok(second instanceof Error);
      assert.match(second.message, /more than once with the same socket/);
      const c = await first;
      const { readable, writable } = await c.opened;
      void readable.pipeTo(writable).catch(() => {});
      const got = wsMessage(ws);
      ws.send('once');
      assert.equal((await got).data.toString(), 'once');
      ws.close(1000);
      assert.equal((await c.closed).closeCode, 1000);
    } finally {
      other.close();
    }
  });
});
