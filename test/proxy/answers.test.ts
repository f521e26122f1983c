/**
 * Proxies that misbehave, which a real proxy server cannot be configured to
 * do: one that never answers CONNECT (the handshake timeout covers it), one
 * whose answer never ends (the 16 KiB limit), one that hangs up, and an abort
 * while the client waits for the answer.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketError, WebSocketStream } from '../../src/index.js';
import { ProxyError } from '../../src/node/proxy.js';
import { rejection, waitUntil } from '../client/helpers.js';

/** A TCP server that hands each connection (and the bytes it sent so far) to `behave`. */
async function fakeProxy(
  behave: (socket: Socket, received: () => string) => void,
): Promise<{ url: string; server: Server; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
    });
    behave(socket, () => text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, server, sockets };
}

void describe('misbehaving proxies', { timeout: 30_000 }, () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.close();
  });
  let silent: Awaited<ReturnType<typeof fakeProxy>>;
  before(async () => {
    silent = await fakeProxy(() => {});
    servers.push(silent.server);
  });

  it('a proxy that never answers: the handshake timeout names the CONNECT wait', async () => {
    const wss = new WebSocketStream('ws://example.com/', {
      proxy: silent.url,
      handshakeTimeout: 300,
    });
    const error = await rejection(wss.opened);
    assert.ok(error instanceof WebSocketError);
    assert.equal(
      error.message,
      `Opening handshake with ws://example.com/ timed out after 300 ms (waiting for proxy ${silent.url} to answer CONNECT)`,
    );
    await waitUntil(() => silent.sockets.size === 0, 5000, 'the client closed the tunnel socket');
  });

  it('an abort while waiting for the answer rejects with the reason and closes the socket', async () => {
    const controller = new AbortController();
    const wss = new WebSocketStream('ws://example.com/', {
      proxy: silent.url,
      signal: controller.signal,
    });
    await waitUntil(() => silent.sockets.size === 1, 5000, 'the proxy got the connection');
    const reason = new Error('changed my mind');
    controller.abort(reason);
    assert.equal(await rejection(wss.opened), reason);
    await waitUntil(() => silent.sockets.size === 0, 5000, 'the client closed the tunnel socket');
  });

  it('an endless answer head is refused at 16 KiB and the connection dropped', async () => {
    let sent = 0;
    const endless = await fakeProxy((socket) => {
      socket.write('HTTP/1.1 200 Connection established\r\n');
      const line = `X-Filler: ${'a'.repeat(1000)}\r\n`;
      const pump = (): void => {
        while (!socket.destroyed && sent < 256 << 20) {
          sent += line.length;
          if (!socket.write(line)) {
            socket.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
    servers.push(endless.server);
    const wss = new WebSocketStream('ws://example.com/', { proxy: endless.url });
    const error = await rejection(wss.opened);
    assert.ok(error instanceof WebSocketError);
    assert.match(
      error.message,
      /sent an invalid answer to CONNECT example\.com:80: HTTP head larger than 16384 bytes/,
    );
    assert.ok(error.cause instanceof ProxyError);
    await waitUntil(() => endless.sockets.size === 0, 5000, 'the client closed the tunnel socket');
    // The filler never ends: only the client's limit stopped it (well before 256 MiB).
    assert.ok(sent < 256 << 20, `the proxy wrote ${sent} bytes before the client hung up`);
  });

  it('a proxy that hangs up without answering, and one that answers with HTML to a CONNECT', async () => {
    const rude = await fakeProxy((socket, received) => {
      socket.once('data', () => {
        assert.match(
          received(),
          /^CONNECT example\.com:443 HTTP\/1\.1\r\nHost: example\.com:443\r\n\r\n$/,
        );
        socket.end();
      });
    });
    servers.push(rude.server);
    const error = await rejection(
      new WebSocketStream('wss://example.com/', { proxy: rude.url }).opened,
    );
    assert.match(
      String((error as Error).message),
      /^Proxy http:\/\/127\.0\.0\.1:\d+ closed the connection without answering CONNECT$/,
    );

    const html = await fakeProxy((socket) => socket.end('<html>blocked</html>\r\n\r\n'));
    servers.push(html.server);
    const error2 = await rejection(
      new WebSocketStream('wss://example.com/', { proxy: html.url }).opened,
    );
    assert.match(
      String((error2 as Error).message),
      /invalid answer to CONNECT example\.com:443: Malformed HTTP status line/,
    );
  });

  it('credentials in HTTP_PROXY that cannot be decoded fail the attempt, not the process', async () => {
    const saved = process.env.http_proxy;
    process.env.http_proxy = `${silent.url.replace('http://', 'http://alice:100%sure@')}`;
    try {
      const wss = new WebSocketStream('ws://example.com/', { proxy: 'env' });
      const error = await rejection(wss.opened);
      assert.ok(error instanceof WebSocketError);
      assert.match(error.message, /Invalid http_proxy proxy URL .*not percent-encoding/);
      assert.doesNotMatch(error.message, /100%sure/, 'the password is not repeated');
    } finally {
      if (saved === undefined) delete process.env.http_proxy;
      else process.env.http_proxy = saved;
    }
  });

  it('TLS options the runtime refuses fail a wss: attempt through a proxy with a WebSocketError', async () => {
    // A proxy that opens every tunnel at once and then says nothing more.
    const opening = await fakeProxy((socket) => {
      socket.once('data', () => socket.write('HTTP/1.1 200 Connection established\r\n\r\n'));
    });
    servers.push(opening.server);
    const fixture = (name: string): string =>
      readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
    // A key that does not belong to the certificate: tls.connect() throws at once.
    const tls = { cert: fixture('localhost-cert.pem'), key: fixture('localhost-leaf-key.pem') };
    for (const proxy of [opening.url, false] as const) {
      const wss = new WebSocketStream('wss://127.0.0.1:9/', {
        proxy,
        tls,
        handshakeTimeout: 30_000,
      });
      const started = Date.now();
      const error = await rejection(wss.opened);
      assert.ok(error instanceof WebSocketError, `${String(proxy)}: ${String(error)}`);
      assert.match(error.message, /key values mismatch/);
      assert.ok(Date.now() - started < 5_000, 'failed at once, not at the handshake timeout');
      await assert.rejects(wss.closed, WebSocketError);
    }
  });
});
