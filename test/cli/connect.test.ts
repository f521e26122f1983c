/**
 * `wsstream connect` against a `ws` server (a peer we did not write): what
 * it sends, what it prints, and the exit codes scripts rely on.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { ensureBuilt, run } from './helpers.js';

interface Seen {
  request: IncomingMessage;
  protocol: string;
  messages: Array<{ data: Buffer; binary: boolean }>;
}

let wss: WebSocketServer;
let url: string;
/** What the server does with each connection; the test sets it. */
let behave: (ws: WebSocket, seen: Seen) => void = () => {};
let lastSeen: Promise<Seen>;
let resolveSeen: (seen: Seen) => void;

function expectConnection(): void {
  lastSeen = new Promise((resolve) => {
    resolveSeen = resolve;
  });
}

before(async () => {
  ensureBuilt();
  wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    handleProtocols: (protocols) => (protocols.has('chat.v2') ? 'chat.v2' : false),
    verifyClient: (info: { req: IncomingMessage }) => !(info.req.url ?? '').startsWith('/deny'),
  });
  await once(wss, 'listening');
  url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/path?q=1`;
  wss.on('connection', (ws, request) => {
    const seen: Seen = { request, protocol: ws.protocol, messages: [] };
    ws.on('message', (data: RawData, binary: boolean) => {
      seen.messages.push({ data: Buffer.from(data as Buffer), binary });
    });
    ws.on('close', () => resolveSeen(seen));
    behave(ws, seen);
  });
});
after(async () => {
  for (const c of wss.clients) c.terminate();
  await new Promise((resolve) => wss.close(resolve));
});

describe('connect', () => {
  it('sends the headers, the origin and the subprotocols; the server sees them', async () => {
    expectConnection();
    behave = () => {};
    const r = await run(
      [
        'connect',
        '--line',
        '--exit-on-eof',
        '-H',
        'Authorization: Bearer t0k3n',
        '--header',
        'X-Trace: a:b',
        '-s',
        'chat.v1',
        '--subprotocol',
        'chat.v2',
        '--origin',
        'https://app.example',
        url,
      ],
      'hello\n',
    );
    assert.equal(r.code, 0, r.stderr);
    const seen = await lastSeen;
    assert.equal(seen.request.headers.authorization, 'Bearer t0k3n');
    assert.equal(seen.request.headers['x-trace'], 'a:b');
    assert.equal(seen.request.headers.origin, 'https://app.example');
    assert.equal(seen.request.headers['sec-websocket-protocol'], 'chat.v1, chat.v2');
    assert.equal(seen.request.url, '/path?q=1');
    assert.equal(seen.protocol, 'chat.v2');
    assert.match(r.stderr, /connected to .* \(subprotocol chat\.v2\)/);
  });

  it('credentials in the URL are sent (Basic) but never shown on stderr', async () => {
    expectConnection();
    behave = () => {};
    const withCredentials = url.replace('ws://', 'ws://alice:s3cret@');
    const r = await run(['connect', '--line', '--exit-on-eof', withCredentials], 'hi\n');
    assert.equal(r.code, 0, r.stderr);
    const seen = await lastSeen;
    assert.equal(
      seen.request.headers.authorization,
      `Basic ${Buffer.from('alice:s3cret').toString('base64')}`,
    );
    assert.match(r.stderr, new RegExp(`connected to ${url.replace(/[?]/g, '\\$&')}`));
    assert.doesNotMatch(r.stderr, /s3cret|alice/);
  });

  it('--line: one text message per line (CRLF too, last line without newline); messages printed as lines', async () => {
    expectConnection();
    behave = (ws) => {
      ws.send('first reply');
      ws.send(Buffer.from([0x62, 0x69, 0x6e]), { binary: true });
    };
    const r = await run(['connect', '--line', '--exit-on-eof', url], 'one\r\ntwo\n\nthré\nlast');
    assert.equal(r.code, 0, r.stderr);
    const seen = await lastSeen;
    assert.deepEqual(
      seen.messages.map((m) => [m.data.toString(), m.binary]),
      [
        ['one', false],
        ['two', false],
        ['', false],
        ['thré', false],
        ['last', false],
      ],
    );
    // stdout is a pipe, not a terminal: printed unchanged, one message a line.
    assert.equal(r.stdout.toString(), 'first reply\nbin\n');
  });

  it('--binary: stdin as binary messages, messages to stdout unchanged with nothing added', async () => {
    expectConnection();
    const payload = Buffer.from([0, 1, 2, 0x1b, 0x5b, 0x32, 0x4a, 0xff, 0x0a]);
    behave = (ws) => {
      ws.send(payload, { binary: true });
      ws.send('text\u0007');
    };
    const r = await run(['connect', '--binary', '--exit-on-eof', url], payload);
    assert.equal(r.code, 0, r.stderr);
    const seen = await lastSeen;
    assert.ok(seen.messages.length >= 1);
    assert.ok(seen.messages.every((m) => m.binary));
    assert.deepEqual(Buffer.concat(seen.messages.map((m) => m.data)), payload);
    assert.deepEqual(r.stdout, Buffer.concat([payload, Buffer.from('text\u0007')]));
  });

  it('without a mode, a pipe on stdin means --binary', async () => {
    expectConnection();
    behave = () => {};
    const r = await run(['connect', '--exit-on-eof', url], 'a\nb\n');
    assert.equal(r.code, 0, r.stderr);
    const seen = await lastSeen;
    assert.deepEqual(
      seen.messages.map((m) => [m.data.toString(), m.binary]),
      [['a\nb\n', true]],
    );
  });

  it('--once: sends stdin, prints the first reply, closes with 1000 and exits 0', async () => {
    expectConnection();
    behave = (ws) => {
      ws.on('message', (data) => {
        ws.send(`re: ${Buffer.from(data as Buffer).toString()}`);
        ws.send('not printed');
      });
    };
    const r = await run(['connect', '--line', '--once', url], 'question\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 're: question\n');
    assert.match(r.stderr, /closed: code 1000/);
  });

  it('without --exit-on-eof the connection stays open after stdin ends, until the server closes', async () => {
    expectConnection();
    behave = (ws) => {
      ws.on('message', () => {
        // Reply well after stdin ended, then close with a reason.
        setTimeout(() => {
          ws.send('late');
          ws.close(1000, 'bye');
        }, 200);
      });
    };
    const r = await run(['connect', '--line', url], 'ping\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'late\n');
    assert.match(r.stderr, /closed: code 1000, reason "bye"/);
  });
});

describe('connect, batched (default) and --no-batch-writes', () => {
  for (const extra of [[], ['--no-batch-writes']]) {
    it(`20,000 lines arrive at the server as 20,000 messages, in order (${extra.join(' ') || 'default'})`, async () => {
      expectConnection();
      behave = () => {};
      const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}`);
      const r = await run(
        ['connect', '--line', ...extra, '--exit-on-eof', url],
        lines.join('\n') + '\n',
      );
      assert.equal(r.code, 0, r.stderr);
      const seen = await lastSeen;
      assert.deepEqual(
        seen.messages.map((m) => m.data.toString()),
        lines,
      );
      assert.ok(seen.messages.every((m) => !m.binary));
    });
  }
});

