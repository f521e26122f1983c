/**
 * permessage-deflate cases of the runtime suite (test/runtimes/suite.js),
 * over `ws:` and `wss:` on whatever runtime runs the suite. On Deno a `wss:`
 * client goes through the Deno connector (src/deno/connect.ts, Deno.connectTls)
 * and inflates with Deno's node:zlib; on Bun, Bun's node:zlib.
 *
 * Plain JavaScript, like the suite; it registers its cases with the suite's
 * runner and helpers.
 */
import { createHash } from 'node:crypto';
import { createServer as createTcpServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { WebSocketError, WebSocketStream } from '../../dist/index.js';

/** RFC 6455 1.3: the GUID the accept key is derived with. */
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * A raw server (node:net, or node:tls with `tls`) that answers every
 * WebSocket handshake with `Sec-WebSocket-Extensions: answer`. Resolves with
 * its port, the accepted sockets and `close()`.
 */
async function answeringServer(tls, answer) {
  const sockets = [];
  const onSocket = (socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    let head = '';
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const key = /sec-websocket-key:[ \t]*(\S+)/i.exec(head)?.[1] ?? '';
      const accept = createHash('sha1')
        .update(key + GUID)
        .digest('base64');
      head = '';
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Extensions: ${answer}\r\n\r\n`,
      );
    });
  };
  const server = tls === undefined ? createTcpServer(onSocket) : createTlsServer(tls, onSocket);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    sockets,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** What the default client and the default server agree on. */
const AGREED = 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12';
const LETTERS = new TextEncoder().encode('abcdefghijklmnop');

/** `size` random letters of a 16-letter alphabet: compresses to about 55 %, never to nothing. */
function letters(size) {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
  for (let i = 0; i < size; i++) bytes[i] = LETTERS[bytes[i] & 15];
  return bytes;
}

/** JSON-like text of about `size` characters. */
function jsonText(size, seed) {
  let out = '[';
  for (let i = 0; out.length < size; i++)
    out += `{"id":${seed * 1000 + i},"name":"item-${i % 13}","tags":["a","b${i % 5}"],"ok":${i % 2 === 0}},`;
  return `${out.slice(0, size - 1)}]`;
}

function sameBytes(a, b) {
  if (!(a instanceof Uint8Array) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Registers the cases. `t` holds the suite's runner and helpers: test, assert,
 * equal, note, outcome, waitStable, waitUntil, startServer, lastClientTransport,
 * SECURITY, MiB, IS_DENO.
 */
export function registerDeflateCases(t) {
  const { test, assert, equal, note, outcome, waitStable, waitUntil, MiB } = t;

  for (const security of t.SECURITY) {
    const url = (fixture) => security.url(fixture.url);

    test(`compression (${security.label}): messages both ways compressed, agreed on both ends, fewer bytes on the socket than the payload`, async () => {
      const fixture = await t.startServer(undefined, security.server);
      try {
        const wss = new WebSocketStream(url(fixture), security.client);
        const { readable, writable, extensions } = await wss.opened;
        equal(extensions, AGREED, "extensions in the client's opened");
        const peer = await fixture.next();
        equal((await peer.opened).extensions, AGREED, "extensions in the server's opened");
        const transport = t.lastClientTransport();
        if (t.IS_DENO && security.label === 'wss:')
          equal(transport.constructor.name, 'DenoConnTransport', 'the Deno connector');
        const messages = [];
        for (let i = 0; i < 40; i++) {
          const size = [100, 4096, 65536, 262144][i % 4];
          messages.push(i % 2 === 0 ? jsonText(size, i) : letters(size));
        }
        const payload = messages.reduce((n, m) => n + m.length, 0);
        const clientRead = transport.bytesRead;
        const serverRead = peer.session.transport.bytesRead;
        const writer = writable.getWriter();
        const reader = readable.getReader();
        for (const m of messages) void writer.write(m);
        for (const [i, m] of messages.entries()) {
          const { value } = await reader.read();
          if (typeof m === 'string') equal(value, m, `text message ${i}`);
          else assert(sameBytes(value, m), `binary message ${i} echoed intact`);
        }
        const up = peer.session.transport.bytesRead - serverRead;
        const down = transport.bytesRead - clientRead;
        note(
          `${payload} B of payload each way: ${up} B read by the server, ${down} B by the client`,
        );
        assert(up < payload * 0.7, `the server read ${up} B for ${payload} B of payload`);
        assert(down < payload * 0.7, `the client read ${down} B for ${payload} B of payload`);
        wss.close({ closeCode: 1000 });
        equal((await wss.closed).closeCode, 1000, 'a clean close');
      } finally {
        await fixture.server.close();
      }
    });

    test(`compression (${security.label}): bad permessage-deflate answers reject opened with a WebSocketError naming the parameter`, async () => {
      const answers = [
        ['permessage-deflate; server_max_window_bits=16', 'server_max_window_bits'],
        ['permessage-deflate; client_max_window_bits="10', 'client_max_window_bits'],
        ['permessage-deflate; foo', 'foo'],
        ['x-unknown', 'x-unknown'],
      ];
      for (const [answer, name] of answers) {
        const raw = await answeringServer(security.server.tls, answer);
        try {
          const scheme = security.label === 'wss:' ? 'wss://localhost' : 'ws://127.0.0.1';
          const wss = new WebSocketStream(`${scheme}:${raw.port}/`, security.client);
          const [o, c] = await Promise.all([outcome(wss.opened), outcome(wss.closed)]);
          assert(o.error instanceof WebSocketError, `${answer}: opened rejects (${o.error})`);
          assert(c.error instanceof WebSocketError, `${answer}: closed rejects (${c.error})`);
          equal(o.error.closeCode, 1006, `${answer}: closeCode`);
          assert(o.error.message.includes(name), `${answer}: "${o.error.message}" names ${name}`);
          // The client drops the connection.
          await waitUntil(
            () => raw.sockets.length === 1 && raw.sockets[0].destroyed,
            'the client to drop the connection',
          );
        } finally {
          await raw.close();
        }
      }
    });

    test(`compression (${security.label}): a deflate bomb (64 MiB of zeros) fails with 1009 at maxMessageSize, both ways; the server serves others`, async () => {
      const BOMB = 64 * MiB;
      const LIMIT = MiB;
      // Server -> client: the client's limit stops it.
      const toClient = await t.startServer(async (connection) => {
        const { writable } = await connection.opened;
        await writable
          .getWriter()
          .write(new Uint8Array(BOMB))
          .catch(() => {});
      }, security.server);
      try {
        const wss = new WebSocketStream(url(toClient), {
          ...security.client,
          maxMessageSize: LIMIT,
        });
        const { readable } = await wss.opened;
        const transport = t.lastClientTransport();
        const read = await outcome(readable.getReader().read());
        const closed = await outcome(wss.closed);
        assert(closed.error instanceof WebSocketError, `closed rejects (${closed.error})`);
        equal(closed.error.closeCode, 1009, 'client closeCode');
        assert(read.error !== undefined, 'the read rejects');
        note(`client: 1009 after reading ${transport.bytesRead} B for a 64 MiB message`);
        assert(
          transport.bytesRead < LIMIT,
          `the bomb arrived compressed (${transport.bytesRead} B)`,
        );
      } finally {
        await toClient.server.close();
      }
      // Client -> server: the server's limit stops it, and it goes on serving.
      const fixture = await t.startServer(undefined, { ...security.server, maxMessageSize: LIMIT });
      try {
        const bomber = new WebSocketStream(url(fixture), security.client);
        const { writable } = await bomber.opened;
        const peer = await fixture.next();
        void writable
          .getWriter()
          .write(new Uint8Array(BOMB))
          .catch(() => {});
        const server = await outcome(peer.closed);
        assert(server.error instanceof WebSocketError, `server closed rejects (${server.error})`);
        equal(server.error.closeCode, 1009, 'server closeCode');
        const client = await outcome(bomber.closed);
        equal(client.value?.closeCode ?? client.error?.closeCode, 1009, 'the client learns 1009');
        note(`server: 1009 after reading ${peer.session.transport.bytesRead} B`);
        assert(peer.session.transport.bytesRead < LIMIT, 'the bomb arrived compressed');
        const other = new WebSocketStream(url(fixture), security.client);
        const o = await other.opened;
        const w = o.writable.getWriter();
        await w.write('still serving');
        equal((await o.readable.getReader().read()).value, 'still serving', 'another client');
        other.close();
        await other.closed;
      } finally {
        await fixture.server.close();
      }
    });

    test(`compression (${security.label}): receive backpressure with compressed messages: a paused client holds a bounded number of bytes`, async () => {
      const SIZE = MiB;
      const COUNT = 64;
      let serverWritten = 0;
      const fixture = await t.startServer(async (connection) => {
        const { writable } = await connection.opened;
        const writer = writable.getWriter();
        const message = letters(SIZE);
        for (let i = 0; i < COUNT; i++) {
          message[0] = i;
          await writer.write(message);
          serverWritten++;
        }
      }, security.server);
      try {
        const wss = new WebSocketStream(url(fixture), {
          ...security.client,
          maxMessageSize: 2 * SIZE,
        });
        const { readable, extensions } = await wss.opened;
        equal(extensions, AGREED, 'compression agreed');
        const transport = t.lastClientTransport();
        const held = await waitStable(() => transport.bytesRead);
        const bound = 4 * MiB + SIZE;
        note(
          `client read ${held} B while paused; server writes resolved ${serverWritten} of ${COUNT}`,
        );
        assert(held <= bound, `client read ${held} bytes while paused (bound ${bound})`);
        assert(serverWritten < COUNT, 'the server writes stop resolving');
        const reader = readable.getReader();
        for (let i = 0; i < COUNT; i++) {
          const { value } = await reader.read();
          equal([value.length, value[0]], [SIZE, i], `message ${i}`);
        }
        await waitUntil(() => serverWritten === COUNT, 'every server write to resolve');
        assert(transport.bytesRead < COUNT * SIZE * 0.7, 'the messages came compressed');
        wss.close();
        await wss.closed;
      } finally {
        await fixture.server.close();
      }
    }, 60_000);

    test(`compression (${security.label}): send backpressure with compressed messages: writes stop resolving, bytes held stay bounded`, async () => {
      const SIZE = MiB;
      const COUNT = 64;
      let release;
      const released = new Promise((resolve) => (release = resolve));
      const fixture = await t.startServer(async (connection) => {
        const { readable } = await connection.opened;
        await released;
        let n = 0;
        for await (const m of readable) {
          equal([m.length, m[0]], [SIZE, n], `server got message ${n}`);
          n++;
        }
        connection.received = n;
      }, security.server);
      try {
        const wss = new WebSocketStream(url(fixture), security.client);
        const { writable } = await wss.opened;
        const transport = t.lastClientTransport();
        const peer = await fixture.next();
        const writer = writable.getWriter();
        let resolved = 0;
        const message = letters(SIZE);
        const writing = (async () => {
          for (let i = 0; i < COUNT; i++) {
            message[0] = i;
            await writer.ready;
            await writer.write(message);
            resolved++;
          }
        })();
        writing.catch(() => {});
        const stalled = await waitStable(() => resolved);
        const unsent = transport.bufferedAmount;
        const serverRead = peer.session.transport.bytesRead;
        // On Deno a wss: server reads with Deno.listenTls's pull-based API (src/deno/serve-tls.ts).
        if (t.IS_DENO && security.label === 'wss:')
          equal(peer.session.transport.constructor.name, 'DenoConnTransport', 'the Deno server');
        note(
          `writes resolved ${stalled} of ${COUNT}, client holds ${unsent} B unsent, server read ${serverRead} B`,
        );
        assert(stalled < COUNT, `writes stopped resolving (${stalled} of ${COUNT})`);
        assert(unsent <= 2 * SIZE, `client holds ${unsent} bytes unsent (bound ${2 * SIZE})`);
        assert(serverRead <= 4 * MiB + SIZE, `server read ${serverRead} bytes while not reading`);
        release();
        await writing;
        await writer.close();
        await waitUntil(() => peer.received !== undefined, 'the server to read everything');
        equal(peer.received, COUNT, 'every message arrived');
      } finally {
        await fixture.server.close();
      }
    }, 60_000);
  }
}
