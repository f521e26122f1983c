/**
 * Unix domain sockets: the client's `socketPath` option and `serve({ path })`,
 * each against the other and against the `ws` package (an http server
 * listening on a path, and ws's `ws+unix:` client). Backpressure is checked by
 * counting bytes in both directions, and wss: runs over a Unix socket too.
 */
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket as WsSocket, WebSocketServer } from 'ws';
import { WebSocketStream, WebSocketError } from '../../src/index.js';
import {
  serve,
  type WebSocketConnection,
  type WebSocketServer as Served,
} from '../../src/server.js';
import { lastTransport, rejection, waitStable, within } from '../client/helpers.js';

const MiB = 1024 * 1024;
const fixtures = new URL('../fixtures/', import.meta.url);
const cert = readFileSync(new URL('localhost-cert.pem', fixtures), 'utf8');
const key = readFileSync(new URL('localhost-key.pem', fixtures), 'utf8');

const dir = mkdtempSync(join(tmpdir(), 'wsstream-unix-'));
let n = 0;
const socketFile = (): string => join(dir, `s${++n}.sock`);
/** Every server started, closed at the end even when a test failed. */
const servers: Served[] = [];

async function echoServer(extra: { tls?: { cert: string; key: string } } = {}): Promise<{
  server: Served;
  seen: WebSocketConnection[];
}> {
  const seen: WebSocketConnection[] = [];
  const server = await serve({ path: socketFile(), ...extra }, async (connection) => {
    seen.push(connection);
    const { readable, writable } = await connection.opened;
    await readable.pipeTo(writable);
  });
  servers.push(server);
  return { server, seen };
}

async function roundTrip(wss: WebSocketStream): Promise<void> {
  const { readable, writable } = await within(wss.opened, 5000, 'opened');
  const writer = writable.getWriter();
  const reader = readable.getReader();
  await writer.write('over a Unix socket');
  await writer.write(new Uint8Array([0, 1, 2, 255]));
  assert.equal((await within(reader.read(), 5000, 'read')).value, 'over a Unix socket');
  assert.deepEqual(
    (await within(reader.read(), 5000, 'read')).value,
    new Uint8Array([0, 1, 2, 255]),
  );
  wss.close({ closeCode: 1000 });
  assert.equal((await within(wss.closed, 5000, 'closed')).closeCode, 1000);
}

