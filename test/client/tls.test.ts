/**
 * wss: against a ws server over https with a self-signed certificate
 * (test/fixtures, a test-only key): accepted when its certificate is given in
 * `tls.ca`, refused otherwise.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { WebSocketError, WebSocketStream } from '../../src/index.js';
import { assertSame, rejection, startWsServer, within, type WsFixture } from './helpers.js';

const fixtures = new URL('../fixtures/', import.meta.url);
const cert = readFileSync(new URL('localhost-cert.pem', fixtures), 'utf8');
const key = readFileSync(new URL('localhost-key.pem', fixtures), 'utf8');

void describe('wss: with a self-signed certificate', { timeout: 30_000 }, () => {
  let server: WsFixture;
  before(async () => {
    server = await startWsServer({}, createHttpsServer({ cert, key }), 'wss');
    server.wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  });
  after(async () => {
    await server.close();
  });

  async function echo(wss: WebSocketStream): Promise<void> {
    const { readable, writable } = await within(wss.opened, 5000, 'opened');
    const writer = writable.getWriter();
    await writer.write('over TLS ✓');
    await writer.write(new Uint8Array([1, 2, 3]));
    const reader = readable.getReader();
    assert.equal((await within(reader.read(), 5000, 'read')).value, 'over TLS ✓');
    assert.deepEqual((await within(reader.read(), 5000, 'read')).value, new Uint8Array([1, 2, 3]));
    wss.close({ closeCode: 1000, reason: 'bye' });
    assert.deepEqual(await within(wss.closed, 5000, 'closed'), { closeCode: 1000, reason: 'bye' });
  }

  void it('accepted through tls.ca (certificate checked against the IP address)', async () => {
    assert.equal(server.url.startsWith('wss://127.0.0.1:'), true);
    await echo(new WebSocketStream(server.url, { tls: { ca: cert } }));
  });

  void it('batchWrites over TLS: 5,000 messages written in bursts come back in order', async () => {
    const wss = new WebSocketStream(server.url, { tls: { ca: cert }, batchWrites: true });
    const { readable, writable } = await within(wss.opened, 5000, 'opened');
    const writer = writable.getWriter();
    const sent = Array.from({ length: 5000 }, (_, i) => `${i}:${'t'.repeat(i % 300)}`);
    const reader = readable.getReader();
    const got: string[] = [];
    const reading = (async () => {
      while (got.length < sent.length) got.push((await reader.read()).value as string);
    })();
    for (let i = 0; i < sent.length; i++) {
      if (i % 100 === 0) await writer.ready;
      void writer.write(sent[i]);
    }
    await within(reading, 10_000, 'all echoes');
    assert.deepEqual(got, sent);
    wss.close({ closeCode: 1000 });
    await within(wss.closed, 5000, 'closed');
  });

  void it('the server closes and never reads our 20 MiB write: at closeTimeout the write is cut short, and the close is unclean', async () => {
    // A server of its own: the suite's keeps the earlier tests' connections in next()'s queue.
    const own = await startWsServer({}, createHttpsServer({ cert, key }), 'wss');
    try {
      const wss = new WebSocketStream(own.url, { tls: { ca: cert }, closeTimeout: 300 });
      const [{ writable }, peer] = await Promise.all([
        within(wss.opened, 5000, 'opened'),
        own.next(),
      ]);
      (peer.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const writer = writable.getWriter();
      const write = writer.write(new Uint8Array(20 * 1024 * 1024)).then(
        () => 'fulfilled',
        (error: unknown) => error,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      peer.ws.close(4000, 'bye');
      // node:tls calls back the write that destroy() cut short without an
      // error: that must not count as written.
      const closedError = await rejection(wss.closed);
      assert.ok(closedError instanceof WebSocketError, String(closedError));
      assert.equal(closedError.closeCode, 4000);
      assert.match(closedError.message, /still being sent/);
      const writeResult = await write;
      assert.ok(
        writeResult instanceof DOMException && writeResult.name === 'InvalidStateError',
        `the write that never left rejects: ${String(writeResult)}`,
      );
    } finally {
      await own.close();
    }
  });

  void it('accepted through tls.ca with servername localhost, and https: URLs become wss:', async () => {
    const wss = new WebSocketStream(`https://127.0.0.1:${server.port}/`, {
      tls: { ca: [Buffer.from(cert)], servername: 'localhost' },
    });
    assert.equal(wss.url, `wss://127.0.0.1:${server.port}/`);
    await echo(wss);
  });

  void it('refused without it: WebSocketError naming the certificate problem', async () => {
    const wss = new WebSocketStream(server.url);
    const error = await rejection(wss.opened);
    assert.ok(error instanceof WebSocketError, String(error));
    assert.equal(error.closeCode, 1006);
    assert.match(error.message, /certificate/i);
    assertSame(await rejection(wss.closed), error, 'closed rejects with the same error');
  });

  void it('refused when the name does not match the certificate', async () => {
    const wss = new WebSocketStream(server.url, { tls: { ca: cert, servername: 'example.com' } });
    const error = await rejection(wss.opened);
    assert.ok(error instanceof WebSocketError, String(error));
    assert.match(error.message, /example\.com|altname|Hostname/i);
  });
});
