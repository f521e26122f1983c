/**
 * Echo interop: the `ws` package's client (a peer we did not write) and our
 * own WebSocketStream client against serve(), over ws: and wss:, with text,
 * binary, empty and 16 MiB messages.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { WebSocketStream, type WebSocketMessage } from '../../src/index.js';
import { serve, type ServeOptions, type WebSocketServer } from '../../src/server.js';
import { tcp, wsMessage, wsOpen } from './helpers.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

const MiB = 1024 * 1024;

function echoServer(options: ServeOptions = {}): Promise<WebSocketServer> {
  return serve({ host: '127.0.0.1', ...options }, async (connection) => {
    const { readable, writable } = await connection.opened;
    await readable.pipeTo(writable).catch(() => {});
  });
}

/** What the ws client gets back for each message sent. */
async function wsEcho(
  ws: WebSocket,
  data: string | Buffer,
): Promise<{ data: Buffer; isBinary: boolean }> {
  const got = wsMessage(ws);
  ws.send(data);
  return got;
}

const messages = (): Array<{ name: string; data: string | Uint8Array }> => [
  { name: 'text', data: 'héllo wörld ✓ 🎉' },
  { name: 'binary', data: new Uint8Array([0, 1, 2, 253, 254, 255]) },
  { name: 'empty text', data: '' },
  { name: 'empty binary', data: new Uint8Array(0) },
  { name: '16 MiB binary', data: new Uint8Array(randomBytes(16 * MiB)) },
  { name: '16 MiB text', data: 'x'.repeat(16 * MiB - 3) + '✓' },
];

for (const secure of [false, true]) {
  const scheme = secure ? 'wss' : 'ws';
  const tlsServer = secure
    ? { tls: { cert: fixture('localhost-cert.pem'), key: fixture('localhost-key.pem') } }
    : {};
  const ca = secure ? fixture('localhost-cert.pem') : undefined;

  void describe(`echo over ${scheme}:`, { timeout: 40_000 }, () => {
    let server: WebSocketServer;
    before(async () => {
      server = await echoServer(tlsServer);
      assert.ok(server.url.startsWith(`${scheme}://127.0.0.1:`));
    });
    after(() => server.close());

    void test('ws client: every kind of message comes back as sent', async () => {
      const ws = await wsOpen(server.url, undefined, ca === undefined ? {} : { ca });
      for (const m of messages()) {
        const sent = typeof m.data === 'string' ? m.data : Buffer.from(m.data);
        const got = await wsEcho(ws, sent);
        assert.equal(got.isBinary, typeof m.data !== 'string', m.name);
        if (typeof m.data === 'string') assert.ok(got.data.toString() === m.data, m.name);
        else assert.ok(got.data.equals(Buffer.from(m.data)), m.name);
      }
      const closed = once(ws, 'close');
      ws.close(1000, 'done');
      const [code] = (await closed) as [number];
      assert.equal(code, 1000);
    });

    void test('our client: every kind of message comes back as sent', async () => {
      const wss = new WebSocketStream(server.url, ca === undefined ? {} : { tls: { ca } });
      const { readable, writable } = await wss.opened;
      const reader = readable.getReader();
      const writer = writable.getWriter();
      for (const m of messages()) {
        await writer.write(m.data);
        const { value, done } = (await reader.read()) as { value: WebSocketMessage; done: boolean };
        assert.equal(done, false);
        if (typeof m.data === 'string') {
          assert.equal(typeof value, 'string', m.name);
          assert.ok(value === m.data, m.name);
        } else {
          assert.ok(value instanceof Uint8Array, m.name);
          assert.ok(Buffer.from(value).equals(Buffer.from(m.data)), m.name);
        }
      }
      wss.close({ closeCode: 1000, reason: 'done' });
      // The server echoes the code (RFC 6455 5.5.1 "typically echos the status code it received").
      assert.equal((await wss.closed).closeCode, 1000);
    });

    void test('many messages in flight keep their order', async () => {
      const ws = await wsOpen(server.url, undefined, ca === undefined ? {} : { ca });
      const got: string[] = [];
      const all = new Promise<void>((resolve) =>
        ws.on('message', (d: Buffer) => {
          got.push(d.toString());
          if (got.length === 1000) resolve();
        }),
      );
      for (let i = 0; i < 1000; i++) ws.send(String(i));
      await all;
      assert.deepEqual(
        got,
        Array.from({ length: 1000 }, (_, i) => String(i)),
      );
      ws.terminate();
    });

    void test('a ws client sends 100 messages and closes at once: the echoing server closes cleanly, every time', async () => {
      // The peer's Close may arrive while the last echoes still wait for the
      // runtime's write callback (later over TLS): they are ahead of our
      // Close in the byte stream, so the close is clean. (Echoes of messages
      // read after the Close arrived are refused: we answer it at once, as
      // Chrome and python-websockets do.)
      const outcomes: string[] = [];
      const recording = await serve({ host: '127.0.0.1', ...tlsServer }, async (connection) => {
        const { readable, writable } = await connection.opened;
        await readable.pipeTo(writable).catch(() => {});
        outcomes.push(
          await connection.closed.then(
            (info) => `clean ${info.closeCode}`,
            (error: unknown) => `unclean ${String(error)}`,
          ),
        );
      });
      try {
        const payload = Buffer.alloc(5000, 0x61);
        for (let run = 0; run < 10; run++) {
          const ws = await wsOpen(recording.url, undefined, ca === undefined ? {} : { ca });
          const closed = once(ws, 'close');
          for (let i = 0; i < 100; i++) ws.send(payload);
          ws.close(1000);
          const [code] = (await closed) as [number];
          assert.equal(code, 1000, `run ${run}: the client's close code`);
        }
        for (let i = 0; i < 100 && outcomes.length < 10; i++) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.deepEqual(
          outcomes,
          Array.from({ length: 10 }, () => 'clean 1000'),
        );
      } finally {
        await recording.close();
      }
    });
  });
}

