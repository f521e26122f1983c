/**
 * Reads straight into message buffers (ReadRelay with a session's
 * nextRead/inPlace): what arrives is exactly what the peer sent, whatever
 * the mix of sizes, control frames and text, and large payloads do go in
 * place.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketStream } from '../../src/index.js';
import { ReadRelay } from '../../src/node/socket-transport.js';
import { startWsServer, waitUntil, within, type WsFixture } from './helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('reading in place against ws', () => {
  let fixture: WsFixture;
  before(async () => {
    fixture = await startWsServer({ perMessageDeflate: false });
  });
  after(() => fixture.close());

  it('delivers a mix of large and small, binary and text messages, with pings between, intact', async () => {
    const sizes = [
      300 * KiB,
      300 * KiB,
      1,
      2 * MiB,
      40 * KiB,
      256 * KiB,
      256 * KiB + 1,
      0,
      5 * MiB,
      64 * KiB,
      17,
    ];
    const sent: string[] = [];
    const wss = new WebSocketStream(fixture.url);
    const peer = await fixture.next();
    const { readable } = await wss.opened;
    const text = 'wsstream ✓ '.repeat(60_000);
    for (const [i, size] of sizes.entries()) {
      if (i % 3 === 1) peer.ws.ping(Buffer.from('between'));
      if (i === 5) {
        peer.ws.send(text);
        sent.push(`text:${text.length}`);
      }
      const message = randomBytes(size);
      sent.push(createHash('sha256').update(message).digest('hex'));
      peer.ws.send(message, { binary: true });
    }
    const got: string[] = [];
    const reader = readable.getReader();
    while (got.length < sent.length) {
      const { value, done } = await within(reader.read(), 10_000, 'a message');
      assert.equal(done, false);
      if (typeof value === 'string') {
        assert.equal(value, text);
        got.push(`text:${value.length}`);
      } else {
        got.push(createHash('sha256').update(value).digest('hex'));
      }
    }
    assert.deepEqual(got, sent);
    wss.close();
    await wss.closed;
  });
});

describe('ReadRelay', () => {
  let server: Server;
  let port = 0;
  const peers: Socket[] = [];
  before(async () => {
    server = createServer((s) => peers.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    for (const s of peers) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('reads into the target a reader asks for, and at most the size it asks for', async () => {
    const relay = new ReadRelay();
    const socket = connect({ host: '127.0.0.1', port, onread: relay.onread });
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const peer = peers.at(-1)!;
    const payload = randomBytes(200 * KiB);
    const target = new Uint8Array(150 * KiB);
    let inTarget = 0;
    const chunks: Buffer[] = [];
    const copied = (): number => chunks.reduce((n, c) => n + c.length, 0);
    let started = false;
    relay.setReader({
      onData: (chunk) => {
        chunks.push(Buffer.from(chunk));
      },
      // Asked after every read, for the next one: once the 1-byte greeting is
      // in, at most 10 bytes, then the target until it is full, then anything.
      nextRead: () => {
        if (!started) return Infinity;
        if (copied() < 11) return 11 - copied();
        if (inTarget < target.length) return target.subarray(inTarget);
        return Infinity;
      },
      inPlace: (n) => {
        inTarget += n;
      },
    });
    peer.write(Uint8Array.of(0x21));
    await waitUntil(() => copied() === 1, 5000, 'the greeting');
    started = true;
    // The buffer of the next read was chosen before `started`: one more byte to use it up.
    peer.write(Uint8Array.of(0x22));
    await waitUntil(() => copied() === 2, 5000, 'the second byte');
    const done = new Promise<void>((resolve) => socket.once('end', resolve));
    peer.end(payload);
    await within(done, 5000, 'the end of the data');
    socket.destroy();
    const sizes = chunks.map((c) => c.length);
    const all = Buffer.concat(chunks);
    // Greeting, second byte, then reads of at most what was asked until 11 bytes were copied.
    assert.ok(all.length >= 11);
    let seen = 0;
    for (const size of sizes) {
      if (seen >= 2 && seen < 11)
        assert.ok(size <= 11 - seen, `a read of ${size} bytes after ${seen}`);
      seen += size;
    }
    assert.equal(inTarget, target.length);
    const head = all.subarray(2, 11);
    const tail = all.subarray(11);
    assert.deepEqual(Buffer.concat([head, Buffer.from(target), tail]), payload);
  });
});
