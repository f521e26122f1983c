/**
 * The runtime suite: the built package (dist/) on whatever runtime runs this
 * file, client and server both wsstream, talking over loopback; the `wss:`
 * server also against the `ws` package and raw TLS clients
 * (test/runtimes/tls-server.js).
 *
 *   node test/runtimes/suite.js
 *   deno run -A test/runtimes/suite.js
 *   bun test/runtimes/suite.js
 *
 * Plain JavaScript with no test runner, so that the same file runs unchanged
 * on Node, Deno and Bun: it prints one line per case and then
 * "<runtime>: N passed, N failed", and exits with 1 when a case failed.
 * `npm run build` first. An argument filters cases by substring.
 *
 * Backpressure is checked by counting bytes on the running runtime: what
 * wsstream's transports read from and still hold for the operating system,
 * against bounds that do not depend on kernel buffer sizes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { WebSocketError, WebSocketStream } from '../../dist/index.js';
import { serve } from '../../dist/server.js';
import { getConnector, setConnector } from '../../dist/streams/connector.js';
import { registerDeflateCases } from './deflate.js';
import { registerTlsServerCases } from './tls-server.js';

/**
 * `size` random bytes: permessage-deflate is negotiated by default, and zeros
 * would compress to almost nothing and never fill a buffer.
 */
function incompressible(size) {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
  return bytes;
}

const RUNTIME =
  typeof globalThis.Deno !== 'undefined'
    ? `deno ${globalThis.Deno.version.deno}`
    : typeof globalThis.Bun !== 'undefined'
      ? `bun ${globalThis.Bun.version}`
      : `node ${process.versions.node}`;

const MiB = 1024 * 1024;
const CERT = readFileSync(new URL('../fixtures/localhost-cert.pem', import.meta.url), 'utf8');
const KEY = readFileSync(new URL('../fixtures/localhost-key.pem', import.meta.url), 'utf8');
/** A certificate for localhost signed by a test CA (rustls, as Deno's TLS, wants that). */
const CA = readFileSync(new URL('../fixtures/test-ca-cert.pem', import.meta.url), 'utf8');
const LEAF_CERT = readFileSync(
  new URL('../fixtures/localhost-leaf-cert.pem', import.meta.url),
  'utf8',
);
const LEAF_KEY = readFileSync(
  new URL('../fixtures/localhost-leaf-key.pem', import.meta.url),
  'utf8',
);

// ---- the client's transports, seen by wrapping the installed connector ------------------
/** @type {import('../../dist/streams/transport.js').Transport[]} */
const clientTransports = [];
const nodeConnector = getConnector();
setConnector(async (request) => {
  const result = await nodeConnector(request);
  clientTransports.push(result.transport);
  return result;
});
const lastClientTransport = () => clientTransports[clientTransports.length - 1];

// ---- a tiny runner ---------------------------------------------------------------------
const cases = [];
const test = (name, fn, timeout = 30_000, knownGap = undefined) =>
  cases.push({ name, fn, timeout, knownGap });
const IS_DENO = typeof globalThis.Deno !== 'undefined';

