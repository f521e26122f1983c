/**
 * The client's opening handshake: subprotocols, extensions, request headers,
 * refusals, redirects, aborts and close() before the connection opened.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketError, WebSocketStream, type HeadersInput } from '../../src/index.js';
import { HandshakeError } from '../../src/core/handshake/index.js';
import {
  acceptHandshake,
  assertSame,
  headerOf,
  readRequestHead,
  rejection,
  requests,
  startRawServer,
  startWsServer,
  waitUntil,
  within,
  type RawFixture,
  type WsFixture,
} from './helpers.js';

/** Asserts that `opened` and `closed` both reject with the same WebSocketError; returns it. */
async function assertFailed(wss: WebSocketStream): Promise<WebSocketError> {
  const error = await rejection(wss.opened);
  assert.ok(error instanceof WebSocketError, `expected a WebSocketError, got ${String(error)}`);
  assert.equal(error.constructor, WebSocketError);
  assertSame(await rejection(wss.closed), error, 'closed rejects with the same error');
  return error;
}

void describe('handshake with a ws server', { timeout: 30_000 }, () => {
  let server: WsFixture;
  before(async () => {
    server = await startWsServer({
      handleProtocols: (protocols) => (protocols.has('chat.v2') ? 'chat.v2' : false),
    });
  });
  after(async () => {
    await server.close();
  });

  void it('offers the subprotocols in order; the selected one is in opened', async () => {
    const wss = new WebSocketStream(server.url, { protocols: ['chat.v1', 'chat.v2'] });
    const [{ protocol }, peer] = await Promise.all([wss.opened, server.next()]);
    assert.equal(protocol, 'chat.v2');
    assert.equal(peer.req.headers['sec-websocket-protocol'], 'chat.v1, chat.v2');
    assert.equal(peer.ws.protocol, 'chat.v2');
    wss.close();
    await within(wss.closed, 5000, 'closed');
  });

  void it('none offered: protocol is the empty string', async () => {
    const wss = new WebSocketStream(server.url);
    const [{ protocol, extensions }] = await Promise.all([wss.opened, server.next()]);
    assert.equal(protocol, '');
    assert.equal(extensions, '');
    wss.close();
    await within(wss.closed, 5000, 'closed');
  });

  void it('offered and none selected: the connection fails (WHATWG, as Chrome and ws)', async () => {
    const wss = new WebSocketStream(server.url, { protocols: ['other'] });
    // The ws server completed its side of the handshake.
    const [error, peer] = await Promise.all([assertFailed(wss), server.next()]);
    peer.ws.terminate();
    assert.match(error.message, /no subprotocol, and "other" was offered/);
    assert.ok(error.cause instanceof HandshakeError);
    assert.equal(error.cause.code, 'MISSING_PROTOCOL');
  });

  void it('sends custom request headers (record, pairs, Headers) and may override Host; an array value in a record gives a line per element', async () => {
    const inputs: HeadersInput[] = [
      { 'X-Token': 'abc', 'User-Agent': 'wsstream-test' },
      [
        ['X-Token', 'abc'],
        ['User-Agent', 'wsstream-test'],
      ],
      new Headers({ 'X-Token': 'abc', 'User-Agent': 'wsstream-test' }),
    ];
    for (const headers of inputs) {
      const wss = new WebSocketStream(server.url, { headers });
      const [, peer] = await Promise.all([wss.opened, server.next()]);
      assert.equal(peer.req.headers['x-token'], 'abc');
      assert.equal(peer.req.headers['user-agent'], 'wsstream-test');
      assert.equal(peer.req.headers.host, `127.0.0.1:${server.port}`);
      wss.close();
      await within(wss.closed, 5000, 'closed');
    }
    // A record's array value: one line per element, as node:http sends it.
    const multi = new WebSocketStream(server.url, { headers: { 'X-Tag': ['a', 'b'] } });
    const [, tagged] = await Promise.all([multi.opened, server.next()]);
    const tags = tagged.req.rawHeaders.filter((_, i, raw) => raw[i - 1] === 'X-Tag');
    assert.deepEqual(tags, ['a', 'b']);
    multi.close();
    await within(multi.closed, 5000, 'closed');
    const wss = new WebSocketStream(server.url, { headers: { Host: 'example.test' } });
    const [, peer] = await Promise.all([wss.opened, server.next()]);
    assert.equal(peer.req.headers.host, 'example.test');
    assert.equal(peer.req.rawHeaders.filter((h) => h.toLowerCase() === 'host').length, 1);
    wss.close();
    await within(wss.closed, 5000, 'closed');
  });

  void it('sends a header value beyond ASCII one byte per character (Latin-1), as node:http and browsers do', async () => {
    const wss = new WebSocketStream(server.url, { headers: { 'X-Name': 'caf\u00e9 \u00ff' } });
    const [, peer] = await Promise.all([wss.opened, server.next()]);
    // node:http reads field values one byte per character.
    assert.equal(peer.req.headers['x-name'], 'caf\u00e9 \u00ff');
    wss.close();
    await within(wss.closed, 5000, 'closed');
    assert.throws(
      () => new WebSocketStream(server.url, { headers: { 'X-Name': 'snow \u2603' } }),
      /characters beyond U\+00FF/,
    );
  });

  void it('a CR, LF or NUL in a header value is a TypeError at construction; nothing is sent', () => {
    const before = requests.length;
    for (const value of ['a\r\nX-Evil: 1', 'a\nb', 'a\rb', 'a\0b']) {
      assert.throws(
        () => new WebSocketStream(server.url, { headers: { 'X-A': value } }),
        TypeError,
      );
    }
    assert.throws(
      () => new WebSocketStream(server.url, { headers: { 'Bad Name': 'v' } }),
      TypeError,
    );
    for (const value of [null, undefined]) {
      assert.throws(
        () =>
          new WebSocketStream(server.url, {
            headers: [['X-A', value as unknown as string]],
          }),
        /Invalid value for header X-A/,
      );
    }
    assert.equal(requests.length, before, 'no connection was attempted');
  });

  void it("the handshake's own headers cannot be set", () => {
    for (const name of [
      'Upgrade',
      'connection',
      'Sec-WebSocket-Key',
      'Sec-WebSocket-Version',
      'Sec-WebSocket-Protocol',
      'Sec-WebSocket-Extensions',
    ]) {
      assert.throws(
        () => new WebSocketStream(server.url, { headers: { [name]: 'x' } }),
        TypeError,
        name,
      );
    }
  });

  void it('abort after open has no effect', async () => {
    const controller = new AbortController();
    const wss = new WebSocketStream(server.url, { signal: controller.signal });
    const [{ readable, writable }, peer] = await Promise.all([wss.opened, server.next()]);
    controller.abort(new Error('too late'));
    peer.ws.on('message', (data, isBinary) => peer.ws.send(data, { binary: isBinary }));
    const writer = writable.getWriter();
    await writer.write('still open');
    const { value } = await within(readable.getReader().read(), 5000, 'echo');
    assert.equal(value, 'still open');
    wss.close({ closeCode: 1000 });
    assert.deepEqual(await within(wss.closed, 5000, 'closed'), { closeCode: 1000, reason: '' });
  });

  void it('an already aborted signal: both promises reject with its reason, no connection attempted', async () => {
    const reason = new Error('never mind');
    const before = requests.length;
    const tcpBefore = server.tcpConnections;
    const wss = new WebSocketStream(server.url, { signal: AbortSignal.abort(reason) });
    assertSame(await rejection(wss.opened), reason, 'opened rejects with signal.reason');
    assertSame(await rejection(wss.closed), reason, 'closed rejects with signal.reason');
    assert.equal(requests.length, before, 'the connector was not called');
    // A connection made afterwards is the only one the server sees.
    const probe = new WebSocketStream(server.url);
    await Promise.all([probe.opened, server.next()]);
    assert.equal(server.tcpConnections, tcpBefore + 1);
    probe.close();
    await within(probe.closed, 5000, 'closed');
    // close() afterwards does nothing and does not throw.
    wss.close();
  });

  void it('non-101 response: WebSocketError naming the status', async () => {
    const refusing = await startWsServer({
      verifyClient: (_info, callback) => callback(false, 403, 'Forbidden'),
    });
    try {
      const error = await assertFailed(new WebSocketStream(refusing.url));
      assert.equal(error.closeCode, 1006);
      assert.match(error.message, /403/);
      assert.match(error.message, /Forbidden/);
    } finally {
      await refusing.close();
    }
  });
});

