/**
 * The server's opening handshake (RFC 6455 4.2.1): every bad request gets its
 * HTTP status and a short body, then the connection ends, while the server
 * keeps serving a live `ws` client; origin checks, authentication and
 * subprotocol selection; header limits and the handshake deadline.
 */
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { WebSocketStream } from '../../src/index.js';
import {
  serve,
  WebSocketError,
  type ServeOptions,
  type WebSocketServer,
} from '../../src/server.js';
import {
  exchange,
  rawClient,
  SAMPLE_ACCEPT,
  SAMPLE_KEY,
  tcp,
  upgradeRequest,
  wsMessage,
  wsOpen,
} from './helpers.js';

/** An echo server for the tests. */
function echoServer(options: ServeOptions = {}): Promise<WebSocketServer> {
  return serve({ host: '127.0.0.1', ...options }, async (connection) => {
    const { readable, writable } = await connection.opened;
    await readable.pipeTo(writable).catch(() => {});
  });
}

async function echoOnce(ws: WebSocket, text: string): Promise<void> {
  const got = wsMessage(ws);
  ws.send(text);
  assert.equal((await got).data.toString(), text);
}

void describe(
  'bad handshakes are answered while the server keeps serving',
  { timeout: 30_000 },
  () => {
    let server: WebSocketServer;
    let port: number;
    let live: WebSocket;
    before(async () => {
      server = await echoServer();
      port = server.address.port;
      live = await wsOpen(server.url);
    });
    after(async () => {
      live.terminate();
      await server.close();
    });

    const line = (name: string, value: string): string => `${name}: ${value}`;
    const request = (lines: string[]): string => lines.join('\r\n') + '\r\n\r\n';
    const base = (p: number): string[] => [
      'GET / HTTP/1.1',
      `Host: 127.0.0.1:${p}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
    ];

    const cases: Array<{
      name: string;
      build: (p: number) => string;
      status: number[];
      check?: (r: Awaited<ReturnType<typeof exchange>>) => void;
    }> = [
      {
        name: 'wrong version (8) gets 426 naming version 13',
        build: (p) =>
          request([
            ...base(p),
            line('Sec-WebSocket-Key', SAMPLE_KEY),
            line('Sec-WebSocket-Version', '8'),
          ]),
        status: [426],
        check: (r) => assert.equal(r.headers.get('sec-websocket-version'), '13'),
      },
      {
        name: 'missing version gets 426',
        build: (p) => request([...base(p), line('Sec-WebSocket-Key', SAMPLE_KEY)]),
        status: [426],
        check: (r) => assert.equal(r.headers.get('sec-websocket-version'), '13'),
      },
      {
        name: 'missing key gets 400',
        build: (p) => request([...base(p), line('Sec-WebSocket-Version', '13')]),
        status: [400],
      },
      {
        name: 'key that is not 16 bytes of base64 gets 400',
        build: (p) =>
          request([
            ...base(p),
            line('Sec-WebSocket-Key', 'c2hvcnQ='),
            line('Sec-WebSocket-Version', '13'),
          ]),
        status: [400],
      },
      {
        name: 'key that is not base64 gets 400',
        build: (p) =>
          request([
            ...base(p),
            line('Sec-WebSocket-Key', '!!!!!!!!!!!!!!!!!!!!!!=='),
            line('Sec-WebSocket-Version', '13'),
          ]),
        status: [400],
      },
      {
        name: 'two keys get 400',
        build: (p) =>
          request([
            ...base(p),
            line('Sec-WebSocket-Key', SAMPLE_KEY),
            line('Sec-WebSocket-Key', SAMPLE_KEY),
            line('Sec-WebSocket-Version', '13'),
          ]),
        status: [400],
      },
      {
        name: 'POST gets 405 with Allow: GET',
        build: (p) => upgradeRequest(p).replace('GET / HTTP/1.1', 'POST / HTTP/1.1'),
        status: [405],
        check: (r) => assert.equal(r.headers.get('allow'), 'GET'),
      },
      {
        name: 'CONNECT gets 405 with Allow: GET (node:http hands it to another event)',
        build: (p) => request([`CONNECT 127.0.0.1:${p} HTTP/1.1`, `Host: 127.0.0.1:${p}`]),
        status: [405],
        check: (r) => assert.equal(r.headers.get('allow'), 'GET'),
      },
      {
        name: 'a plain GET (not an upgrade) gets 426',
        build: (p) => request(['GET / HTTP/1.1', `Host: 127.0.0.1:${p}`]),
        status: [426],
        check: (r) => {
          assert.equal(r.headers.get('upgrade'), 'websocket');
          assert.match(r.body, /^This is a WebSocket endpoint/);
        },
      },
      {
        name: 'Upgrade: websocket without the Connection token gets 400 naming the Connection header',
        build: (p) =>
          request([
            'GET / HTTP/1.1',
            `Host: 127.0.0.1:${p}`,
            'Upgrade: websocket',
            'Connection: keep-alive',
            line('Sec-WebSocket-Key', SAMPLE_KEY),
            line('Sec-WebSocket-Version', '13'),
          ]),
        status: [400],
        check: (r) => assert.match(r.body, /Connection header/),
      },
      {
        name: 'a POST with Upgrade: websocket but no Connection token gets 405 (the method first)',
        build: (p) =>
          request([
            'POST / HTTP/1.1',
            `Host: 127.0.0.1:${p}`,
            'Upgrade: websocket',
            'Connection: keep-alive',
            'Content-Length: 0',
            line('Sec-WebSocket-Key', SAMPLE_KEY),
            line('Sec-WebSocket-Version', '13'),
          ]),
        status: [405],
        check: (r) => assert.equal(r.headers.get('allow'), 'GET'),
      },
      {
        name: 'an upgrade to another protocol gets 400',
        build: (p) => upgradeRequest(p).replace('Upgrade: websocket', 'Upgrade: h2c'),
        status: [400],
      },
      {
        name: 'HTTP/1.0 gets 400',
        build: (p) => upgradeRequest(p).replace('HTTP/1.1', 'HTTP/1.0'),
        status: [400],
      },
      {
        name: 'a missing Host gets 400',
        build: (p) => upgradeRequest(p).replace(`Host: 127.0.0.1:${p}\r\n`, ''),
        status: [400],
      },
      {
        name: 'a malformed subprotocol list gets 400',
        build: (p) => upgradeRequest(p, ['Sec-WebSocket-Protocol: a b, c']),
        status: [400],
      },
      {
        name: 'a second Sec-WebSocket-Key in other letter case gets 400',
        build: (p) => upgradeRequest(p, [`sec-websocket-KEY: ${SAMPLE_KEY}`]),
        status: [400],
      },
      {
        name: 'garbage instead of HTTP gets 400',
        build: () => 'HELLO\x00\x01\x02 what\r\n\r\n',
        status: [400],
      },
    ];

    for (const c of cases) {
      void test(c.name, async () => {
        const res = await exchange(port, c.build(port));
        assert.ok(
          c.status.includes(res.status),
          `status ${res.status}, expected ${c.status.join(' or ')}`,
        );
        assert.ok(
          res.body.length > 0 && res.body.length < 200,
          `a short body: ${JSON.stringify(res.body)}`,
        );
        c.check?.(res);
        await echoOnce(live, `still serving after: ${c.name}`);
      });
    }

    void test('header names are matched in any letter case', async () => {
      const request =
        [
          'GET / HTTP/1.1',
          `HOST: 127.0.0.1:${port}`,
          'uPgRaDe: websocket',
          'CONNECTION: Upgrade',
          `sec-websocket-key: ${SAMPLE_KEY}`,
          'Sec-Websocket-Version: 13',
        ].join('\r\n') + '\r\n\r\n';
      const socket = await tcp(port);
      socket.on('error', () => {});
      socket.write(request);
      let head = '';
      for await (const chunk of socket as AsyncIterable<Buffer>) {
        head += chunk.toString('latin1');
        if (head.includes('\r\n\r\n')) break;
      }
      socket.destroy();
      assert.match(head, /^HTTP\/1\.1 101 /);
      assert.ok(head.includes(`Sec-WebSocket-Accept: ${SAMPLE_ACCEPT}`), head);
    });

    void test('all bad requests at once, and good clients among them, are all answered', async () => {
      const bad = cases.map((c) => exchange(port, c.build(port)));
      const good = Array.from({ length: 10 }, async (_, i) => {
        const ws = await wsOpen(server.url);
        await echoOnce(ws, `good ${i}`);
        ws.close();
        await once(ws, 'close');
      });
      const answers = await Promise.all(bad);
      answers.forEach((res, i) => assert.ok(cases[i]!.status.includes(res.status)));
      await Promise.all(good);
    });

    void test('Upgrade and Connection tokens are case-insensitive comma lists', async () => {
      const socket = await tcp(port);
      socket.write(
        upgradeRequest(port)
          .replace('Upgrade: websocket', 'Upgrade: foo/1, WebSocket')
          .replace('Connection: Upgrade', 'Connection: keep-alive, UPGRADE'),
      );
      const [chunk] = (await once(socket, 'data')) as [Buffer];
      const text = chunk.toString('latin1');
      assert.match(text, /^HTTP\/1\.1 101 /);
      assert.match(
        text,
        new RegExp(`\r\nSec-WebSocket-Accept: ${SAMPLE_ACCEPT.replace(/[+/]/g, '\\$&')}\r\n`, 'i'),
      );
      socket.destroy();
    });
  },
);

void describe('limits on the request head', { timeout: 30_000 }, () => {
  void test('a head over 16 KiB gets 431, and the server keeps serving', async () => {
    const server = await echoServer();
    try {
      const port = server.address.port;
      const res = await exchange(port, upgradeRequest(port, [`X-Big: ${'a'.repeat(17 * 1024)}`]));
      assert.equal(res.status, 431);
      // Just under the limit is fine.
      const ok = await rawClient(port, [`X-Big: ${'a'.repeat(15 * 1024)}`]);
      assert.equal(ok.response.status, 101);
      ok.socket.destroy();
    } finally {
      await server.close();
    }
  });

  void test('maxHeaderSize is configurable', async () => {
    const server = await echoServer({ maxHeaderSize: 1024 });
    try {
      const port = server.address.port;
      const res = await exchange(port, upgradeRequest(port, [`X-Big: ${'a'.repeat(2000)}`]));
      assert.equal(res.status, 431);
    } finally {
      await server.close();
    }
  });

  void test('more than 100 header lines: 431, as the client refuses such a response; a key past them is never a crash (ws CVE-2024-37890)', async () => {
    const server = await echoServer();
    try {
      const port = server.address.port;
      const filler = Array.from({ length: 120 }, (_, i) => `X-Filler-${i}: ${i}`);
      const lines = [
        'GET / HTTP/1.1',
        `Host: 127.0.0.1:${port}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Version: 13',
        ...filler,
        `Sec-WebSocket-Key: ${SAMPLE_KEY}`,
      ];
      const res = await exchange(port, lines.join('\r\n') + '\r\n\r\n');
      assert.equal(res.status, 431);
      // Node 22 and later answer this one themselves, before the 'upgrade' event.
      assert.match(res.body, /More than 100 header fields|Request header fields too large/);
      // Exactly 100 lines (5 of the handshake's, 95 of filler): accepted.
      const ok = await rawClient(port, filler.slice(0, 95));
      assert.equal(ok.response.status, 101);
      ok.socket.destroy();
      // 101 lines: refused, with the key among the first.
      const over = await exchange(port, upgradeRequest(port, filler.slice(0, 96)));
      assert.equal(over.status, 431);
      const ws = await wsOpen(server.url);
      await echoOnce(ws, 'alive');
      ws.terminate();
    } finally {
      await server.close();
    }
  });

  void test('maxHeaderCount and maxHeaderSize that are not positive integers are refused before listening (a NaN never turns a limit off)', async () => {
    for (const name of ['maxHeaderCount', 'maxHeaderSize'] as const) {
      for (const bad of [NaN, 0, -1, 1.5, Infinity, '50']) {
        await assert.rejects(
          echoServer({ [name]: bad as number }),
          (error: Error) =>
            error instanceof RangeError &&
            error.message === `serve(): ${name} must be a positive integer, not ${String(bad)}`,
        );
      }
    }
    // A small count is still a limit, and a valid one still admits what is under it.
    const server = await echoServer({ maxHeaderCount: 7 });
    try {
      const port = server.address.port;
      const filler = ['X-A: 1', 'X-B: 2', 'X-C: 3'];
      const over = await exchange(port, upgradeRequest(port, filler));
      assert.equal(over.status, 431);
      const ok = await rawClient(port, filler.slice(0, 2));
      assert.equal(ok.response.status, 101);
      ok.socket.destroy();
    } finally {
      await server.close();
    }
  });

  void test('a client that trickles its head (slowloris) is cut at the handshake deadline', async () => {
    const server = await echoServer({ handshakeTimeout: 300 });
    try {
      const port = server.address.port;
      const socket = await tcp(port);
      const request = upgradeRequest(
        port,
        Array.from({ length: 50 }, (_, i) => `X-Slow-${i}: ${i}`),
      );
      let sent = 0;
      const timer = setInterval(() => {
        if (sent < request.length && socket.writable) socket.write(request[sent++]!);
      }, 20);
      // Stopped whatever happens next: a timer left running keeps the test process alive.
      socket.once('close', () => clearInterval(timer));
      socket.on('error', () => {});
      const got: Buffer[] = [];
      socket.on('data', (c: Buffer) => got.push(c));
      // Not once(): a byte still on its way when the server drops the socket
      // makes the kernel answer with a reset, an 'error' that once() rejects on.
      await new Promise((resolve) => socket.once('close', resolve));
      clearInterval(timer);
      assert.ok(sent < request.length, `cut after ${sent} of ${request.length} bytes`);
      assert.equal(Buffer.concat(got).length, 0, 'no 101 for a half-sent request');
      // Others are still served.
      const ws = await wsOpen(server.url);
      await echoOnce(ws, 'alive');
      ws.terminate();
    } finally {
      await server.close();
    }
  });

  void test('an accepted connection keeps no handshake timer', async () => {
    const server = await echoServer({ handshakeTimeout: 60_000 });
    const timers = (): number =>
      process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const clients: WebSocket[] = [];
    try {
      const before = timers();
      for (let i = 0; i < 20; i++) clients.push(await wsOpen(server.url));
      await echoOnce(clients[19]!, 'alive');
      // One deadline per accepted socket would leave 20 more timers running for a minute.
      assert.ok(timers() - before < 5, `${timers() - before} more timers for 20 open connections`);
    } finally {
      for (const ws of clients) ws.terminate();
      await server.close();
    }
  });

  void test('a connection that sends nothing is dropped at the handshake deadline', async () => {
    const server = await echoServer({ handshakeTimeout: 200 });
    try {
      const socket = await tcp(server.address.port);
      socket.on('error', () => {});
      await once(socket, 'close');
    } finally {
      await server.close();
    }
  });

  void test('an authenticate() that outlives the deadline: opened rejects saying the handshake timed out, not that the client left', async () => {
    const failures: Error[] = [];
    const onFailure = (message: unknown): void => {
      const { phase, error } = message as { phase: string; error: Error };
      if (phase === 'handshake') failures.push(error);
    };
    diagnosticsChannel.subscribe('wsstream:failure', onFailure);
    const server = await echoServer({
      handshakeTimeout: 200,
      authenticate: () => new Promise<boolean>(() => {}),
    });
    try {
      const socket = await tcp(server.address.port);
      socket.on('error', () => {});
      socket.write(upgradeRequest(server.address.port));
      await once(socket, 'close');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(failures.length, 1);
      assert.match(failures[0]!.message, /Opening handshake did not complete within 200 ms/);
      assert.equal((failures[0] as WebSocketError).closeCode, 1006);
    } finally {
      diagnosticsChannel.unsubscribe('wsstream:failure', onFailure);
      await server.close();
    }
  });

  void test('each silent connection is dropped at its own deadline, counted from its accept', async () => {
    const timeout = 400;
    const server = await echoServer({ handshakeTimeout: timeout });
    try {
      const lifetime = async (): Promise<number> => {
        const socket = await tcp(server.address.port);
        const start = performance.now();
        socket.on('error', () => {});
        await once(socket, 'close');
        return performance.now() - start;
      };
      const first = lifetime();
      await new Promise((resolve) => setTimeout(resolve, timeout / 2));
      const second = lifetime();
      // A third is accepted and answered in between: its settling moves no deadline.
      const ws = await wsOpen(server.url);
      await echoOnce(ws, 'alive');
      const [a, b] = await Promise.all([first, second]);
      for (const t of [a, b]) {
        assert.ok(t >= timeout - 25, `dropped after ${t.toFixed(0)} ms, before its deadline`);
        assert.ok(t < timeout + 2_000, `dropped after ${t.toFixed(0)} ms`);
      }
      assert.equal(ws.readyState, WebSocket.OPEN, 'the open connection is not dropped');
      ws.terminate();
    } finally {
      await server.close();
    }
  });

  void test('wss: a client that never starts TLS is dropped at the deadline, not kept to be answered', async () => {
    const timeout = 400;
    const fixture = (name: string): string =>
      readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
    const server = await echoServer({
      handshakeTimeout: timeout,
      tls: { cert: fixture('localhost-cert.pem'), key: fixture('localhost-key.pem') },
    });
    try {
      for (const hello of [null, 'GET / HTTP/1.1\r\n\r\n']) {
        const socket = await tcp(server.address.port);
        const start = performance.now();
        let received = 0;
        socket.on('data', (chunk: Buffer) => (received += chunk.length));
        socket.on('error', () => {});
        // Silent, or plain HTTP on the TLS port: nothing can be answered either way.
        if (hello !== null) socket.write(hello);
        // Not once(): a drop with bytes still unread is a reset, an 'error' once() rejects on.
        await new Promise((resolve) => socket.once('close', resolve));
        const lifetime = performance.now() - start;
        assert.equal(received, 0, 'no HTTP answer without a TLS session');
        if (hello === null) {
          assert.ok(lifetime >= timeout - 25, `dropped after ${lifetime.toFixed(0)} ms`);
        }
        // Not kept the second more that a refusal lingers for.
        assert.ok(lifetime < timeout + 600, `dropped after ${lifetime.toFixed(0)} ms`);
      }
    } finally {
      await server.close();
    }
  });

  void test('a slow authenticate() is bounded by the handshake deadline', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const server = await echoServer({ handshakeTimeout: 300, authenticate: () => gate });
    try {
      const socket = await tcp(server.address.port);
      socket.on('error', () => {});
      socket.write(upgradeRequest(server.address.port));
      await once(socket, 'close');
      release();
    } finally {
      await server.close();
    }
  });
});

