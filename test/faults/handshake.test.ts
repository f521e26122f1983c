/**
 * Fault injection during the opening handshake, against our client (a raw
 * node:net server misbehaves) and our server (a raw node:net client
 * misbehaves): resets, slowloris, header floods and header injection. Each
 * ends in a clear error while the process, and the server, live on.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { closeTargets, openServerTarget } from '../../conformance/targets.js';
import { Op } from '../../conformance/wire.js';
import { acceptKey } from '../../src/core/handshake/index.js';
import { sha1Base64 } from '../../src/node/sha1.js';
import { WebSocketError, WebSocketStream } from '../../src/index.js';
import { serve, type WebSocketServer } from '../../src/server.js';

const HOST = '127.0.0.1';
const noop = (): void => {};

after(closeTargets);

/** A raw server whose connections are handed to `onSocket`. */
async function rawServer(
  onSocket: (socket: Socket) => void,
): Promise<{ server: Server; url: string }> {
  const server = createServer(onSocket);
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address() as { port: number };
  return { server, url: `ws://${HOST}:${port}/` };
}

/** Reads until the end of an HTTP head (leaving the socket open); resolves with it. */
function readHead(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(text.slice(0, end));
    };
    const onClose = (): void => resolve(text);
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

/** Expects `ws` to fail its handshake with a WebSocketError whose message matches `pattern`. */
async function expectHandshakeError(ws: WebSocketStream, pattern: RegExp): Promise<void> {
  const error = await ws.opened.then(
    () => assert.fail('the handshake succeeded'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof WebSocketError, `not a WebSocketError: ${String(error)}`);
  assert.equal(error.closeCode, 1006);
  assert.match(error.message, pattern);
  await assert.rejects(ws.closed, (e) => e === error);
}

/** Everything a raw socket receives until the server closes it. */
async function drain(socket: Socket): Promise<string> {
  let text = '';
  socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
  socket.on('error', noop);
  // 'close' follows an 'error' (a reset) too; once(socket, 'error') would reject instead.
  await new Promise((resolve) => socket.once('close', resolve));
  return text;
}

function request(extra = ''): string {
  return (
    `GET / HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`
  );
}

describe('faults during the handshake, our client', () => {
  test('TCP reset before any response: opened and closed reject with 1006', async () => {
    const { server, url } = await rawServer((socket) => {
      void readHead(socket).then(() => socket.resetAndDestroy());
    });
    try {
      await expectHandshakeError(new WebSocketStream(url), /Connection .* (failed|closed)/);
    } finally {
      server.close();
    }
  });

  test('TCP reset in the middle of the response head', async () => {
    const { server, url } = await rawServer((socket) => {
      void readHead(socket).then(() => {
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: webs', () =>
          socket.resetAndDestroy(),
        );
      });
    });
    try {
      await expectHandshakeError(new WebSocketStream(url), /Connection .* (failed|closed)/);
    } finally {
      server.close();
    }
  });

  test('slowloris response (1 byte every 20 ms): handshakeTimeout ends the attempt', async () => {
    let serverSide: Socket | undefined;
    let timer: ReturnType<typeof setInterval> | undefined;
    const { server, url } = await rawServer((socket) => {
      serverSide = socket;
      socket.on('error', noop);
      void readHead(socket).then((head) => {
        const key = /sec-websocket-key: (.*)/i.exec(head)?.[1] ?? '';
        const response = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key, sha1Base64)}\r\n\r\n`;
        let i = 0;
        timer = setInterval(() => {
          if (i < response.length - 1 && !socket.destroyed) socket.write(response[i++]!);
        }, 20);
      });
    });
    try {
      await expectHandshakeError(
        new WebSocketStream(url, { handshakeTimeout: 300 }),
        /timed out after 300 ms/,
      );
      assert.ok(serverSide !== undefined);
      // Only 'close' matters: a reset on the way is expected (events.once would reject on 'error').
      if (!serverSide.destroyed) await new Promise((resolve) => serverSide!.once('close', resolve));
    } finally {
      clearInterval(timer);
      server.close();
    }
  });

  for (const [what, headers, pattern] of [
    ['10,000 header lines (160 KiB)', 10_000, /larger than 16384 bytes/],
    ['150 header lines (under 16 KiB)', 150, /More than 100 header fields/],
  ] as const) {
    test(`header flood in the response, ${what}: a handshake error`, async () => {
      const { server, url } = await rawServer((socket) => {
        socket.on('error', noop);
        void readHead(socket).then((head) => {
          const key = /sec-websocket-key: (.*)/i.exec(head)?.[1] ?? '';
          let res = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key, sha1Base64)}\r\n`;
          for (let i = 0; i < headers; i++) res += `X-Flood-${i}: ${'v'.repeat(4)}\r\n`;
          socket.write(`${res}\r\n`);
        });
      });
      try {
        await expectHandshakeError(new WebSocketStream(url), pattern);
      } finally {
        server.close();
      }
    });
  }

  test('CR/LF and NUL in user header values or names: TypeError, nothing sent', async () => {
    const heads: string[] = [];
    const { server, url } = await rawServer((socket) => {
      socket.on('error', noop);
      void readHead(socket).then((head) => {
        heads.push(head);
        socket.destroy();
      });
    });
    try {
      const attempts: Array<Record<string, string>> = [
        { 'X-Evil': 'a\r\nInjected: yes' },
        { 'X-Evil': 'a\nInjected: yes' },
        { 'X-Evil': 'a\rb' },
        { 'X-Evil': 'a\0b' },
        { 'X-Evil\r\nInjected': 'yes' },
      ];
      for (const headers of attempts) {
        assert.throws(() => new WebSocketStream(url, { headers }), TypeError);
      }
      // The next connection the server sees is a clean one.
      const ws = new WebSocketStream(url, { headers: { 'X-Fine': 'yes' } });
      await ws.opened.catch(noop);
      assert.equal(heads.length, 1);
      assert.match(heads[0]!, /X-Fine: yes/);
      assert.doesNotMatch(heads[0]!, /Injected/);
    } finally {
      server.close();
    }
  });
});