function assert(condition, message) {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
function equal(actual, expected, message) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message}: expected ${e}, got ${a}`);
}
/** Measurements printed after the case's name. */
let notes = [];
const note = (text) => notes.push(text);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `read()` gave the same value for `quiet` ms in a row (polls every 20 ms). */
async function waitStable(read, quiet = 400, limit = 20_000) {
  const start = Date.now();
  let last = read();
  let since = Date.now();
  while (Date.now() - start < limit) {
    await sleep(20);
    const now = read();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quiet) return now;
  }
  throw new Error(`value kept changing for ${limit} ms (last ${last})`);
}

async function waitUntil(check, what, limit = 20_000) {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > limit) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** The settled outcome of a promise: {value} or {error}. */
const outcome = (promise) =>
  promise.then(
    (value) => ({ value }),
    (error) => ({ error }),
  );

// ---- servers ---------------------------------------------------------------------------
/**
 * A server whose connections are handed to `onConnection` (or echoed), with
 * the server-side connection objects collected in `seen`.
 */
async function startServer(onConnection, options = {}) {
  const seen = [];
  const waiters = [];
  const server = await serve({ host: '127.0.0.1', port: 0, ...options }, async (connection) => {
    seen.push(connection);
    waiters.shift()?.(connection);
    if (onConnection) await onConnection(connection);
    else {
      const { readable, writable } = await connection.opened;
      await readable.pipeTo(writable).catch(() => {});
    }
  });
  return {
    server,
    url: server.url.replace('0.0.0.0', '127.0.0.1'),
    seen,
    next: () =>
      seen.length > waiters.length
        ? Promise.resolve(seen[seen.length - 1])
        : new Promise((resolve) => waiters.push(resolve)),
  };
}

// ---- messages --------------------------------------------------------------------------
test('messages both ways: text, binary, empty, 1 MiB, in order', async () => {
  const { server, url } = await startServer();
  try {
    const wss = new WebSocketStream(url, { maxMessageSize: 4 * MiB });
    const { readable, writable } = await wss.opened;
    const writer = writable.getWriter();
    const reader = readable.getReader();
    const big = new Uint8Array(MiB).map((_, i) => i * 7);
    const sent = ['hello ✓', new Uint8Array([1, 2, 3, 255]), '', new Uint8Array(0), big, 'last'];
    for (const m of sent) void writer.write(m);
    for (const m of sent) {
      const { value } = await reader.read();
      if (typeof m === 'string') equal(value, m, 'text echo');
      else {
        assert(value instanceof Uint8Array, 'binary arrives as Uint8Array');
        equal(value.length, m.length, 'binary length');
        assert(
          value.every((b, i) => b === m[i]),
          'binary bytes equal',
        );
      }
    }
    wss.close({ closeCode: 1000 });
    equal(await wss.closed, { closeCode: 1000, reason: '' }, 'closed');
  } finally {
    await server.close();
  }
});

test('headers: a value beyond ASCII arrives as sent (one byte per character, Latin-1), over ws and wss', async () => {
  // wss takes Deno's own TLS connector, and on Deno the server's own head parser.
  for (const secure of [false, true]) {
    const { server, url, next } = await startServer(
      undefined,
      secure ? { tls: { cert: LEAF_CERT, key: LEAF_KEY } } : {},
    );
    try {
      const wss = new WebSocketStream(secure ? url.replace('127.0.0.1', 'localhost') : url, {
        headers: { 'X-Name': 'caf\u00e9 \u00ff' },
        ...(secure ? { tls: { ca: CA } } : {}),
      });
      const [, connection] = await Promise.all([wss.opened, next()]);
      equal(connection.request.headers['x-name'], 'caf\u00e9 \u00ff', `the header value (${url})`);
      wss.close();
      await wss.closed;
    } finally {
      await server.close();
    }
  }
});

test('the server speaks first: 1,000 messages in order', async () => {
  const { server, url } = await startServer(async (connection) => {
    const { writable } = await connection.opened;
    const writer = writable.getWriter();
    for (let i = 0; i < 1000; i++) await writer.write(`m${i}`);
    await writer.close();
  });
  try {
    const wss = new WebSocketStream(url);
    const { readable } = await wss.opened;
    const got = [];
    for await (const m of readable) got.push(m);
    equal(got.length, 1000, 'count');
    equal(got[999], 'm999', 'last');
    assert(
      got.every((m, i) => m === `m${i}`),
      'in order',
    );
    equal(await wss.closed, { closeCode: 1005, reason: '' }, 'closed');
  } finally {
    await server.close();
  }
});

// ---- close paths -----------------------------------------------------------------------
/** Opens a client to an echo server, runs `act`, returns both sides' outcomes. */
async function closePath(act, serverAct) {
  const fixture = await startServer(async (connection) => {
    const { readable, writable } = await connection.opened;
    if (serverAct) await serverAct(connection, readable, writable);
    else await readable.pipeTo(writable).catch(() => {});
  });
  try {
    const wss = new WebSocketStream(fixture.url);
    const info = await wss.opened;
    const peer = await fixture.next();
    await act(wss, info, peer);
    const [client, server] = await Promise.all([outcome(wss.closed), outcome(peer.closed)]);
    return { client, server, info };
  } finally {
    await fixture.server.close();
  }
}

/**
 * The initiator's `closed` reports the peer's answer: the echoed code, and
 * (as the core answers today) no reason; the receiving side sees both.
 */
const echoed = (o) => ({ closeCode: o.value?.closeCode, error: o.error?.name });

const closeInfo = (o) =>
  o.error !== undefined
    ? { error: o.error?.constructor?.name, closeCode: o.error?.closeCode }
    : o.value;

test('close: client close({closeCode, reason}) reaches the server; both see it', async () => {
  const { client, server } = await closePath(async (wss) => {
    wss.close({ closeCode: 4000, reason: 'bye ✓' });
  });
  equal(echoed(client), { closeCode: 4000 }, 'client');
  equal(closeInfo(server), { closeCode: 4000, reason: 'bye ✓' }, 'server');
});

test('close: the server closes with 4001', async () => {
  const { client, server } = await closePath(
    async () => {},
    async (connection) => connection.close({ closeCode: 4001, reason: 'server' }),
  );
  equal(closeInfo(client), { closeCode: 4001, reason: 'server' }, 'client');
  equal(echoed(server), { closeCode: 4001 }, 'server');
});

test('close: close() with no code: a Close with no body, both see 1005', async () => {
  const { client, server } = await closePath(async (wss) => wss.close());
  equal(closeInfo(client), { closeCode: 1005, reason: '' }, 'client');
  equal(closeInfo(server), { closeCode: 1005, reason: '' }, 'server');
});

test('close: writable.close() settles once the handshake finished', async () => {
  let writableClosed;
  const { client, server } = await closePath(async (_wss, { writable }) => {
    writableClosed = writable.close();
  });
  equal(closeInfo(client), { closeCode: 1005, reason: '' }, 'client');
  equal(closeInfo(server), { closeCode: 1005, reason: '' }, 'server');
  await writableClosed;
});

test('close: writable.abort(WebSocketError) sends its code and reason', async () => {
  const { client, server } = await closePath(async (_wss, { writable }) => {
    await writable.abort(new WebSocketError('stop', { closeCode: 4002, reason: 'aborted' }));
  });
  equal(echoed(client), { closeCode: 4002 }, 'client');
  equal(closeInfo(server), { closeCode: 4002, reason: 'aborted' }, 'server');
});

test('close: readable.cancel() closes with no code', async () => {
  const { client, server } = await closePath(async (_wss, { readable }) => {
    await readable.cancel('done');
  });
  equal(closeInfo(client), { closeCode: 1005, reason: '' }, 'client');
  equal(closeInfo(server), { closeCode: 1005, reason: '' }, 'server');
});

test('close: the server drops TCP: the client gets a WebSocketError 1006, writes reject', async () => {
  let write;
  const { client } = await closePath(
    async (_wss, { writable }) => {
      await sleep(50);
      write = outcome(writable.getWriter().write('after the drop'));
    },
    async (connection) => {
      await sleep(20);
      connection.terminate();
    },
  );
  equal(closeInfo(client), { error: 'WebSocketError', closeCode: 1006 }, 'client');
  assert(client.error instanceof WebSocketError, 'instanceof WebSocketError');
  const w = await write;
  assert(w.error !== undefined, 'the pending write rejects');
});

test('close: the client sends 100 messages and closes at once: the echoing server closes cleanly, every time', async () => {
  // The client's Close may arrive while the server's last echoes still wait
  // for the runtime's write callback (late on Deno): they are ahead of the
  // server's Close in the byte stream, so the close is clean.
  const payload = incompressible(5000);
  const { server, url, seen } = await startServer();
  try {
    for (let run = 0; run < 10; run++) {
      const wss = new WebSocketStream(url);
      const { writable } = await wss.opened;
      const writer = writable.getWriter();
      for (let i = 0; i < 100; i++) await writer.write(payload);
      wss.close({ closeCode: 1000 });
      const client = await outcome(wss.closed);
      equal(closeInfo(client), { closeCode: 1000, reason: '' }, `run ${run}: client`);
      const peer = await outcome(seen[run].closed);
      equal(closeInfo(peer), { closeCode: 1000, reason: '' }, `run ${run}: server`);
    }
  } finally {
    await server.close();
  }
});

test('close: writes after close() reject with InvalidStateError', async () => {
  const { client } = await closePath(async (wss, { writable }) => {
    const writer = writable.getWriter();
    wss.close({ closeCode: 1000 });
    const w = await outcome(writer.write('late'));
    equal(w.error?.name, 'InvalidStateError', 'late write');
  });
  equal(closeInfo(client), { closeCode: 1000, reason: '' }, 'client');
});

test('keepalive: pings answered by the server keep a quiet connection open', async () => {
  const fixture = await startServer();
  try {
    const wss = new WebSocketStream(fixture.url, { pingInterval: 100, pingTimeout: 80 });
    const { readable, writable } = await wss.opened;
    const before = lastClientTransport().bytesRead;
    await sleep(1000);
    const after = lastClientTransport().bytesRead;
    note(`pongs read: ${after - before} B in 1 s`);
    assert(after > before, 'the pongs were counted as bytes read');
    const writer = writable.getWriter();
    await writer.write('still here');
    equal((await readable.getReader().read()).value, 'still here', 'echo after 1 s of pings');
    wss.close({ closeCode: 1000 });
    equal((await wss.closed).closeCode, 1000, 'a clean close');
  } finally {
    await fixture.server.close();
  }
});

// ---- handshake errors --------------------------------------------------------------------
test('errors: bad URLs throw SyntaxError, a bad close code InvalidAccessError', async () => {
  for (const url of ['not a url', 'ftp://127.0.0.1/', 'ws://127.0.0.1/#frag']) {
    let error;
    try {
      new WebSocketStream(url);
    } catch (e) {
      error = e;
    }
    equal(error?.name, 'SyntaxError', url);
  }
  const fixture = await startServer();
  try {
    const wss = new WebSocketStream(fixture.url);
    await wss.opened;
    let error;
    try {
      wss.close({ closeCode: 1001 });
    } catch (e) {
      error = e;
    }
    equal(error?.name, 'InvalidAccessError', 'close(1001)');
    wss.close();
    await wss.closed;
  } finally {
    await fixture.server.close();
  }
});

test('errors: a plain HTTP server and a closed port reject opened and closed with WebSocketError', async () => {
  const http = createServer((_req, res) => res.writeHead(404).end('no'));
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = http.address().port;
  try {
    const wss = new WebSocketStream(`ws://127.0.0.1:${port}/`);
    const [o, c] = await Promise.all([outcome(wss.opened), outcome(wss.closed)]);
    assert(o.error instanceof WebSocketError, `opened rejects with WebSocketError (${o.error})`);
    assert(c.error instanceof WebSocketError, 'closed rejects with WebSocketError');
  } finally {
    http.closeAllConnections?.();
    await new Promise((resolve) => http.close(resolve));
  }
  const refused = new WebSocketStream(`ws://127.0.0.1:${port}/`);
  const o = await outcome(refused.opened);
  assert(o.error instanceof WebSocketError, `a closed port: WebSocketError (${o.error})`);
});

