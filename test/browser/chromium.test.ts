/**
 * A real browser against our server: Debian's chromium, driven by
 * playwright-core, connects with the classic `WebSocket` and with its native
 * `WebSocketStream` (MDN's sample client page, unchanged but for its URL).
 * Both sides' view of messages and close codes is checked. The pages are
 * served by a plain node:http server that hands its 'upgrade' events to
 * `upgrade()`, on the same port.
 *
 * .ci/run installs chromium with apt-get; without /usr/bin/chromium the test
 * is skipped, saying so.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { upgrade, type WebSocketConnection, type UpgradeOptions } from '../../src/server.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium), as .ci/run does`;

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** MDN's "Using WebSocketStream to write a client" full listing, verbatim. */
const STREAM_PAGE = readFileSync(new URL('./websocketstream-page.html', import.meta.url), 'utf8');

/** A classic WebSocket page: echo of text and binary, then a close from each side. */
const CLASSIC_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8" /><title>WebSocket test</title></head>
<body><div id="output"></div><script>
const output = document.querySelector('#output');
const log = (line) => { const p = document.createElement('p'); p.textContent = line; output.appendChild(p); };
const show = (data) => typeof data === 'string' ? 'text:' + data : 'binary:' + Array.from(new Uint8Array(data)).join(',');

// A: echo, then the page closes with 4321 "classic bye".
const a = new WebSocket(WS_URL + 'classic-a', ['chat']);
a.binaryType = 'arraybuffer';
let echoes = 0;
a.onopen = () => { log('A open protocol=' + a.protocol); a.send('hello ✓'); a.send(new Uint8Array([1, 2, 3, 255])); a.send(''); };
a.onmessage = (e) => { log('A ' + show(e.data)); if (++echoes === 3) a.close(4321, 'classic bye'); };
a.onclose = (e) => log('A close ' + e.code + ' "' + e.reason + '" clean=' + e.wasClean);

