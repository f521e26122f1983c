/**
 * The `proxy` option against a real proxy server, Debian's tinyproxy, with
 * the `ws` package as the WebSocket server behind it: ws: and wss: through a
 * CONNECT tunnel, Basic authentication, refusals (407, 403, 500), an
 * unreachable proxy, and the environment variables. Every success is checked
 * in the proxy's own log, so a connection that went straight to the server
 * cannot pass.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { WebSocketError, WebSocketStream, type WebSocketStreamOptions } from '../../src/index.js';
import type { WebSocket as WsSocket } from 'ws';
import { ProxyError } from '../../src/node/proxy.js';
import {
  lastTransport,
  rejection,
  startWsServer,
  waitStable,
  within,
  type WsFixture,
} from '../client/helpers.js';
import { freePort, startTinyproxy, type Tinyproxy } from './tinyproxy.js';

const fixtures = new URL('../fixtures/', import.meta.url);
const cert = readFileSync(new URL('localhost-cert.pem', fixtures), 'utf8');
const key = readFileSync(new URL('localhost-key.pem', fixtures), 'utf8');

/** Opens, echoes a text and a 1 MiB binary message, closes cleanly. */
async function echo(url: string, options: WebSocketStreamOptions): Promise<void> {
  const wss = new WebSocketStream(url, options);
  const { readable, writable } = await within(wss.opened, 5000, 'opened');
  const writer = writable.getWriter();
  const reader = readable.getReader();
  const big = new Uint8Array(1 << 20).map((_, i) => i % 251);
  await writer.write('through the tunnel ✓');
  await writer.write(big);
  assert.equal((await within(reader.read(), 5000, 'read')).value, 'through the tunnel ✓');
  assert.deepEqual((await within(reader.read(), 5000, 'read')).value, big);
  wss.close({ closeCode: 1000, reason: 'done' });
  assert.deepEqual(await within(wss.closed, 5000, 'closed'), { closeCode: 1000, reason: 'done' });
}

async function refusal(url: string, options: WebSocketStreamOptions): Promise<WebSocketError> {
  const wss = new WebSocketStream(url, options);
  const error = await rejection(wss.opened, 8000);
  assert.ok(error instanceof WebSocketError, String(error));
  assert.equal(error.closeCode, 1006);
  await rejection(wss.closed);
  return error;
}

function echoing(server: WsFixture): void {
  server.wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
}