describe('connect: --batch-writes with --no-batch-writes', () => {
  it('is a usage error (2)', async () => {
    const r = await run(['connect', '--batch-writes', '--no-batch-writes', url], '');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /contradict/);
  });
});

describe('connect: exit codes, close code and reason on stderr', () => {
  it('0 for 1001 Going Away', async () => {
    behave = (ws) => ws.close(1001, 'restart');
    const r = await run(['connect', '--line', url], '');
    assert.equal(r.code, 0);
    assert.match(r.stderr, /closed: code 1001, reason "restart"/);
  });

  it('1 for any other close code (an application code, 1011)', async () => {
    for (const code of [4000, 1011]) {
      behave = (ws) => ws.close(code, 'nope');
      const r = await run(['connect', '--line', url], '');
      assert.equal(r.code, 1, `close code ${code}`);
      assert.match(r.stderr, new RegExp(`closed: code ${code}, reason "nope"`));
    }
  });

  it('what the peer chose (the close reason) reaches stderr with its terminal controls escaped', async () => {
    // An OSC title sequence and a clear-screen in C0, a CSI in C1, and a bidi override.
    behave = (ws) => ws.close(4000, 'a\u001b]0;pwned\u0007\u001b[2J\u009b2J\u202eb');
    const r = await run(['connect', '--line', url], '');
    assert.equal(r.code, 1);
    assert.doesNotMatch(r.stderr, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    assert.match(
      r.stderr,
      /closed: code 4000, reason "a\\u001b\]0;pwned\\u0007\\u001b\[2J\\x9b2J\\u202eb"/,
    );
  });

  it('1 when the connection is dropped without a closing handshake (1006)', async () => {
    behave = (ws) => ws.terminate();
    const r = await run(['connect', '--line', url], '');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: .*\(code 1006\)/);
  });

  it('1 when nothing listens, or the handshake is refused', async () => {
    const refused = await run(['connect', '--line', 'ws://127.0.0.1:1/'], '');
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /error: Connection to ws:\/\/127\.0\.0\.1:1\/ failed: .*ECONNREFUSED/,
    );
    const denied = url.replace('/path', '/deny');
    const r = await run(['connect', '--line', '--handshake-timeout', '5s', denied], '');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /error: .*401/);
  });

  it('1 when a message is larger than --max-message-size (the client closes with 1009)', async () => {
    behave = (ws) => ws.send(Buffer.alloc(2048));
    const r = await run(['connect', '--binary', '--max-message-size', '1k', url], '');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /code 1009/);
  });
});