test('errors: an abort during the handshake rejects with the signal reason', async () => {
  // A TCP server that accepts and never answers the handshake.
  const { createServer: createTcpServer } = await import('node:net');
  const sockets = [];
  const tcp = createTcpServer((s) => sockets.push(s));
  await new Promise((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  try {
    const controller = new AbortController();
    const wss = new WebSocketStream(`ws://127.0.0.1:${tcp.address().port}/`, {
      signal: controller.signal,
    });
    await sleep(50);
    const reason = new Error('changed my mind');
    controller.abort(reason);
    const [o, c] = await Promise.all([outcome(wss.opened), outcome(wss.closed)]);
    assert(o.error === reason && c.error === reason, 'both reject with the reason');
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => tcp.close(resolve));
  }
});

// ---- TLS ---------------------------------------------------------------------------------
for (const [label, cert, key, ca] of [
  ['a CA-signed certificate', LEAF_CERT, LEAF_KEY, CA],
  ['a self-signed certificate as its own CA', CERT, KEY, CERT],
]) {
  test(`TLS: wss: with ${label}, echo and a clean close`, async () => {
    const fixture = await startServer(undefined, { tls: { cert, key } });
    try {
      const url = fixture.url.replace('127.0.0.1', 'localhost');
      assert(url.startsWith('wss://'), `a wss URL (${url})`);
      const wss = new WebSocketStream(url, { tls: { ca } });
      const { readable, writable } = await wss.opened;
      const writer = writable.getWriter();
      const reader = readable.getReader();
      const big = new Uint8Array(256 * 1024).fill(9);
      await writer.write('over TLS');
      await writer.write(big);
      equal((await reader.read()).value, 'over TLS', 'text');
      equal((await reader.read()).value.length, big.length, 'binary');
      wss.close({ closeCode: 4100, reason: 'tls bye' });
      equal((await wss.closed).closeCode, 4100, 'closed');
      // Without the CA the handshake fails with a WebSocketError.
      const untrusted = new WebSocketStream(url);
      const o = await outcome(untrusted.opened);
      assert(o.error instanceof WebSocketError, `untrusted: WebSocketError (${o.error})`);
    } finally {
      await fixture.server.close();
    }
  });
}

test('TLS: the server drops TCP and the client closes by itself: both end as expected', async () => {
  const fixture = await startServer(
    async (connection) => {
      const { readable } = await connection.opened;
      const reader = readable.getReader();
      const { value } = await reader.read();
      if (value === 'drop me') connection.terminate();
      else await reader.read().catch(() => {});
    },
    { tls: { cert: LEAF_CERT, key: LEAF_KEY } },
  );
  try {
    const url = fixture.url.replace('127.0.0.1', 'localhost');
    const dropped = new WebSocketStream(url, { tls: { ca: CA } });
    const writer = (await dropped.opened).writable.getWriter();
    await writer.write('drop me');
    const outcomeDropped = await outcome(dropped.closed);
    equal(closeInfo(outcomeDropped), { error: 'WebSocketError', closeCode: 1006 }, 'dropped');
    const clean = new WebSocketStream(url, { tls: { ca: CA } });
    const w2 = (await clean.opened).writable.getWriter();
    await w2.write('stay');
    clean.close({ closeCode: 4200 });
    equal((await clean.closed).closeCode, 4200, 'clean');
  } finally {
    await fixture.server.close();
  }
});

// ---- many connections --------------------------------------------------------------------
test('server: 200 concurrent connections, 20 messages each, all echoed and closed', async () => {
  const { server, url } = await startServer();
  try {
    const clients = Array.from({ length: 200 }, async (_, c) => {
      const wss = new WebSocketStream(url);
      const { readable, writable } = await wss.opened;
      const writer = writable.getWriter();
      const reader = readable.getReader();
      for (let i = 0; i < 20; i++) void writer.write(`${c}:${i}`);
      for (let i = 0; i < 20; i++) equal((await reader.read()).value, `${c}:${i}`, 'echo');
      wss.close({ closeCode: 4000 + c });
      return wss.closed;
    });
    const closed = await Promise.all(clients);
    equal(closed.length, 200, 'all closed');
    assert(
      closed.every((info, c) => info.closeCode === 4000 + c),
      'each closed cleanly',
    );
    await waitUntil(() => server.connections.size === 0, 'the server to forget them');
  } finally {
    await server.close();
  }
}, 60_000);

// ---- backpressure --------------------------------------------------------------------------
/** Server options and client options for plain TCP and for TLS. */
const SECURITY = [
  { label: 'ws:', server: {}, client: {}, url: (u) => u },
  {
    label: 'wss:',
    server: { tls: { cert: LEAF_CERT, key: LEAF_KEY } },
    client: { tls: { ca: CA } },
    url: (u) => u.replace('127.0.0.1', 'localhost'),
  },
];

for (const security of SECURITY) {
  test(`receive backpressure (${security.label}): a paused client holds a bounded number of bytes; the rest waits in TCP`, async () => {
    const SIZE = MiB;
    const COUNT = 48;
    let serverWritten = 0;
    const fixture = await startServer(async (connection) => {
      const { writable } = await connection.opened;
      const writer = writable.getWriter();
      const message = incompressible(SIZE);
      for (let i = 0; i < COUNT; i++) {
        message[0] = i;
        await writer.write(message);
        serverWritten += SIZE;
      }
    }, security.server);
    try {
      const wss = new WebSocketStream(security.url(fixture.url), {
        maxMessageSize: 2 * SIZE,
        ...security.client,
      });
      const { readable } = await wss.opened;
      const transport = lastClientTransport();
      const peer = await fixture.next();
      const held = await waitStable(() => transport.bytesRead);
      // What the client read while nobody read: its readable's queue (1 message), the message
      // being assembled, and one read's worth: well below the flood.
      const bound = 4 * MiB + SIZE;
      assert(held <= bound, `client read ${held} bytes while paused (bound ${bound})`);
      assert(serverWritten < COUNT * SIZE, 'the server writes stop resolving');
      note(
        `client read ${held} B while paused, server writes resolved ${serverWritten} B of ${COUNT * SIZE}`,
      );
      // The server's own user-space send queue stays bounded too.
      const serverQueue = peer.session.transport.bufferedAmount;
      note(`server holds ${serverQueue} B unsent`);
      assert(
        serverQueue <= 2 * SIZE,
        `server holds ${serverQueue} bytes unsent (bound ${2 * SIZE})`,
      );
      const reader = readable.getReader();
      for (let i = 0; i < COUNT; i++) {
        const { value } = await reader.read();
        equal([value.length, value[0]], [SIZE, i], `message ${i}`);
      }
      // The last write resolves in its socket write callback, maybe after the message arrived.
      await waitUntil(() => serverWritten === COUNT * SIZE, 'every server write to resolve');
      wss.close();
      await wss.closed;
    } finally {
      await fixture.server.close();
    }
  }, 60_000);

  test(`send backpressure (${security.label}): writes to a server that does not read stop resolving, bytes held stay bounded`, async () => {
    const SIZE = MiB;
    const COUNT = 48;
    let release;
    const released = new Promise((resolve) => (release = resolve));
    const fixture = await startServer(async (connection) => {
      const { readable } = await connection.opened;
      await released;
      let n = 0;
      for await (const m of readable) {
        equal([m.length, m[0]], [SIZE, n % 256], `server got message ${n}`);
        n++;
      }
      connection.received = n;
    }, security.server);
    try {
      const wss = new WebSocketStream(security.url(fixture.url), security.client);
      const { writable } = await wss.opened;
      const transport = lastClientTransport();
      const peer = await fixture.next();
      const writer = writable.getWriter();
      let resolved = 0;
      const message = incompressible(SIZE);
      const writing = (async () => {
        for (let i = 0; i < COUNT; i++) {
          message[0] = i;
          await writer.ready;
          await writer.write(message);
          resolved += SIZE;
        }
      })();
      // Awaited below; handled here too, in case the case fails before that.
      writing.catch(() => {});
      const stalled = await waitStable(() => resolved);
      assert(stalled < COUNT * SIZE, `writes stopped resolving (${stalled} of ${COUNT * SIZE})`);
      // What wsstream holds on the client: at most the frame being written.
      const unsent = transport.bufferedAmount;
      assert(unsent <= 2 * SIZE, `client holds ${unsent} bytes unsent (bound ${2 * SIZE})`);
      // What the server read without delivering: bounded as on the client side.
      const serverRead = peer.session.transport.bytesRead;
      // On Deno a wss: server reads with Deno.listenTls's pull-based API (src/deno/serve-tls.ts).
      if (IS_DENO && security.label === 'wss:')
        equal(peer.session.transport.constructor.name, 'DenoConnTransport', 'the Deno server');
      note(
        `writes resolved ${stalled} B of ${COUNT * SIZE}, client holds ${unsent} B unsent, server read ${serverRead} B`,
      );
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

  test(`abort (${security.label}): writable.abort() behind a write the server does not take settles at once; the Close follows the data`, async () => {
    const SIZE = MiB;
    let release;
    const released = new Promise((resolve) => (release = resolve));
    const fixture = await startServer(async (connection) => {
      const { readable } = await connection.opened;
      await released;
      let bytes = 0;
      for await (const m of readable) bytes += m.length;
      connection.receivedBytes = bytes;
    }, security.server);
    try {
      const wss = new WebSocketStream(security.url(fixture.url), security.client);
      const { writable } = await wss.opened;
      const peer = await fixture.next();
      const writer = writable.getWriter();
      const message = incompressible(SIZE);
      let resolved = 0;
      let stuck;
      for (let i = 0; i < 64 && stuck === undefined; i++) {
        const write = outcome(writer.write(message));
        const first = await Promise.race([write, sleep(500).then(() => 'pending')]);
        if (first === 'pending') stuck = write;
        else resolved++;
      }
      assert(stuck !== undefined, 'a write stayed pending');
      const started = Date.now();
      await Promise.race([
        writer.abort(new WebSocketError('stop', { closeCode: 4003, reason: 'gave up' })),
        sleep(2000).then(() => {
          throw new Error('abort() still pending after 2 s');
        }),
      ]);
      note(`abort() settled in ${Date.now() - started} ms after ${resolved} MiB written`);
      assert(
        (await stuck).error instanceof WebSocketError,
        'the stuck write rejects with the reason',
      );
      release();
      equal(closeInfo(await outcome(wss.closed)), { closeCode: 4003, reason: 'gave up' }, 'client');
      await waitUntil(() => peer.receivedBytes !== undefined, 'the server to read everything');
      equal(
        peer.receivedBytes,
        (resolved + 1) * SIZE,
        'the server got every message handed over, whole',
      );
    } finally {
      await fixture.server.close();
    }
  }, 60_000);

  test(`echo backpressure (${security.label}): pipeTo() to a client that never reads holds one message for it; the client's writes stop`, async () => {
    const SIZE = MiB;
    const COUNT = 48;
    // The default server: readable.pipeTo(writable), the direct path between wsstream streams.
    const fixture = await startServer(undefined, security.server);
    try {
      const wss = new WebSocketStream(security.url(fixture.url), security.client);
      const { readable, writable } = await wss.opened;
      const peer = await fixture.next();
      const writer = writable.getWriter();
      let resolved = 0;
      const message = incompressible(SIZE);
      const writing = (async () => {
        for (let i = 0; i < COUNT; i++) {
          message[0] = i;
          await writer.ready;
          await writer.write(message);
          resolved += SIZE;
        }
      })();
      writing.catch(() => {});
      const stalled = await waitStable(() => resolved);
      assert(stalled < COUNT * SIZE, `writes stopped resolving (${stalled} of ${COUNT * SIZE})`);
      // What the echo server holds for a client that does not read: the
      // message whose write waits for the kernel, and what one read parsed.
      const unsent = peer.session.transport.bufferedAmount;
      const waiting = peer.session.stats().messagesWaiting;
      note(
        `client writes resolved ${stalled} B of ${COUNT * SIZE}; the server holds ${unsent} B unsent and ${waiting} messages`,
      );
      // One frame: the message, compressed (incompressible data grows by
      // DEFLATE's stored-block headers), and the frame's header.
      const bound = SIZE + 4 * 1024;
      assert(unsent <= bound, `server holds ${unsent} bytes unsent (bound ${bound})`);
      assert(waiting <= 2, `server holds ${waiting} messages received and not echoed`);
      assert(peer.session.receiver.paused, "the server stopped reading the client's socket");
      const reader = readable.getReader();
      for (let i = 0; i < COUNT; i++) {
        const { value } = await reader.read();
        equal([value.length, value[0]], [SIZE, i], `echo ${i}`);
      }
      await writing;
      wss.close();
      await wss.closed;
    } finally {
      await fixture.server.close();
    }
  }, 60_000);
}

// ---- the process lifetime ---------------------------------------------------------------
/**
 * Runs a client in a child process of this runtime: it connects to `url`,
 * prints "open", then runs `lines` (with `wss` in scope).
 */
function runtimeChild(url, clientOptions, lines) {
  const dir = mkdtempSync(join(tmpdir(), 'wsstream-lifetime-'));
  const script = join(dir, 'client.mjs');
  writeFileSync(
    script,
    [
      `import { WebSocketStream } from ${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)};`,
      `const wss = new WebSocketStream(${JSON.stringify(url)}, ${JSON.stringify(clientOptions)});`,
      `await wss.opened;`,
      `console.log('open');`,
      ...lines,
    ].join('\n'),
  );
  const [command, ...args] = IS_DENO
    ? [globalThis.Deno.execPath(), 'run', '-A', script]
    : [process.execPath, script];
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  proc.stdout.on('data', (chunk) => (output += chunk));
  let code;
  const exited = new Promise((resolve) =>
    proc.on('exit', (c) => {
      code = c;
      rmSync(dir, { recursive: true, force: true });
      resolve();
    }),
  );
  return {
    output: () => output,
    code: () => code,
    exited,
    kill: async () => {
      if (code === undefined) proc.kill();
      await exited;
    },
  };
}

for (const security of SECURITY) {
  test(`lifetime (${security.label}): a client paused by backpressure keeps the runtime running; closed, it exits by itself`, async () => {
    // More messages than the client's readable asks for: its reading pauses.
    const fixture = await startServer(async (connection) => {
      const { writable } = await connection.opened;
      const writer = writable.getWriter();
      for (let i = 0; i < 8; i++) writer.write(`message ${i}`).catch(() => {});
    }, security.server);
    const url = security.url(fixture.url);
    try {
      const waiting = runtimeChild(url, security.client, ['await wss.closed;']);
      try {
        await waitUntil(
          () => waiting.output().includes('open') || waiting.code() !== undefined,
          'the child to open',
        );
        assert(waiting.output().includes('open'), `the child opened (exit ${waiting.code()})`);
        // Paused, awaiting `closed` with nothing else to do: still running a while later.
        await sleep(1_000);
        equal(waiting.code(), undefined, 'the exit code of a child with its connection open');
      } finally {
        await waiting.kill();
      }
      const closing = runtimeChild(url, security.client, [
        'await new Promise((resolve) => setTimeout(resolve, 300));',
        'wss.close();',
        'console.log(JSON.stringify(await wss.closed));',
      ]);
      try {
        await Promise.race([closing.exited, sleep(20_000)]);
        equal(closing.code(), 0, `the exit code once closed (output ${closing.output()})`);
        assert(closing.output().includes('"closeCode":1005'), 'the clean close');
      } finally {
        await closing.kill();
      }
    } finally {
      await fixture.server.close();
    }
  });
}

// ---- compression (test/runtimes/deflate.js) -------------------------------------------------
registerDeflateCases({
  test,
  assert,
  equal,
  note,
  outcome,
  waitStable,
  waitUntil,
  startServer,
  lastClientTransport,
  SECURITY,
  MiB,
  IS_DENO,
});

// ---- wss: servers against the ws package and raw TLS clients (test/runtimes/tls-server.js) --
registerTlsServerCases({
  test,
  assert,
  equal,
  note,
  waitStable,
  waitUntil,
  startServer,
  MiB,
  IS_DENO,
  CA,
  LEAF_CERT,
  LEAF_KEY,
});

// ---- run ---------------------------------------------------------------------------------
const filter = (globalThis.Deno?.args ?? process.argv.slice(2))[0];
let passed = 0;
let failed = 0;
let gaps = 0;
for (const { name, fn, timeout, knownGap } of cases) {
  if (filter !== undefined && !name.includes(filter)) continue;
  const started = Date.now();
  notes = [];
  let timer;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms`)), timeout);
      }),
    ]);
    passed++;
    console.log(
      `ok   ${name} (${Date.now() - started} ms)${notes.map((n) => `\n     ${n}`).join('')}`,
    );
  } catch (error) {
    if (knownGap !== undefined) {
      // A documented difference of this runtime: shown, not counted as a failure.
      gaps++;
      console.log(`GAP  ${name}: ${knownGap}\n     ${error?.message ?? error}`);
      continue;
    }
    failed++;
    console.log(`FAIL ${name} (${Date.now() - started} ms)\n     ${error?.stack ?? error}`);
  } finally {
    clearTimeout(timer);
  }
}
console.log(
  `${RUNTIME}: ${passed} passed, ${failed} failed${gaps > 0 ? `, ${gaps} known gap (docs/runtimes.md)` : ''}`,
);
// Exit explicitly: a failed case may leave sockets open.
process.exit(failed > 0 ? 1 : 0);