void describe('handshake with a raw server', { timeout: 30_000 }, () => {
  let server: RawFixture;
  let behaviour: (socket: Socket) => Promise<void>;
  before(async () => {
    server = await startRawServer((socket) => {
      void behaviour(socket).catch(() => socket.destroy());
    });
  });
  after(async () => {
    await server.close();
  });

  void it('the server selects a subprotocol that was not offered: WebSocketError', async () => {
    behaviour = async (socket) => {
      await acceptHandshake(socket, ['Sec-WebSocket-Protocol: evil']);
    };
    const error = await assertFailed(new WebSocketStream(server.url, { protocols: ['good'] }));
    assert.match(error.message, /evil/);
    const error2 = await assertFailed(new WebSocketStream(server.url));
    assert.match(error2.message, /evil/);
  });

  void it('the server accepts an extension that was never offered: WebSocketError', async () => {
    behaviour = async (socket) => {
      await acceptHandshake(socket, ['Sec-WebSocket-Extensions: permessage-deflate']);
    };
    const error = await assertFailed(new WebSocketStream(server.url, { perMessageDeflate: false }));
    assert.match(error.message, /permessage-deflate/);
  });

  void it('a response with more than 100 header lines fails (431 on the server side); 100 lines are fine', async () => {
    // 3 handshake lines (Upgrade, Connection, Sec-WebSocket-Accept) plus filler.
    const filler = (n: number): string[] =>
      Array.from({ length: n }, (_, i) => `X-Filler-${i}: ${i}`);
    behaviour = async (socket) => {
      await acceptHandshake(socket, filler(97));
    };
    const fine = new WebSocketStream(server.url);
    await within(fine.opened, 5000, 'opened with 100 header lines');
    fine.close();
    behaviour = async (socket) => {
      await acceptHandshake(socket, filler(98));
    };
    const error = await assertFailed(new WebSocketStream(server.url));
    assert.match(error.message, /More than 100 header fields/);
    assert.ok(error.cause instanceof HandshakeError);
    assert.equal(error.cause.code, 'TOO_MANY_HEADERS');
    assert.equal(error.cause.status, 431);
  });

  void it('a wrong Sec-WebSocket-Accept: WebSocketError', async () => {
    behaviour = async (socket) => {
      await readRequestHead(socket);
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
    };
    const error = await assertFailed(new WebSocketStream(server.url));
    assert.match(error.message, /Sec-WebSocket-Accept/);
  });

  void it('the request carries path, query, Host, version 13 and a fresh 16-byte key', async () => {
    const heads: string[] = [];
    behaviour = async (socket) => {
      const { head } = await acceptHandshake(socket);
      heads.push(head);
    };
    for (let i = 0; i < 2; i++) {
      const wss = new WebSocketStream(`http://127.0.0.1:${server.port}/a/b?x=1&y=%20`);
      await within(wss.opened, 5000, 'opened');
      wss.close();
    }
    const [first, second] = heads;
    assert.match(first!, /^GET \/a\/b\?x=1&y=%20 HTTP\/1\.1\r\n/);
    assert.equal(headerOf(first!, 'host'), `127.0.0.1:${server.port}`);
    assert.equal(headerOf(first!, 'sec-websocket-version'), '13');
    assert.equal(headerOf(first!, 'upgrade')?.toLowerCase(), 'websocket');
    const key1 = headerOf(first!, 'sec-websocket-key')!;
    const key2 = headerOf(second!, 'sec-websocket-key')!;
    assert.equal(Buffer.from(key1, 'base64').length, 16);
    assert.notEqual(key1, key2);
  });

  void it('abort during the handshake: both promises reject with signal.reason, TCP is closed', async () => {
    let serverSocket: Socket | undefined;
    let requestSeen = false;
    behaviour = async (socket) => {
      serverSocket = socket;
      await readRequestHead(socket); // then never answers
      requestSeen = true;
    };
    const controller = new AbortController();
    const wss = new WebSocketStream(server.url, { signal: controller.signal });
    await waitUntil(() => requestSeen, 5000, 'request received');
    let serverSocketClosed = false;
    serverSocket!.on('close', () => (serverSocketClosed = true));
    serverSocket!.resume();
    const reason = new DOMException('stop', 'AbortError');
    controller.abort(reason);
    assertSame(await rejection(wss.opened), reason, 'opened rejects with signal.reason');
    assertSame(await rejection(wss.closed), reason, 'closed rejects with signal.reason');
    await waitUntil(() => serverSocketClosed, 5000, 'server socket closed');
  });

  void it('close() during the handshake fails it (arguments ignored), TCP is closed', async () => {
    let serverSocket: Socket | undefined;
    let requestSeen = false;
    behaviour = async (socket) => {
      serverSocket = socket;
      await readRequestHead(socket);
      requestSeen = true;
    };
    const wss = new WebSocketStream(server.url);
    await waitUntil(() => requestSeen, 5000, 'request received');
    let serverSocketClosed = false;
    serverSocket!.on('close', () => (serverSocketClosed = true));
    serverSocket!.resume();
    wss.close({ closeCode: 4000, reason: 'ignored' });
    const error = await assertFailed(wss);
    assert.equal(error.closeCode, 1006);
    await waitUntil(() => serverSocketClosed, 5000, 'server socket closed');
    // The attempt is over: later close() calls do nothing.
    wss.close();
  });

  void it('close() right after construction fails the attempt', async () => {
    behaviour = async (socket) => {
      await acceptHandshake(socket);
    };
    const wss = new WebSocketStream(server.url);
    wss.close();
    await assertFailed(wss);
  });

  void it('a silent server: handshakeTimeout fails the attempt', async () => {
    behaviour = async (socket) => {
      socket.resume(); // reads the request, never answers
    };
    const wss = new WebSocketStream(server.url, { handshakeTimeout: 200 });
    const error = await assertFailed(wss);
    assert.match(error.message, /timed out/);
  });

  void it('the server closes TCP during the handshake: WebSocketError', async () => {
    behaviour = async (socket) => {
      await readRequestHead(socket);
      socket.end('HTTP/1.1 101 Switching');
    };
    const error = await assertFailed(new WebSocketStream(server.url));
    assert.equal(error.closeCode, 1006);
  });

  void it('interim 1xx responses before the 101 (100 Continue, 103 Early Hints) are skipped, in one write or apart', async () => {
    for (const apart of [false, true]) {
      behaviour = async (socket) => {
        const { head } = await readRequestHead(socket);
        const key = headerOf(head, 'sec-websocket-key')!;
        const { acceptFor, serverFrame } = await import('./helpers.js');
        const interim =
          'HTTP/1.1 100 Continue\r\n\r\n' +
          'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n';
        const final = Buffer.concat([
          Buffer.from(
            'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
              `Sec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`,
          ),
          serverFrame(1, Buffer.from('after the interim answers')),
        ]);
        if (!apart) {
          socket.write(Buffer.concat([Buffer.from(interim), final]));
          return;
        }
        // Byte by byte up to the 101, then the rest.
        for (const byte of Buffer.from(interim)) {
          socket.write(Buffer.of(byte));
          await new Promise((resolve) => setImmediate(resolve));
        }
        socket.write(final);
      };
      const wss = new WebSocketStream(server.url);
      const { readable } = await within(wss.opened, 5000, 'opened');
      const { value } = await within(readable.getReader().read(), 5000, 'read');
      assert.equal(value, 'after the interim answers');
      wss.close();
    }
  });

  void it('interim responses count against the 16 KiB head limit together; a 1xx then a 200 fails with the 200', async () => {
    behaviour = async (socket) => {
      await readRequestHead(socket);
      // 40 heads of 500 bytes each, none over the limit alone.
      const one = `HTTP/1.1 103 Early Hints\r\nLink: <${'x'.repeat(450)}>\r\n\r\n`;
      socket.write(one.repeat(40));
    };
    let error = await assertFailed(new WebSocketStream(server.url));
    assert.match(error.message, /Interim \(1xx\) responses of more than 16384 bytes/);
    behaviour = async (socket) => {
      await readRequestHead(socket);
      socket.end('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    };
    error = await assertFailed(new WebSocketStream(server.url));
    assert.match(error.message, /200 OK/);
  });

  void it('an extensions answer of empty list elements only means none, with compression off or on', async () => {
    behaviour = async (socket) => {
      const { head } = await readRequestHead(socket);
      const key = headerOf(head, 'sec-websocket-key')!;
      const { acceptFor } = await import('./helpers.js');
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${acceptFor(key)}\r\nSec-WebSocket-Extensions: , ,\r\n\r\n`,
      );
    };
    for (const perMessageDeflate of [false, true]) {
      const wss = new WebSocketStream(server.url, { perMessageDeflate });
      const { extensions } = await within(wss.opened, 5000, 'opened');
      assert.equal(extensions, '', `perMessageDeflate: ${perMessageDeflate}`);
      wss.close();
    }
  });

  void it('frames the server sends right after its 101 are delivered', async () => {
    behaviour = async (socket) => {
      const { head } = await readRequestHead(socket);
      const key = headerOf(head, 'sec-websocket-key')!;
      const { acceptFor, serverFrame } = await import('./helpers.js');
      // Response and first frame in a single TCP write.
      socket.write(
        Buffer.concat([
          Buffer.from(
            'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
              `Sec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`,
          ),
          serverFrame(1, Buffer.from('first')),
        ]),
      );
    };
    const wss = new WebSocketStream(server.url);
    const { readable } = await within(wss.opened, 5000, 'opened');
    const { value } = await within(readable.getReader().read(), 5000, 'read');
    assert.equal(value, 'first');
    wss.close();
  });
});

void describe('handshake failures without a WebSocket server', { timeout: 30_000 }, () => {
  void it('3xx redirect: WebSocketError naming the Location, which is not followed', async () => {
    const target = await startWsServer();
    const redirecting = createHttpServer();
    redirecting.on('upgrade', (_req, socket: Socket) => {
      socket.end(
        `HTTP/1.1 302 Found\r\nLocation: ${target.url}elsewhere\r\nContent-Length: 0\r\n\r\n`,
      );
    });
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    const address = redirecting.address();
    assert.ok(address !== null && typeof address === 'object');
    try {
      const error = await assertFailed(new WebSocketStream(`ws://127.0.0.1:${address.port}/`));
      assert.match(error.message, /302/);
      assert.ok(error.message.includes(`${target.url}elsewhere`), error.message);
      assert.equal(target.tcpConnections, 0, 'the redirect was not followed');
    } finally {
      redirecting.closeAllConnections();
      await new Promise<void>((resolve) => redirecting.close(() => resolve()));
      await target.close();
    }
  });

  void it('connection refused: WebSocketError saying so', async () => {
    // A port that was just free.
    const probe = await startRawServer(() => {});
    const url = probe.url;
    await probe.close();
    const error = await assertFailed(new WebSocketStream(url));
    assert.equal(error.closeCode, 1006);
    assert.match(error.message, /ECONNREFUSED/);
  });

  void it('an HTTP server that does not upgrade: WebSocketError with its status', async () => {
    const plain = createHttpServer((_req, res) => {
      res.writeHead(404).end('no');
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const address = plain.address();
    assert.ok(address !== null && typeof address === 'object');
    try {
      const error = await assertFailed(new WebSocketStream(`ws://127.0.0.1:${address.port}/`));
      assert.match(error.message, /404/);
    } finally {
      plain.closeAllConnections();
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  });
});

void describe('credentials in the URL', { timeout: 30_000 }, () => {
  let server: WsFixture;
  /** The Authorization header of each request, as the server saw it. */
  const seen: Array<string | undefined> = [];
  before(async () => {
    // As the WPT test websockets/basic-auth.any.js: the server wants foo:bar.
    server = await startWsServer({
      verifyClient: ({ req }: { req: IncomingMessage }) => {
        seen.push(req.headers.authorization);
        return req.headers.authorization === `Basic ${Buffer.from('foo:bar').toString('base64')}`;
      },
    });
  });
  after(async () => {
    await server.close();
  });

  void it('ws://user:password@host/ sends them as HTTP Basic authentication', async () => {
    const url = new URL(server.url);
    url.username = 'foo';
    url.password = 'bar';
    const wss = new WebSocketStream(url);
    const [, peer] = await Promise.all([wss.opened, server.next()]);
    assert.equal(peer.req.headers.authorization, 'Basic Zm9vOmJhcg==');
    // The url attribute is the URL as given (as in browsers).
    assert.equal(wss.url, url.href);
    wss.close();
    await within(wss.closed, 5000, 'closed');
  });

  void it('percent-encoded credentials go decoded, as UTF-8; an Authorization header of the application wins', async () => {
    const url = new URL(server.url);
    url.username = 'zo%C3%AB';
    url.password = 'p%40ss';
    const wss = new WebSocketStream(url);
    const error = await assertFailed(wss); // not foo:bar: refused with 401
    assert.match(error.message, /401/);
    assert.equal(seen.at(-1), `Basic ${Buffer.from('zoë:p@ss', 'utf8').toString('base64')}`);
    const own = new WebSocketStream(url, {
      headers: { Authorization: `Basic ${Buffer.from('foo:bar').toString('base64')}` },
    });
    const [, peer] = await Promise.all([own.opened, server.next()]);
    assert.equal(peer.req.headers.authorization, 'Basic Zm9vOmJhcg==');
    own.close();
    await within(own.closed, 5000, 'closed');
  });

  void it('error messages never show the credentials', async () => {
    const wss = new WebSocketStream('ws://bob:hunter2@127.0.0.1:1/x');
    const error = await assertFailed(wss);
    assert.doesNotMatch(error.message, /hunter2|bob/, error.message);
    assert.match(error.message, /ws:\/\/127\.0\.0\.1:1\/x/);
  });
});