describe('faults during the handshake, our server', () => {
  let ws: WebSocketServer;
  let port: number;
  const handler = (connection: {
    opened: Promise<{ readable: ReadableStream; writable: WritableStream }>;
  }): void => {
    connection.opened.then(({ readable, writable }) => readable.pipeTo(writable).catch(noop), noop);
  };

  test('setup', async () => {
    ws = await serve({ host: HOST, port: 0, handshakeTimeout: 300 }, handler);
    port = ws.address.port;
  });
  after(() => ws?.close());

  /** The server still accepts and echoes. */
  async function stillServes(): Promise<void> {
    const socket = connect(port, HOST);
    socket.write(request());
    const head = await readHead(socket);
    assert.match(head, /^HTTP\/1.1 101/);
    socket.destroy();
  }

  test('TCP reset in the middle of the request: no connection, the server lives on', async () => {
    const socket = connect(port, HOST);
    socket.on('error', noop);
    await once(socket, 'connect');
    socket.write(request().slice(0, 40), () => socket.resetAndDestroy());
    await once(socket, 'close');
    assert.equal(ws.connections.size, 0);
    await stillServes();
  });

  test('TCP reset right after the request', async () => {
    const socket = connect(port, HOST);
    socket.on('error', noop);
    await once(socket, 'connect');
    socket.write(request(), () => socket.resetAndDestroy());
    await once(socket, 'close');
    await stillServes();
  });

  test('slowloris request (1 byte every 20 ms): dropped at handshakeTimeout', async () => {
    const socket = connect(port, HOST);
    const text = request();
    let i = 0;
    const timer = setInterval(() => {
      if (i < text.length - 1 && !socket.destroyed) socket.write(text[i++]!);
    }, 20);
    try {
      const received = await drain(socket);
      assert.ok(i < text.length - 1, 'the request finished before the deadline');
      assert.doesNotMatch(received, /101 Switching/);
    } finally {
      clearInterval(timer);
    }
    await stillServes();
  });

  test('header flood, 10,000 lines: 431 and the connection closed', async () => {
    const socket = connect(port, HOST);
    let flood = '';
    for (let i = 0; i < 10_000; i++) flood += `X-Flood-${i}: vvvv\r\n`;
    socket.on('error', noop);
    socket.write(request(flood));
    const received = await drain(socket);
    assert.match(received, /^HTTP\/1.1 431 /);
    await stillServes();
  });

  test('header flood, 1,000 short lines (under 16 KiB): refused with a 4xx, never upgraded', async () => {
    const socket = connect(port, HOST);
    let flood = '';
    for (let i = 0; i < 1000; i++) flood += `X-${i}: v\r\n`;
    socket.on('error', noop);
    // The flood comes first, so the handshake's own fields lie past the header count limit.
    socket.write(
      `GET / HTTP/1.1\r\nHost: ${HOST}\r\n${flood}${request().split('\r\n').slice(2).join('\r\n')}`,
    );
    const received = await drain(socket);
    assert.match(received, /^HTTP\/1.1 4\d\d /);
    await stillServes();
  });

  test('CR/LF in responseHeaders: serve() refuses them (TypeError), nothing is served', async () => {
    await assert.rejects(
      serve({ host: HOST, port: 0, responseHeaders: { 'X-Evil': 'a\r\nInjected: yes' } }, handler),
      (e: unknown) => e instanceof TypeError && /X-Evil/.test(e.message),
    );
  });

  test('CR/LF in a refusal header from authenticate: answered 500, nothing injected', async () => {
    const evil = await serve(
      {
        host: HOST,
        port: 0,
        authenticate: () => ({
          status: 401,
          headers: { 'WWW-Authenticate': 'Basic\r\nInjected: yes' },
        }),
      },
      handler,
    );
    try {
      const socket = connect(evil.address.port, HOST);
      socket.on('error', noop);
      socket.write(request());
      const received = await drain(socket);
      assert.match(received, /^HTTP\/1.1 500 /);
      assert.doesNotMatch(received, /Injected/);
    } finally {
      await evil.close();
    }
  });

  test('an echo still works after all of the above', async () => {
    const peer = await openServerTarget();
    try {
      await peer.send(peer.frame(Op.TEXT, 'alive'));
      await peer.expectEcho(Op.TEXT, 'alive');
      await peer.closeHandshake();
    } finally {
      peer.destroy();
    }
  });
});