void describe('through tinyproxy', { timeout: 60_000 }, () => {
  let plain: Tinyproxy;
  let server: WsFixture;
  let secure: WsFixture;
  before(async () => {
    plain = await startTinyproxy();
    server = await startWsServer();
    echoing(server);
    secure = await startWsServer({}, createHttpsServer({ cert, key }), 'wss');
    echoing(secure);
  });
  after(async () => {
    await plain.stop();
    await server.close();
    await secure.close();
  });

  it('ws: is tunnelled with CONNECT (the proxy logs it; the server sees one connection)', async () => {
    const before = server.tcpConnections;
    await echo(server.url, { proxy: plain.url });
    assert.deepEqual(plain.connects(), [`127.0.0.1:${server.port}`]);
    assert.equal(server.tcpConnections, before + 1);
  });

  it('wss: runs TLS to the origin inside the tunnel, checked against the origin name', async () => {
    const url = `wss://localhost:${secure.port}/`;
    // The proxy is named by IP, the origin by name: SNI and the check use "localhost".
    await echo(url, { proxy: plain.url, tls: { ca: cert } });
    assert.equal(plain.connects().at(-1), `localhost:${secure.port}`);
    const untrusted = await refusal(url, { proxy: plain.url });
    assert.match(
      untrusted.message,
      /Connection \(TLS\) to wss:\/\/localhost:\d+\/ through proxy http:\/\/127\.0\.0\.1:\d+ failed: self.signed certificate/,
    );
    const wrongName = await refusal(url, {
      proxy: plain.url,
      tls: { ca: cert, servername: 'example.com' },
    });
    assert.match(wrongName.message, /through proxy .*example\.com/);
  });

  it('receive backpressure reaches the socket through the wss: tunnel (bytes counted)', async (t) => {
    const MiB = 1 << 20;
    const COUNT = 64;
    const connected = new Promise<WsSocket>((resolve) => secure.wss.once('connection', resolve));
    const wss = new WebSocketStream(`wss://localhost:${secure.port}/`, {
      proxy: plain.url,
      tls: { ca: cert },
      maxMessageSize: 2 * MiB,
    });
    const [{ readable }, peer] = await Promise.all([within(wss.opened, 5000, 'opened'), connected]);
    const transport = lastTransport();
    let sent = 0;
    const pump = (): void => {
      while (sent < COUNT && peer.readyState === 1 && peer.bufferedAmount < 4 * MiB) {
        const message = Buffer.alloc(MiB, sent % 256);
        sent++;
        peer.send(message, { binary: true }, (error) => {
          if (error == null) pump();
        });
      }
    };
    pump();
    // The application does not read: the client stops reading its socket, the
    // proxy's buffers and then the server's fill, and the server stops.
    const [bytesRead, sentThen] = await waitStable(() => [transport.bytesRead, sent]);
    t.diagnostic(
      `client read ${bytesRead} bytes without demand; server sent ${sentThen} of ${COUNT} MiB`,
    );
    assert.ok(bytesRead! < 4 * MiB + MiB, `the client read ${bytesRead} bytes without demand`);
    assert.ok(sentThen! < COUNT, 'the server is blocked');
    const reader = readable.getReader();
    for (let i = 0; i < COUNT; i++) {
      const { value } = await within(reader.read(), 20000, `message ${i}`);
      assert.ok(value instanceof Uint8Array);
      assert.equal(value[0], i % 256);
    }
    wss.close({ closeCode: 1000 });
    await within(wss.closed, 5000, 'closed');
  });

  it('the origin refusing the proxy is the proxy answer (tinyproxy: 500)', async () => {
    const closed = await freePort();
    const error = await refusal(`ws://127.0.0.1:${closed}/`, { proxy: plain.url });
    assert.match(
      error.message,
      new RegExp(
        `^Proxy http://127\\.0\\.0\\.1:${plain.port} refused CONNECT 127\\.0\\.0\\.1:${closed}: 500 Unable to connect$`,
      ),
    );
    assert.ok(error.cause instanceof ProxyError);
    assert.equal(error.cause.status, 500);
  });

  it('an unreachable proxy fails the attempt (no fallback to a direct connection)', async () => {
    const closed = await freePort();
    const before = server.tcpConnections;
    const error = await refusal(server.url, { proxy: `http://127.0.0.1:${closed}` });
    assert.match(
      error.message,
      new RegExp(
        `^Connection to proxy http://127\\.0\\.0\\.1:${closed} failed: connect ECONNREFUSED`,
      ),
    );
    assert.equal(server.tcpConnections, before);
  });

  void describe('environment variables', () => {
    const saved = { ...process.env };
    afterEach(() => {
      for (const name of [
        'http_proxy',
        'HTTP_PROXY',
        'https_proxy',
        'HTTPS_PROXY',
        'no_proxy',
        'NO_PROXY',
        'NODE_USE_ENV_PROXY',
      ]) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    });
    const clear = (): void => {
      for (const name of [
        'http_proxy',
        'HTTP_PROXY',
        'https_proxy',
        'HTTPS_PROXY',
        'no_proxy',
        'NO_PROXY',
        'NODE_USE_ENV_PROXY',
      ]) {
        delete process.env[name];
      }
    };

    it("proxy: 'env' takes HTTP_PROXY for ws: and HTTPS_PROXY for wss:", async () => {
      clear();
      process.env.HTTP_PROXY = plain.url;
      process.env.HTTPS_PROXY = plain.url;
      const count = plain.connects().length;
      await echo(server.url, { proxy: 'env' });
      await echo(`wss://localhost:${secure.port}/`, { proxy: 'env', tls: { ca: cert } });
      assert.deepEqual(plain.connects().slice(count), [
        `127.0.0.1:${server.port}`,
        `localhost:${secure.port}`,
      ]);
    });

    it('the environment is ignored unless asked; NODE_USE_ENV_PROXY=1 asks', async () => {
      clear();
      process.env.http_proxy = plain.url;
      const count = plain.connects().length;
      await echo(server.url, {});
      assert.equal(plain.connects().length, count);
      process.env.NODE_USE_ENV_PROXY = '1';
      await echo(server.url, {});
      assert.equal(plain.connects().length, count + 1);
      await echo(server.url, { proxy: false });
      assert.equal(plain.connects().length, count + 1);
    });

    it('NO_PROXY sends matching hosts direct and the rest through the proxy', async () => {
      clear();
      process.env.http_proxy = plain.url;
      process.env.no_proxy = `localhost:${server.port},example.com`;
      const count = plain.connects().length;
      await echo(`ws://localhost:${server.port}/`, { proxy: 'env' });
      assert.equal(plain.connects().length, count);
      await echo(server.url, { proxy: 'env' });
      assert.deepEqual(plain.connects().slice(count), [`127.0.0.1:${server.port}`]);
      process.env.no_proxy = '*';
      await echo(server.url, { proxy: 'env' });
      assert.equal(plain.connects().length, count + 1);
    });

    it('a malformed proxy variable fails the attempt, naming the variable', async () => {
      clear();
      process.env.HTTP_PROXY = 'socks5://127.0.0.1:1080';
      const error = await refusal(server.url, { proxy: 'env' });
      assert.match(error.message, /HTTP_PROXY proxy URL/);
    });
  });
});

