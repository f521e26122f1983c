/**
 * `wss:` server cases of the runtime suite (test/runtimes/suite.js), against
 * peers wsstream did not write: the `ws` package as a client (on the
 * machine's Node for the floods, test/runtimes/ws-flood-peer.mjs; in the
 * running runtime otherwise), and raw TLS clients (node:tls) writing request
 * heads by hand. On Deno the server is
 * `Deno.listenTls` with the core's head parser (src/deno/serve-tls.ts); on
 * Node and Bun it is node:https. The same answers and limits are expected of
 * both.
 *
 * Plain JavaScript, like the suite; it registers its cases with the suite's
 * runner and helpers.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { connect as connectTcp } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

/**
 * Opens a TLS connection to `port` (trusting `ca`), writes `text` (a string,
 * or a function given the socket), and resolves with everything the server
 * sent until it closed (or until the head of a 101), and how long that took.
 */
function rawExchange(port, ca, text) {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connectTls({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      if (typeof text === 'function') text(socket);
      else socket.write(text);
    });
    let got = '';
    socket.on('data', (chunk) => {
      got += chunk.toString('latin1');
      // A 101 leaves the connection open: its head is the answer.
      if (got.startsWith('HTTP/1.1 101 ') && got.includes('\r\n\r\n')) socket.destroy();
    });
    // A reset (after the answer, or of a client the server dropped) ends the exchange too.
    socket.on('error', () => {});
    socket.on('close', () => resolve({ got, ms: Date.now() - started }));
  });
}

const UPGRADE_HEAD = [
  'GET /chat?room=1 HTTP/1.1',
  'Host: localhost',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version: 13',
];
const head = (lines) => `${lines.join('\r\n')}\r\n\r\n`;

/** `size` random bytes: they do not compress. */
function incompressible(size) {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
  return bytes;
}

/** `size` random letters of a 16-letter alphabet: compresses to about 55 %, never to nothing. */
function letters(size) {
  const alphabet = new TextEncoder().encode('abcdefghijklmnop');
  const bytes = incompressible(size);
  for (let i = 0; i < size; i++) bytes[i] = alphabet[bytes[i] & 15];
  return bytes;
}

/** The CA the test certificates are signed with, as a file for the ws peer. */
const CA_PATH = fileURLToPath(new URL('../fixtures/test-ca-cert.pem', import.meta.url));

/**
 * Starts test/runtimes/ws-flood-peer.mjs: the ws package on the machine's
 * Node (whatever runtime runs the suite) flooding `url` with `count`
 * messages. Returns its output lines, how many messages its socket took,
 * and the child process.
 */
