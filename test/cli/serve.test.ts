/**
 * `wsstream serve` run as a child process, driven by `ws` clients.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { before, describe, it } from 'node:test';
import WebSocket, { type RawData } from 'ws';
import { fileURLToPath } from 'node:url';
import { ensureBuilt, run, serveCli, settled } from './helpers.js';

const CERT = fileURLToPath(new URL('../fixtures/localhost-cert.pem', import.meta.url));
const KEY = fileURLToPath(new URL('../fixtures/localhost-key.pem', import.meta.url));

before(() => ensureBuilt());

/** A connected `ws` client that records what it receives and how it closed. */
async function client(url: string): Promise<{
  ws: WebSocket;
  messages: Array<{ data: Buffer; binary: boolean }>;
  closed: Promise<{ code: number; reason: string }>;
}> {
  // Uncompressed: these tests count bytes on the wire to check backpressure
  // (compression in the CLI is covered by deflate.test.ts).
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const messages: Array<{ data: Buffer; binary: boolean }> = [];
  ws.on('message', (data: RawData, binary: boolean) =>
    messages.push({ data: Buffer.from(data as Buffer), binary }),
  );
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  ws.on('error', () => {});
  await once(ws, 'open');
  return { ws, messages, closed };
}

describe('serve --exec', () => {
  it('cat: bytes go through unchanged both ways, with backpressure', async () => {
    const server = await serveCli(['--exec', 'cat']);
    try {
      const c = await client(server.url);
      const sent: Buffer[] = [];
      for (let i = 0; i < 64; i++) {
        const b = Buffer.alloc(16 * 1024, i);
        sent.push(b);
        c.ws.send(b);
      }
      c.ws.send('text goes in as UTF-8: é');
      const expected = Buffer.concat([...sent, Buffer.from('text goes in as UTF-8: é')]);
      await settled(() => c.messages.reduce((n, m) => n + m.data.length, 0));
      const got = Buffer.concat(c.messages.map((m) => m.data));
      assert.ok(
        c.messages.every((m) => m.binary),
        'stdout chunks are binary messages',
      );
      assert.deepEqual(got, expected);
      c.ws.close(1000);
      assert.equal((await c.closed).code, 1000);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  it('--line: each message is a line of stdin, each line of stdout a text message', async () => {
    const server = await serveCli([
      '--exec',
      // A filter that reads and writes line by line (tr would hold its output in a block buffer).
      "sed -u 's/.*/\\U&/'",
      '--line',
    ]);
    try {
      const c = await client(server.url);
      c.ws.send('hello');
      c.ws.send('two\nlines');
      await settled(() => c.messages.length);
      assert.deepEqual(
        c.messages.map((m) => [m.data.toString(), m.binary]),
        [
          ['HELLO', false],
          ['TWO', false],
          ['LINES', false],
        ],
      );
      c.ws.close(1000);
      await c.closed;
    } finally {
      await server.stop();
    }
  });

  it('a command that exits: its output first, then a Close saying how it ended', async () => {
    const server = await serveCli(['--exec', 'echo "$WSSTREAM_URL"; exit 3']);
    try {
      const c = await client(`${server.url}some/path`);
      assert.deepEqual(await c.closed, { code: 4003, reason: 'exit status 3' });
      assert.equal(
        Buffer.concat(c.messages.map((m) => m.data)).toString(),
        `${server.url}some/path\n`,
      );
    } finally {
      await server.stop();
    }
    const clean = await serveCli(['--exec', 'printf done']);
    try {
      const c = await client(clean.url);
      assert.deepEqual(await c.closed, { code: 1000, reason: 'exit status 0' });
      assert.equal(Buffer.concat(c.messages.map((m) => m.data)).toString(), 'done');
    } finally {
      await clean.stop();
    }
  });

  it('--line: an output line past --max-message-size stops the command, and the log says why', async () => {
    const server = await serveCli([
      '--exec',
      "echo short; head -c 5000 /dev/zero | tr '\\0' a; echo; sleep 30",
      '--line',
      '--max-message-size',
      '1000',
    ]);
    try {
      const c = await client(server.url);
      // SIGTERM: 4128 + 15.
      assert.deepEqual(await c.closed, { code: 4143, reason: 'killed by SIGTERM' });
      assert.deepEqual(
        c.messages.map((m) => m.data.toString()),
        ['short'],
      );
      assert.match(server.log(), /output: a line is longer than 1000 characters; stopping it/);
    } finally {
      await server.stop();
    }
  });

  it('a command that does not read its stdin holds the client back at TCP', async () => {
    const server = await serveCli(['--exec', 'sleep 30']);
    try {
      const c = await client(server.url);
      const chunk = Buffer.alloc(64 * 1024);
      const total = 512; // 32 MiB
      for (let i = 0; i < total; i++) c.ws.send(chunk);
      // ws queues what the socket does not take; bufferedAmount counts it.
      const stuck = await settled(() => c.ws.bufferedAmount);
      assert.ok(stuck > 0, 'the client could not send everything');
      assert.ok(stuck < total * chunk.length, 'some was sent');
      c.ws.terminate();
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});

describe('serve --broadcast', () => {
  it('relays each message to every other client, text as text and binary as binary', async () => {
    const server = await serveCli(['--broadcast']);
    try {
      const [a, b, c] = await Promise.all([
        client(server.url),
        client(server.url),
        client(server.url),
      ]);
      a.ws.send('from a');
      b.ws.send(Buffer.from([1, 2, 3]));
      await settled(() => a.messages.length + b.messages.length + c.messages.length);
      const show = (x: typeof a): Array<[string, boolean]> =>
        x.messages.map((m) => [m.binary ? m.data.toString('hex') : m.data.toString(), m.binary]);
      assert.deepEqual(show(a), [['010203', true]]);
      assert.deepEqual(show(b), [['from a', false]]);
      assert.deepEqual(show(c).sort(), [
        ['010203', true],
        ['from a', false],
      ]);
      for (const x of [a, b, c]) x.ws.close(1000);
      await Promise.all([a.closed, b.closed, c.closed]);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  it('a request target that is no URL (GET http://[x/) joins the topic "/", not a 1011', async () => {
    const server = await serveCli(['--broadcast']);
    try {
      const { port } = new URL(server.url);
      const raw = connect(Number(port), '127.0.0.1');
      raw.on('error', () => {});
      let received = Buffer.alloc(0);
      raw.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
      raw.write(
        'GET http://[x/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n' +
          'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
          'Sec-WebSocket-Version: 13\r\n\r\n',
      );
      await settled(() => received.length);
      assert.match(received.toString('latin1'), /^HTTP\/1.1 101 /);
      const head = received.indexOf('\r\n\r\n') + 4;
      // A client of "/" reaches it: a text frame "hi", and no Close.
      const other = await client(server.url);
      other.ws.send('hi');
      await settled(() => received.length);
      assert.deepEqual([...received.subarray(head)], [0x81, 2, ...Buffer.from('hi')]);
      other.ws.close(1000);
      await other.closed;
      raw.destroy();
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  for (const policy of ['close', 'drop'] as const) {
    it(`--slow ${policy}: a client that stops reading is ${policy === 'close' ? 'closed' : 'skipped'}, the others get everything`, async () => {
      const server = await serveCli(['--broadcast', '--max-queue', '256k', '--slow', policy]);
      try {
        const [sender, fast, slow] = await Promise.all([
          client(server.url),
          client(server.url),
          client(server.url),
        ]);
        // The slow client stops reading: its socket is paused, so the kernel buffers fill.
        (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
        const total = 1024; // 64 MiB in 64 KiB messages: far more than the kernel buffers hold
        const chunk = Buffer.alloc(64 * 1024, 7);
        // A sender that keeps pace with the fast client (the relay never slows senders down, so
        // one that outran every client would see them all dropped or closed).
        for (let i = 0; i < total; i += 4) {
          for (let j = 0; j < 4; j++) sender.ws.send(chunk);
          while (fast.messages.length < i + 4) await new Promise((r) => setTimeout(r, 1));
        }
        assert.equal(fast.messages.length, total, 'the fast client got every message');
        if (policy === 'close') {
          assert.match(server.log(), /closing 127\.0\.0\.1:\d+: too slow/);
        } else {
          slow.ws.terminate();
          await settled(() => server.log().length);
          assert.match(server.log(), /dropped \d+ messages for 127\.0\.0\.1:\d+/);
        }
        slow.ws.terminate();
        sender.ws.close(1000);
        fast.ws.close(1000);
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });
  }
});

describe('TLS: serve --cert --key, connect --ca / --insecure', () => {
  it('wss: trusted with --ca, refused without it (exit 1), accepted with -k', async () => {
    const server = await serveCli(['--echo', '--cert', CERT, '--key', KEY]);
    try {
      assert.match(server.url, /^wss:\/\/127\.0\.0\.1:\d+\/$/);
      const url = server.url.replace('127.0.0.1', 'localhost');
      const trusted = await run(['connect', '--line', '--once', '--ca', CERT, url], 'secret\n');
      assert.equal(trusted.code, 0, trusted.stderr);
      assert.equal(trusted.stdout.toString(), 'secret\n');
      const untrusted = await run(['connect', '--line', '--once', url], 'secret\n');
      assert.equal(untrusted.code, 1);
      assert.match(untrusted.stderr, /error: Connection \(TLS\) .*self-signed certificate/);
      const insecure = await run(['connect', '--line', '--once', '-k', url], 'secret\n');
      assert.equal(insecure.code, 0, insecure.stderr);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});

describe('serve --echo, batched (default) and --no-batch-writes', () => {
  for (const extra of [[], ['--no-batch-writes']]) {
    it(`a ws client gets 5,000 messages back in order, text as text (${extra.join(' ') || 'default'})`, async () => {
      const server = await serveCli(['--echo', ...extra]);
      try {
        const c = await client(server.url);
        const sent = Array.from({ length: 5000 }, (_, i) => `${i}:${'y'.repeat(i % 100)}`);
        for (const m of sent) c.ws.send(m);
        for (let waited = 0; c.messages.length < sent.length && waited < 20_000; waited += 20) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.deepEqual(
          c.messages.map((m) => m.data.toString()),
          sent,
        );
        assert.ok(c.messages.every((m) => !m.binary));
        c.ws.close(1000);
        await c.closed;
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });
  }
});