void describe('origin, authentication and subprotocols', { timeout: 30_000 }, () => {
  void test('allowOrigins: another origin gets 403, a listed one and none are accepted', async () => {
    const server = await echoServer({ allowOrigins: ['https://good.example'] });
    try {
      const port = server.address.port;
      const res = await exchange(port, upgradeRequest(port, ['Origin: https://evil.example']));
      assert.equal(res.status, 403);
      const rejected = new WebSocket(server.url, { origin: 'https://evil.example' });
      rejected.on('error', () => {});
      const [request, response] = (await once(rejected, 'unexpected-response')) as [
        { destroy(): void },
        { statusCode: number },
      ];
      assert.equal(response.statusCode, 403);
      request.destroy();
      const good = await wsOpen(server.url, undefined, { origin: 'https://good.example' });
      await echoOnce(good, 'hi');
      good.terminate();
      const none = await wsOpen(server.url); // non-browser clients send no Origin
      await echoOnce(none, 'hi');
      none.terminate();
    } finally {
      await server.close();
    }
  });

  void test('authenticate: a mistyped answer (null, 0, a string) never lets a client in: 500', async () => {
    const answers: Record<string, unknown> = {
      '/null': null,
      '/zero': 0,
      '/string': 'no',
      '/empty': '',
    };
    const server = await echoServer({
      authenticate: (req) => answers[req.url ?? ''] as boolean,
    });
    try {
      const port = server.address.port;
      for (const path of Object.keys(answers)) {
        const res = await exchange(port, upgradeRequest(port, [], path));
        assert.equal(res.status, 500, path);
      }
    } finally {
      await server.close();
    }
  });

  void test('authenticate: false is 401, a Refusal gives its status and headers, a throw is 500', async () => {
    const server = await echoServer({
      authenticate: async (req) => {
        await Promise.resolve();
        const token = req.headers.authorization;
        if (token === 'Bearer good') return true;
        if (token === 'Bearer boom') throw new Error('database down');
        if (token === undefined)
          return {
            status: 401,
            message: 'Token required',
            headers: { 'WWW-Authenticate': 'Bearer' },
          };
        return false;
      },
    });
    try {
      const port = server.address.port;
      const missing = await exchange(port, upgradeRequest(port));
      assert.equal(missing.status, 401);
      assert.equal(missing.headers.get('www-authenticate'), 'Bearer');
      assert.match(missing.body, /Token required/);
      assert.equal(
        (await exchange(port, upgradeRequest(port, ['Authorization: Bearer bad']))).status,
        401,
      );
      const boom = await exchange(port, upgradeRequest(port, ['Authorization: Bearer boom']));
      assert.equal(boom.status, 500);
      assert.doesNotMatch(boom.body, /database/, 'no internals in the answer');
      const ok = await wsOpen(server.url, undefined, { headers: { Authorization: 'Bearer good' } });
      await echoOnce(ok, 'in');
      ok.terminate();
    } finally {
      await server.close();
    }
  });

  void test('responseHeaders reach the client; a bad one is a TypeError when serve() is called; a CR/LF in a refusal header answers 500, never a split response', async () => {
    const good = await echoServer({
      responseHeaders: { 'Set-Cookie': 'session=abc; HttpOnly', 'X-Name': 'caf\u00e9' },
    });
    try {
      const ws = new WebSocket(good.url);
      const [response] = (await once(ws, 'upgrade')) as [IncomingMessage];
      assert.equal(response.headers['set-cookie']?.[0], 'session=abc; HttpOnly');
      // One byte per character (Latin-1), as node:http writes and reads field values.
      assert.equal(response.headers['x-name'], 'caf\u00e9');
      ws.terminate();
    } finally {
      await good.close();
    }
    // Read and checked once, when serve() is called: never a server that answers 500 to everyone.
    const badHeaders: Array<ServeOptions['responseHeaders']> = [
      { 'X-Evil': 'a\r\nX-Injected: 1' },
      { 'Sec-WebSocket-Accept': 'forged' },
      { 'X-Snow': 'snow \u2603' },
      { 'X-Maybe': undefined as unknown as string },
      [['bad name', 'x']],
    ];
    for (const responseHeaders of badHeaders) {
      await assert.rejects(
        echoServer({ responseHeaders }),
        TypeError,
        JSON.stringify(responseHeaders),
      );
    }
    const badOptions: ServeOptions[] = [
      { authenticate: () => ({ status: 403, headers: { 'X-Evil': 'a\r\n\r\nbody' } }) },
      { authenticate: () => ({ status: 200 }) },
      // A value meant to leave the header out is not sent as "null".
      {
        authenticate: () => ({
          status: 429,
          headers: { 'Retry-After': null as unknown as string },
        }),
      },
      // A message that is not a string, or whose getter throws: 500, never a crash.
      { authenticate: () => ({ status: 403, message: Symbol('denied') as unknown as string }) },
      {
        authenticate: () => ({
          status: 403,
          get message(): string {
            throw new Error('getter');
          },
        }),
      },
    ];
    for (const options of badOptions) {
      const bad = await echoServer(options);
      try {
        const port = bad.address.port;
        const res = await exchange(port, upgradeRequest(port));
        assert.equal(res.status, 500, JSON.stringify(options));
        assert.equal(res.headers.get('x-injected'), undefined);
        assert.equal(res.headers.get('sec-websocket-accept'), undefined);
      } finally {
        await bad.close();
      }
    }
  });

  void test('headers as a record with an array value, pairs, a Map or a Headers: one line per value, as node:http sends Set-Cookie', async () => {
    const cookies = ['a=1; HttpOnly', 'b=2'];
    const shapes: Array<NonNullable<ServeOptions['responseHeaders']>> = [
      { 'Set-Cookie': cookies },
      cookies.map((c) => ['Set-Cookie', c] as const),
      new Headers(cookies.map((c) => ['Set-Cookie', c])),
    ];
    for (const responseHeaders of shapes) {
      const server = await echoServer({ responseHeaders });
      try {
        const ws = new WebSocket(server.url);
        const [response] = (await once(ws, 'upgrade')) as [IncomingMessage];
        assert.deepEqual(response.headers['set-cookie'], cookies);
        ws.terminate();
      } finally {
        await server.close();
      }
    }
    // A refusal's headers take the same shapes (a Map was read as an empty record).
    const server = await echoServer({
      authenticate: () => ({
        status: 401,
        headers: new Map([['WWW-Authenticate', 'Bearer realm="x"']]),
      }),
    });
    try {
      const ws = new WebSocket(server.url);
      ws.on('error', () => {});
      const [, response] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
      assert.equal(response.statusCode, 401);
      assert.equal(response.headers['www-authenticate'], 'Bearer realm="x"');
      response.destroy();
    } finally {
      await server.close();
    }
  });

  void test('a refusal sends its header values as Latin-1 and its message as UTF-8, with the right length', async () => {
    const server = await echoServer({
      authenticate: () => ({
        status: 403,
        message: 'non \u270b',
        headers: { 'X-Name': 'caf\u00e9' },
      }),
    });
    try {
      const port = server.address.port;
      const res = await exchange(port, upgradeRequest(port));
      assert.equal(res.status, 403);
      assert.equal(res.headers.get('x-name'), 'caf\u00e9');
      assert.equal(res.body, 'non \u270b\n');
      assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(res.body)));
    } finally {
      await server.close();
    }
  });

  void test('our client sees a refusal as a WebSocketError naming the status', async () => {
    const server = await echoServer({ authenticate: () => ({ status: 403, message: 'Go away' }) });
    try {
      const wss = new WebSocketStream(server.url);
      await assert.rejects(wss.opened, (e: unknown) => {
        assert.ok(e instanceof WebSocketError);
        assert.match(e.message, /403/);
        return true;
      });
      await assert.rejects(wss.closed);
    } finally {
      await server.close();
    }
  });

  void test('protocols: the first of the client offer that the server speaks', async () => {
    const server = await echoServer({ protocols: ['v2.chat', 'v1.chat'] });
    try {
      const ws = await wsOpen(server.url, ['v1.chat', 'v2.chat']);
      assert.equal(ws.protocol, 'v1.chat', "the client's order of preference");
      ws.terminate();
      const ours = new WebSocketStream(server.url, { protocols: ['other', 'v2.chat'] });
      assert.equal((await ours.opened).protocol, 'v2.chat');
      ours.close();
      await ours.closed;
      // No match: the server answers 101 without a protocol, not a refusal (a
      // WHATWG client then fails the connection itself, as wsstream's does).
      const none = await rawClient(server.address.port, ['Sec-WebSocket-Protocol: other']);
      assert.equal(none.response.status, 101);
      assert.equal(none.response.headers.get('sec-websocket-protocol'), undefined);
      none.socket.destroy();
      const client = new WebSocketStream(server.url, { protocols: ['other'] });
      await assert.rejects(client.opened, /no subprotocol, and "other" was offered/);
      const plain = await wsOpen(server.url);
      assert.equal(plain.protocol, '');
      plain.terminate();
    } finally {
      await server.close();
    }
  });

  void test('selectProtocol gets the offer in order and the request, may be async', async () => {
    const seen: Array<{ offered: string[]; path: string | undefined }> = [];
    const server = await echoServer({
      selectProtocol: async (offered, request) => {
        seen.push({ offered, path: request.url });
        await Promise.resolve();
        return offered.includes('b') ? 'b' : null;
      },
    });
    try {
      const ws = await wsOpen(`${server.url}room?x=1`, ['a', 'b', 'c']);
      assert.equal(ws.protocol, 'b');
      ws.terminate();
      assert.deepEqual(seen[0], { offered: ['a', 'b', 'c'], path: '/room?x=1' });
      // null: a 101 without a protocol.
      const none = await rawClient(server.address.port, ['Sec-WebSocket-Protocol: a']);
      assert.equal(none.response.status, 101);
      assert.equal(none.response.headers.get('sec-websocket-protocol'), undefined);
      none.socket.destroy();
      assert.deepEqual(seen[1]?.offered, ['a']);
    } finally {
      await server.close();
    }
  });

  void test('url: the host from Host and the target as a path, even one that starts with // or /\\ (a client cannot name another host)', async () => {
    const urls: string[] = [];
    const server = await serve({ host: '127.0.0.1' }, (connection) => {
      urls.push(connection.url);
      connection.request.socket.destroy();
    });
    const ask = async (target: string, host = 'app.example'): Promise<string> => {
      const res = await exchange(
        server.address.port,
        [
          `GET ${target} HTTP/1.1`,
          `Host: ${host}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${SAMPLE_KEY}`,
          'Sec-WebSocket-Version: 13',
        ].join('\r\n') + '\r\n\r\n',
      );
      assert.equal(res.status, 101);
      return urls.shift()!;
    };
    try {
      assert.equal(await ask('/chat?room=1'), 'ws://app.example/chat?room=1');
      assert.equal(
        await ask('//evil.example/admin?x=1'),
        'ws://app.example//evil.example/admin?x=1',
      );
      assert.equal(await ask('/\\evil.example/y'), 'ws://app.example//evil.example/y');
      // An absolute-form target names its own host (RFC 7230 5.5); the scheme is the socket's.
      assert.equal(await ask('http://other.example:81/z?q'), 'ws://other.example:81/z?q');
      assert.equal(await ask('/p', 'bad/host@x'), 'ws://localhost/p');
    } finally {
      await server.close();
    }
  });

  void test('the connection exposes the request, url and remote address', async () => {
    let resolveSeen!: (v: {
      url: string;
      header: string | undefined;
      remote: string | undefined;
    }) => void;
    const seen = new Promise<{
      url: string;
      header: string | undefined;
      remote: string | undefined;
    }>((resolve) => (resolveSeen = resolve));
    const server = await serve({ host: '127.0.0.1' }, (connection) => {
      resolveSeen({
        url: connection.url,
        header: connection.request.headers['x-test'] as string | undefined,
        remote: connection.request.socket.remoteAddress,
      });
      connection.close();
    });
    try {
      const ws = new WebSocket(`${server.url}path?q=1`, { headers: { 'X-Test': 'yes' } });
      ws.on('error', () => {});
      const info = await seen;
      assert.equal(info.url, `ws://127.0.0.1:${server.address.port}/path?q=1`);
      assert.equal(info.header, 'yes');
      assert.equal(info.remote, '127.0.0.1');
      await once(ws, 'close');
    } finally {
      await server.close();
    }
  });
});