void describe('wss: handshake limits', { timeout: 20_000 }, () => {
  void test('a client that opens TCP and never starts TLS is dropped at the handshake deadline', async () => {
    const server = await echoServer({
      handshakeTimeout: 200,
      tls: { cert: fixture('localhost-cert.pem'), key: fixture('localhost-key.pem') },
    });
    try {
      const socket = await tcp(server.address.port);
      socket.on('error', () => {});
      await once(socket, 'close');
    } finally {
      await server.close();
    }
  });

  void test('a client that completes TLS and sends nothing is dropped at the handshake deadline', async () => {
    const server = await echoServer({
      handshakeTimeout: 200,
      tls: { cert: fixture('localhost-cert.pem'), key: fixture('localhost-key.pem') },
    });
    try {
      const socket = tlsConnect({
        port: server.address.port,
        host: '127.0.0.1',
        ca: fixture('localhost-cert.pem'),
      });
      socket.on('error', () => {});
      await once(socket, 'secureConnect');
      await once(socket, 'close');
    } finally {
      await server.close();
    }
  });
});

void describe('echo with batchWrites', { timeout: 30_000 }, () => {
  void test('serve() rejects a batchWrites that is not a boolean', async () => {
    await assert.rejects(
      serve({ host: '127.0.0.1', batchWrites: 1 as unknown as boolean }, () => {}),
      { name: 'TypeError', message: /batchWrites must be a boolean/ },
    );
  });

  void test('a ws client gets 5,000 messages back in order, sent in one burst', async () => {
    const server = await echoServer({ batchWrites: true });
    try {
      const ws = await wsOpen(server.url);
      const got: string[] = [];
      const done = new Promise<void>((resolve) => {
        ws.on('message', (data: Buffer) => {
          got.push(data.toString());
          if (got.length === 5000) resolve();
        });
      });
      for (let i = 0; i < 5000; i++) ws.send(`${i}:${'z'.repeat(i % 200)}`);
      await done;
      assert.deepEqual(
        got,
        Array.from({ length: 5000 }, (_, i) => `${i}:${'z'.repeat(i % 200)}`),
      );
      ws.close();
      await once(ws, 'close');
    } finally {
      await server.close();
    }
  });
});