void describe('through an authenticating tinyproxy (BasicAuth)', { timeout: 60_000 }, () => {
  let proxy: Tinyproxy;
  let server: WsFixture;
  before(async () => {
    proxy = await startTinyproxy(['BasicAuth alice s3cr3t']);
    server = await startWsServer();
    echoing(server);
  });
  after(async () => {
    await proxy.stop();
    await server.close();
  });

  it('the credentials of the proxy URL are sent as Proxy-Authorization', async () => {
    await echo(server.url, { proxy: `http://alice:s3cr3t@127.0.0.1:${proxy.port}` });
    assert.deepEqual(proxy.connects(), [`127.0.0.1:${server.port}`]);
  });

  it('no credentials: 407; wrong ones: tinyproxy says 401; never the password in the message', async () => {
    const none = await refusal(server.url, { proxy: proxy.url });
    assert.match(
      none.message,
      /refused CONNECT 127\.0\.0\.1:\d+: 407 Proxy Authentication Required/,
    );
    assert.equal((none.cause as ProxyError).status, 407);
    const wrong = await refusal(server.url, {
      proxy: `http://alice:guess@127.0.0.1:${proxy.port}`,
    });
    assert.match(wrong.message, /refused CONNECT 127\.0\.0\.1:\d+: 401 Unauthorized/);
    assert.equal((wrong.cause as ProxyError).status, 401);
    assert.doesNotMatch(wrong.message, /guess/);
    assert.equal(server.tcpConnections, 1);
  });
});

void describe(
  'through a tinyproxy that refuses (ConnectPort 443 only)',
  { timeout: 60_000 },
  () => {
    let proxy: Tinyproxy;
    let server: WsFixture;
    before(async () => {
      proxy = await startTinyproxy(['ConnectPort 443']);
      server = await startWsServer();
    });
    after(async () => {
      await proxy.stop();
      await server.close();
    });

    it('403 reaches the application as a WebSocketError with the status', async () => {
      const error = await refusal(server.url, { proxy: proxy.url });
      assert.match(error.message, /refused CONNECT 127\.0\.0\.1:\d+: 403 Access violation$/);
      assert.ok(error.cause instanceof ProxyError);
      assert.equal(error.cause.status, 403);
      assert.equal(error.cause.proxy, proxy.url);
      assert.equal(server.tcpConnections, 0);
    });
  },
);

void describe(
  'through a tinyproxy that filters hosts (Filter, FilterDefaultDeny)',
  { timeout: 60_000 },
  () => {
    let proxy: Tinyproxy;
    let server: WsFixture;
    const dir = mkdtempSync(join(tmpdir(), 'wsstream-filter-'));
    before(async () => {
      const filter = join(dir, 'filter');
      writeFileSync(filter, '^127\\.0\\.0\\.1$\n');
      proxy = await startTinyproxy([
        `Filter "${filter}"`,
        'FilterType ere',
        'FilterDefaultDeny Yes',
      ]);
      server = await startWsServer();
      echoing(server);
    });
    after(async () => {
      await proxy.stop();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('an allowed host goes through, a filtered one is refused with 403 Filtered', async () => {
      await echo(server.url, { proxy: proxy.url });
      const error = await refusal(`ws://localhost:${server.port}/`, { proxy: proxy.url });
      assert.match(error.message, /refused CONNECT localhost:\d+: 403 Filtered$/);
      assert.equal((error.cause as ProxyError).status, 403);
      assert.equal(server.tcpConnections, 1);
    });
  },
);