void describe('Unix domain sockets', { timeout: 60_000 }, () => {
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('our client ↔ our server: the URL gives Host and path, the socket file goes on close', async () => {
    const { server, seen } = await echoServer();
    assert.equal(server.url, 'ws://localhost/');
    assert.equal(server.address.family, 'unix');
    assert.ok(existsSync(server.socketPath!));
    await roundTrip(
      new WebSocketStream('ws://api.internal:8080/chat?room=1', { socketPath: server.socketPath }),
    );
    assert.equal(seen[0]!.url, 'ws://api.internal:8080/chat?room=1');
    assert.equal(seen[0]!.request.headers.host, 'api.internal:8080');
    await server.close();
    assert.equal(existsSync(server.socketPath!), false);
  });

  it("ws's ws+unix: client against serve({ path })", async () => {
    const { server, seen } = await echoServer();
    const ws = new WsSocket(`ws+unix://${server.socketPath}:/feed?x=1`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const echoed = new Promise<string>((resolve) =>
      ws.once('message', (d: Buffer) => resolve(d.toString())),
    );
    ws.send('hello from ws');
    assert.equal(await within(echoed, 5000, 'echo'), 'hello from ws');
    assert.equal(new URL(seen[0]!.url).pathname, '/feed');
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.close(1000);
    assert.equal(await within(closed, 5000, 'close'), 1000);
    await server.close();
  });

  it('a missing socket file is a WebSocketError naming the path', async () => {
    const path = join(dir, 'nobody-here.sock');
    const wss = new WebSocketStream('ws://localhost/', { socketPath: path });
    const error = await rejection(wss.opened);
    assert.ok(error instanceof WebSocketError);
    assert.match(error.message, new RegExp(`over Unix socket ${path} failed: connect ENOENT`));
  });

  it('serve() refuses path together with port or host', async () => {
    await assert.rejects(
      serve({ path: socketFile(), port: 1 }, () => {}),
      TypeError,
    );
  });

  it('wss: over a Unix socket, checked against the URL host name', async () => {
    const { server } = await echoServer({ tls: { cert, key } });
    assert.equal(server.url, 'wss://localhost/');
    await roundTrip(
      new WebSocketStream('wss://localhost/', { socketPath: server.socketPath, tls: { ca: cert } }),
    );
    const wrong = new WebSocketStream('wss://example.com/', {
      socketPath: server.socketPath,
      tls: { ca: cert },
    });
    const error = await rejection(wrong.opened);
    assert.match(
      String((error as Error).message),
      /^Connection \(TLS\) to wss:\/\/example\.com\/ over Unix socket .* failed: .*example\.com/,
    );
    await server.close();
  });

  void describe('backpressure reaches the socket', () => {
    let wsServer: WebSocketServer;
    let http: ReturnType<typeof createHttpServer>;
    const path = socketFile();
    before(async () => {
      http = createHttpServer();
      wsServer = new WebSocketServer({ server: http });
      await new Promise<void>((resolve) => http.listen(path, resolve));
    });
    after(async () => {
      for (const c of wsServer.clients) c.terminate();
      await new Promise((resolve) => http.close(resolve));
    });

    it('receive: a ws server floods, the client app does not read, the client socket stops reading', async (t) => {
      const COUNT = 64;
      const connected = new Promise<WsSocket>((resolve) => wsServer.once('connection', resolve));
      const wss = new WebSocketStream('ws://localhost/', {
        socketPath: path,
        maxMessageSize: 2 * MiB,
      });
      const [{ readable }, peer] = await Promise.all([
        within(wss.opened, 5000, 'opened'),
        connected,
      ]);
      const transport = lastTransport();
      let sent = 0;
      const pump = (): void => {
        while (sent < COUNT && peer.readyState === WsSocket.OPEN && peer.bufferedAmount < 4 * MiB) {
          // Random bytes (permessage-deflate would shrink a fill to nothing), numbered in the last byte.
          const m = randomBytes(MiB);
          m[MiB - 1] = sent % 256;
          sent++;
          peer.send(m, { binary: true }, (e) => {
            if (e == null) pump();
          });
        }
      };
      pump();
      const [bytesRead, sentThen] = await waitStable(() => [transport.bytesRead, sent]);
      t.diagnostic(
        `client read ${bytesRead} bytes without demand; the server sent ${sentThen} of ${COUNT} messages`,
      );
      assert.ok(bytesRead! < 4 * MiB + MiB, `the client read ${bytesRead} bytes without demand`);
      assert.ok(sentThen! < COUNT, 'the server is blocked by the socket');
      const reader = readable.getReader();
      for (let i = 0; i < COUNT; i++) {
        const { value } = await within(reader.read(), 20000, `message ${i}`);
        assert.ok(value instanceof Uint8Array);
        assert.equal(value.length, MiB);
        assert.equal(value[MiB - 1], i % 256);
      }
      wss.close({ closeCode: 1000 });
      await within(wss.closed, 5000, 'closed');
    });
  });

  it('send: our server writes to a ws+unix: client that stopped reading; write() stops resolving', async (t) => {
    const COUNT = 128;
    const SIZE = 256 * 1024;
    let resolved = 0;
    let finished: Promise<void> | undefined;
    const server = await serve({ path: socketFile() }, async (connection) => {
      const { writable } = await connection.opened;
      const writer = writable.getWriter();
      finished = (async () => {
        for (let i = 0; i < COUNT; i++) {
          // Random bytes: permessage-deflate is on by default and would shrink a fill to nothing.
          const message = randomBytes(SIZE);
          message[0] = i % 256; // numbered in the first byte
          await writer.write(message);
          resolved++;
        }
      })();
    });
    servers.push(server);
    const ws = new WsSocket(`ws+unix://${server.socketPath}:/`);
    let received = 0;
    ws.on('message', (d: Buffer) => {
      assert.equal(d[0], received % 256);
      received++;
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const socket = (ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    const [resolvedThen, read] = await waitStable(() => [resolved, socket.bytesRead]);
    t.diagnostic(
      `the server had ${resolvedThen} writes resolved, the paused client had read ${read} bytes`,
    );
    // 32 MiB to send; what resolved is bounded by the socket buffers, not by the total.
    assert.ok(
      resolvedThen! * SIZE < 8 * MiB,
      `${resolvedThen} of ${COUNT} writes resolved against a paused reader`,
    );
    socket.resume();
    await within(finished!, 20000, 'all writes');
    await within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (received === COUNT) resolve();
          else setTimeout(check, 10);
        };
        check();
      }),
      20000,
      'all messages at the client',
    );
    ws.close();
    await server.close();
  });
});