// B: the server closes with 4000 "server bye" when asked.
const b = new WebSocket(WS_URL + 'classic-b');
b.onopen = () => b.send('close me');
b.onclose = (e) => log('B close ' + e.code + ' "' + e.reason + '" clean=' + e.wasClean);
</script></body></html>`;

/** What the server saw on one connection. */
interface Seen {
  path: string;
  origin: string | undefined;
  messages: Array<string | number[]>;
  outcome: Promise<{ closeCode: number; reason: string } | { error: number | null }>;
}

void describe('chromium against our server', { skip, timeout: 55_000 }, () => {
  let http: Server;
  let port: number;
  let browser: Browser;
  const seen: Seen[] = [];
  const refused: string[] = [];

  before(async () => {
    http = createServer((req, res) => {
      const wsUrl = `ws://127.0.0.1:${port}/`;
      if (req.url === '/stream.html') {
        const page = STREAM_PAGE.replace(
          /const wsURL = (["'])ws:\/\/127\.0\.0\.1\/\1;/,
          `const wsURL = "${wsUrl}stream";`,
        );
        assert.notEqual(page, STREAM_PAGE, 'the sample page still has its wsURL line');
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(page);
      } else if (req.url === '/classic.html') {
        res
          .writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })
          .end(CLASSIC_PAGE.replaceAll('WS_URL', JSON.stringify(wsUrl)));
      } else if (req.url === '/blank.html') {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end('<!doctype html>');
      } else {
        res.writeHead(404).end();
      }
    });
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const options: UpgradeOptions = {
        protocols: ['chat'],
        // The pages' own origin only: a page elsewhere cannot use the user's browser against us.
        allowOrigins: [`http://127.0.0.1:${port}`],
      };
      const connection = upgrade(req, socket, head, options);
      connection.opened.then(
        () => void serveConnection(connection),
        () => refused.push(req.url ?? ''),
      );
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    port = (http.address() as AddressInfo).port;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
  });

  after(async () => {
    await browser?.close();
    http?.closeAllConnections();
    http?.close();
  });

  async function serveConnection(connection: WebSocketConnection): Promise<void> {
    const path = new URL(connection.url).pathname;
    const record: Seen = {
      path,
      origin: connection.request.headers.origin,
      messages: [],
      outcome: connection.closed.catch((e: { closeCode: number | null }) => ({
        error: e.closeCode,
      })),
    };
    seen.push(record);
    const { readable, writable } = await connection.opened;
    const reader = readable.getReader();
    const writer = writable.getWriter();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        record.messages.push(typeof value === 'string' ? value : Array.from(value));
        if (value === 'close me') connection.close({ closeCode: 4000, reason: 'server bye' });
        else await writer.write(value);
      }
    } catch {
      // an unclean close errors the streams; the outcome is recorded above
    }
  }

  /** The page's #output lines, once `until` holds for them (the test's timeout bounds the wait). */
  async function waitLines(page: Page, until: (lines: string[]) => boolean): Promise<string[]> {
    for (;;) {
      const lines = await page.locator('#output p').allTextContents();
      if (until(lines)) return lines;
      await page.waitForTimeout(50);
    }
  }

  async function outputLines(
    url: string,
    until: (lines: string[]) => boolean,
  ): Promise<{ lines: string[]; page: Page }> {
    const page = await browser.newPage();
    await page.goto(url);
    return { lines: await waitLines(page, until), page };
  }

  void test('native WebSocketStream: the MDN sample page pings, is echoed, closes with 1000 "That\'s all folks"', async () => {
    // The page sends "ping" on open and again 5 s after each echo (its own timer, kept as published).
    const { page } = await outputLines(
      `http://127.0.0.1:${port}/stream.html`,
      (lines) => lines.filter((l) => l === 'RECEIVED: ping').length >= 2,
    );
    await page.click('#close');
    const lines = await waitLines(page, (l) => l.some((x) => x.startsWith('DISCONNECTED')));
    await page.close();
    assert.deepEqual(lines.slice(0, 5), [
      'CONNECTED',
      'SENT: ping',
      'RECEIVED: ping',
      'SENT: ping',
      'RECEIVED: ping',
    ]);
    assert.ok(lines.includes('RECEIVED: undefined'), 'the readable ended after the close');
    // Our server echoes the code and the reason of the browser's Close.
    assert.equal(lines.at(-1), 'DISCONNECTED: code 1000, message "That\'s all folks"');

    const server = seen.find((s) => s.path === '/stream')!;
    assert.ok(server, 'the server saw the WebSocketStream connection');
    assert.equal(server.origin, `http://127.0.0.1:${port}`);
    assert.deepEqual(server.messages.slice(0, 2), ['ping', 'ping']);
    assert.deepEqual(await server.outcome, { closeCode: 1000, reason: "That's all folks" });
  });

  void test('classic WebSocket: text, binary and empty echoes, then a close from each side', async () => {
    const { lines, page } = await outputLines(
      `http://127.0.0.1:${port}/classic.html`,
      (l) => l.some((x) => x.startsWith('A close')) && l.some((x) => x.startsWith('B close')),
    );
    await page.close();
    const a = lines.filter((l) => l.startsWith('A '));
    const b = lines.filter((l) => l.startsWith('B '));
    assert.deepEqual(a, [
      'A open protocol=chat',
      'A text:hello ✓',
      'A binary:1,2,3,255',
      'A text:',
      'A close 4321 "classic bye" clean=true',
    ]);
    assert.deepEqual(b, ['B close 4000 "server bye" clean=true']);

    const serverA = seen.find((s) => s.path === '/classic-a')!;
    assert.deepEqual(serverA.messages, ['hello ✓', [1, 2, 3, 255], '']);
    assert.deepEqual(await serverA.outcome, { closeCode: 4321, reason: 'classic bye' });
    const serverB = seen.find((s) => s.path === '/classic-b')!;
    assert.deepEqual(serverB.messages, ['close me']);
    // Chrome echoes the code and the reason of the server's Close.
    assert.deepEqual(await serverB.outcome, { closeCode: 4000, reason: 'server bye' });
  });

  void test("native WebSocketStream: close({closeCode: 4000, reason: 'bye'}) sees 'bye' come back", async () => {
    const page = await browser.newPage();
    // An empty page of our origin (allowOrigins).
    await page.goto(`http://127.0.0.1:${port}/blank.html`);
    const closed = await page.evaluate(async (url) => {
      const wss = new (
        globalThis as unknown as {
          WebSocketStream: new (u: string) => {
            opened: Promise<unknown>;
            closed: Promise<{ closeCode: number; reason: string }>;
            close(info: { closeCode: number; reason: string }): void;
          };
        }
      ).WebSocketStream(url);
      await wss.opened;
      wss.close({ closeCode: 4000, reason: 'bye' });
      return wss.closed;
    }, `ws://127.0.0.1:${port}/stream-reason`);
    await page.close();
    assert.deepEqual(closed, { closeCode: 4000, reason: 'bye' });
    const server = seen.find((s) => s.path === '/stream-reason')!;
    assert.deepEqual(await server.outcome, { closeCode: 4000, reason: 'bye' });
  });

  void test('a page from another origin is refused (403) by allowOrigins', async () => {
    const other = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' })
        .end(`<!doctype html><div id="output"></div><script>
        const ws = new WebSocket('ws://127.0.0.1:${port}/hijack');
        const log = (t) => { const p = document.createElement('p'); p.textContent = t; document.querySelector('#output').appendChild(p); };
        ws.onopen = () => log('open');
        ws.onerror = () => log('error');
        ws.onclose = (e) => log('close ' + e.code);
      </script>`);
    });
    other.listen(0, '127.0.0.1');
    await once(other, 'listening');
    try {
      const { lines, page } = await outputLines(
        `http://127.0.0.1:${(other.address() as AddressInfo).port}/`,
        (l) => l.some((x) => x.startsWith('close')),
      );
      await page.close();
      assert.deepEqual(lines, ['error', 'close 1006']);
      assert.ok(refused.includes('/hijack'));
      assert.ok(!seen.some((s) => s.path === '/hijack'));
    } finally {
      other.closeAllConnections();
      other.close();
    }
  });
});