function wsPeer(url, count, size, compress) {
  const script = fileURLToPath(new URL('./ws-flood-peer.mjs', import.meta.url));
  const child = spawn('node', [script, url, CA_PATH, `${count}`, `${size}`, compress ? '1' : '0'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const peer = { child, lines: [], exited: false, written: () => 0 };
  let last = 0;
  peer.written = () => last;
  child.on('exit', () => (peer.exited = true));
  createInterface({ input: child.stdout }).on('line', (line) => {
    peer.lines.push(line);
    if (line.startsWith('written ')) last = Number(line.slice(8));
  });
  return peer;
}

/** Registers the cases with the suite's runner `t.test` and helpers. */
export function registerTlsServerCases(t) {
  const { test, assert, equal, note, waitStable, waitUntil, startServer, MiB, IS_DENO } = t;
  const tls = { tls: { cert: t.LEAF_CERT, key: t.LEAF_KEY } };
  const wssUrl = (fixture) => fixture.url.replace('127.0.0.1', 'localhost');
  const port = (fixture) => fixture.server.address.port;

  for (const compress of [false, true]) {
    const label = compress ? 'compressed messages' : 'uncompressed messages';
    test(`wss: server (${label}): a ws client's flood to a server that does not read waits in TCP; the server holds a bounded number of bytes`, async () => {
      const SIZE = MiB;
      const COUNT = 48;
      let release;
      const released = new Promise((resolve) => (release = resolve));
      const fixture = await startServer(async (connection) => {
        const { readable } = await connection.opened;
        await released;
        let n = 0;
        try {
          for await (const m of readable) {
            equal([m.length, m[0]], [SIZE, n], `server got message ${n}`);
            n++;
          }
        } finally {
          connection.received = n;
        }
      }, tls);
      const peer = wsPeer(wssUrl(fixture), COUNT, SIZE, compress);
      try {
        await waitUntil(() => peer.lines.includes('open'), 'the ws client to open');
        const connection = await fixture.next();
        if (t.IS_DENO)
          equal(
            connection.session.transport.constructor.name,
            'DenoConnTransport',
            'the Deno server',
          );
        equal(
          (await connection.opened).extensions !== '',
          compress,
          'permessage-deflate as offered',
        );
        // Some of the flood reached the server before it stopped reading.
        const transport = connection.session.transport;
        await waitUntil(() => transport.bytesRead > 0, 'the server to read');
        const serverRead = await waitStable(() => transport.bytesRead);
        note(
          `server read ${serverRead} B while not reading; the ws client's socket took ${peer.written()} of ${COUNT} messages`,
        );
        assert(serverRead <= 4 * MiB + SIZE, `server read ${serverRead} bytes while not reading`);
        assert(peer.written() < COUNT, `the ws client's writes stopped (${peer.written()})`);
        release();
        await waitUntil(() => peer.written() === COUNT, 'every ws send to be written');
        peer.child.stdin.write('close\n');
        await waitUntil(() => connection.received !== undefined, 'the server to read everything');
        equal(connection.received, COUNT, 'every message arrived');
      } finally {
        peer.child.kill();
        await fixture.server.close();
      }
    }, 60_000);
  }

  test('wss: server: the request the application sees (url, headers, remote address), authenticate and selectProtocol', async () => {
    let seen;
    const fixture = await startServer(
      async (connection) => {
        // Read while the connection is open: Node's socket forgets its address once closed.
        seen = {
          url: connection.url,
          method: connection.request.method,
          path: connection.request.url,
          cookie: connection.request.headers.cookie,
          socketAddress: connection.request.socket.remoteAddress,
          remoteAddress: connection.remoteAddress,
        };
        const { writable } = await connection.opened;
        await writable.close();
      },
      {
        ...tls,
        // Async, as applications' checks often are.
        authenticate: async (request) => request.headers['x-token'] === 'secret',
        selectProtocol: async (offered, request) =>
          request.url.startsWith('/chat') ? offered[offered.length - 1] : null,
      },
    );
    try {
      const client = new WebSocket(`${wssUrl(fixture)}chat?room=1`, ['one', 'two'], {
        ca: t.CA,
        headers: { 'X-Token': 'secret', Cookie: 'a=1' },
      });
      await new Promise((resolve, reject) => {
        client.once('close', resolve);
        client.once('error', reject);
      });
      equal(client.protocol, 'two', 'the protocol selectProtocol chose');
      equal(seen.url, `wss://localhost:${port(fixture)}/chat?room=1`, 'url');
      equal(seen.path, '/chat?room=1', 'request.url');
      equal(seen.method, 'GET', 'request.method');
      equal(seen.cookie, 'a=1', 'request.headers.cookie');
      equal(seen.socketAddress, '127.0.0.1', 'request.socket.remoteAddress');
      equal(seen.remoteAddress, '127.0.0.1', 'remoteAddress');
      const refused = await rawExchange(port(fixture), t.CA, head(UPGRADE_HEAD));
      assert(refused.got.startsWith('HTTP/1.1 401 '), `no token: ${refused.got.split('\r\n')[0]}`);
    } finally {
      await fixture.server.close();
    }
  });

  test('wss: server: a frame sent with the request head (before the 101) reaches the session', async () => {
    const fixture = await startServer(undefined, tls);
    try {
      // A masked text frame "hi" (mask 1 2 3 4), in the same write as the head.
      const frame = Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x68 ^ 1, 0x69 ^ 2]);
      const got = await new Promise((resolve, reject) => {
        const socket = connectTls(
          { host: '127.0.0.1', port: port(fixture), ca: t.CA, servername: 'localhost' },
          () => socket.write(Buffer.concat([Buffer.from(head(UPGRADE_HEAD), 'latin1'), frame])),
        );
        let bytes = Buffer.alloc(0);
        socket.on('data', (chunk) => {
          bytes = Buffer.concat([bytes, chunk]);
          const end = bytes.indexOf('\r\n\r\n');
          if (end >= 0 && bytes.length >= end + 4 + 4) {
            socket.destroy();
            resolve(bytes);
          }
        });
        socket.on('error', reject);
      });
      const end = got.indexOf('\r\n\r\n');
      assert(got.toString('latin1').startsWith('HTTP/1.1 101 '), 'the 101');
      equal([...got.subarray(end + 4, end + 8)], [0x81, 2, 0x68, 0x69], 'the echo of "hi"');
    } finally {
      await fixture.server.close();
    }
  });

  test('wss: server: TLS options Deno.listenTls cannot express are served through node:https', async () => {
    const fixture = await startServer(undefined, {
      tls: { cert: t.LEAF_CERT, key: t.LEAF_KEY, minVersion: 'TLSv1.2' },
    });
    const plain = await startServer(undefined, tls);
    try {
      const client = new WebSocket(wssUrl(fixture), { ca: t.CA });
      const echoed = await new Promise((resolve, reject) => {
        client.once('open', () => client.send('hello'));
        client.once('message', (data) => resolve(String(data)));
        client.once('error', reject);
      });
      equal(echoed, 'hello', 'echo');
      const connection = await fixture.next();
      client.close();
      const name = connection.session.transport.constructor.name;
      assert(name !== 'DenoConnTransport', `a node:https socket, not ${name}`);
      assert(typeof fixture.server.httpServer.address === 'function', 'httpServer');
      if (t.IS_DENO) {
        let thrown;
        try {
          void plain.server.httpServer;
        } catch (error) {
          thrown = error;
        }
        assert(thrown instanceof TypeError, 'httpServer of the Deno.listenTls server throws');
      } else {
        assert(typeof plain.server.httpServer.address === 'function', 'httpServer');
      }
    } finally {
      await fixture.server.close();
      await plain.server.close();
    }
  });

  test('wss: server: bad request heads get 431, 400, 405 and 426; the server serves on', async () => {
    const fixture = await startServer(undefined, {
      ...tls,
      maxHeaderSize: 4096,
      maxHeaderCount: 20,
    });
    try {
      const status = async (text) => {
        const { got } = await rawExchange(port(fixture), t.CA, text);
        return got.split('\r\n')[0];
      };
      const long = [...UPGRADE_HEAD, `X-Long: ${'a'.repeat(5000)}`];
      assert((await status(head(long))).startsWith('HTTP/1.1 431 '), 'a head over maxHeaderSize');
      const many = [...UPGRADE_HEAD, ...Array.from({ length: 20 }, (_, i) => `X-${i}: ${i}`)];
      assert((await status(head(many))).startsWith('HTTP/1.1 431 '), 'more than maxHeaderCount');
      assert(
        (await status('GET / HTTP/1.1\r\nHost localhost\r\n\r\n')).startsWith('HTTP/1.1 400 '),
        'a malformed header line',
      );
      const post = ['POST / HTTP/1.1', ...UPGRADE_HEAD.slice(1)];
      assert((await status(head(post))).startsWith('HTTP/1.1 405 '), 'not GET');
      assert(
        (await status('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n')).startsWith('HTTP/1.1 426 '),
        'plain HTTP',
      );
      // The requests node:http does not route to its 'upgrade' event get the same answers here.
      const connect = 'CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\n\r\n';
      const connectAnswer = await rawExchange(port(fixture), t.CA, connect);
      assert(connectAnswer.got.startsWith('HTTP/1.1 405 '), `CONNECT: ${connectAnswer.got}`);
      assert(/\r\nAllow: GET\r\n/i.test(connectAnswer.got), 'CONNECT: Allow: GET');
      const noToken = UPGRADE_HEAD.map((l) =>
        l === 'Connection: Upgrade' ? 'Connection: keep-alive' : l,
      );
      const noTokenAnswer = (await rawExchange(port(fixture), t.CA, head(noToken))).got;
      assert(noTokenAnswer.startsWith('HTTP/1.1 400 '), `no Connection token: ${noTokenAnswer}`);
      assert(noTokenAnswer.includes('Connection header'), 'the 400 names the Connection header');
      const postNoToken = ['POST / HTTP/1.1', 'Content-Length: 0', ...noToken.slice(1)];
      assert(
        (await status(head(postNoToken))).startsWith('HTTP/1.1 405 '),
        'POST, Upgrade: websocket, no Connection token',
      );
      const noKey = UPGRADE_HEAD.filter((l) => !l.startsWith('Sec-WebSocket-Key'));
      assert((await status(head(noKey))).startsWith('HTTP/1.1 400 '), 'no key');
      // The server serves on.
      const ok = await status(head(UPGRADE_HEAD));
      assert(ok.startsWith('HTTP/1.1 101 '), `a good request after them: ${ok}`);
    } finally {
      await fixture.server.close();
    }
  });

  test('wss: server: a client that trickles its head is dropped at handshakeTimeout; maxConnections answers 503', async () => {
    const fixture = await startServer(
      async (connection) => {
        await connection.opened;
        await connection.closed.catch(() => {});
      },
      { ...tls, handshakeTimeout: 500, maxConnections: 1 },
    );
    try {
      const slow = await rawExchange(port(fixture), t.CA, (socket) => {
        socket.write('GET / HTTP/1.1\r\n');
        const timer = setInterval(() => socket.write('X-Slow: 1\r\n'), 100);
        socket.on('close', () => clearInterval(timer));
      });
      note(`a trickling client was dropped after ${slow.ms} ms`);
      assert(slow.ms >= 400 && slow.ms < 5000, `dropped after ${slow.ms} ms`);
      const first = new WebSocket(wssUrl(fixture), { ca: t.CA });
      await new Promise((resolve, reject) => {
        first.once('open', resolve);
        first.once('error', reject);
      });
      const { got } = await rawExchange(port(fixture), t.CA, head(UPGRADE_HEAD));
      assert(got.startsWith('HTTP/1.1 503 '), `over maxConnections: ${got.split('\r\n')[0]}`);
      first.close();
    } finally {
      await fixture.server.close();
    }
  });

  test(
    'wss: server: a client that opens TCP and never starts TLS is dropped at handshakeTimeout',
    async () => {
      const fixture = await startServer(undefined, { ...tls, handshakeTimeout: 500 });
      try {
        const started = Date.now();
        const ms = await new Promise((resolve) => {
          const socket = connectTcp(port(fixture), '127.0.0.1');
          socket.on('error', () => {});
          const timer = setTimeout(() => {
            socket.destroy();
            resolve(null);
          }, 5000);
          socket.on('close', () => {
            clearTimeout(timer);
            resolve(Date.now() - started);
          });
        });
        assert(ms !== null, 'still open after 5000 ms');
        note(`dropped after ${ms} ms`);
        assert(ms >= 400, `dropped after ${ms} ms`);
      } finally {
        await fixture.server.close();
      }
    },
    30_000,
    IS_DENO
      ? 'Deno 2.9: closing a Deno.listenTls connection before its TLS handshake leaves the TCP connection open (docs/runtimes.md)'
      : typeof globalThis.Bun !== 'undefined'
        ? 'Bun 1.4: node:https shows no such connection to the server and drops it by itself after about 12 s (docs/runtimes.md)'
        : undefined,
  );
}
