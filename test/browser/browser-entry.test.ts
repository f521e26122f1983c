/**
 * The package's browser entry (the `browser` condition: dist/browser.js) in
 * Debian's chromium against our server: the same case file
 * (stream-cases.js) once with Chromium's native WebSocketStream and once with
 * it deleted before the package loads, so that the polyfill over the classic
 * WebSocket runs. The page loads the built files as they are, as native ES
 * modules: any node:* import would fail to load.
 *
 * Needs `npm run build` first (npm test does it) and /usr/bin/chromium.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, normalize, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { upgrade, type WebSocketConnection } from '../../src/server.js';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DIST = join(ROOT, 'dist');
const skip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium), as .ci/run does`
  : !existsSync(join(DIST, 'browser.js'))
    ? 'dist/browser.js is missing: npm run build first (npm test does)'
    : false;

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'];

/**
 * The page: in polyfill mode it deletes the native API and records every
 * classic WebSocket the polyfill makes (the backpressure case reads its
 * bufferedAmount), then loads the cases.
 */
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>wsstream browser entry</title></head><body>
<script>
  if (new URLSearchParams(location.search).get('mode') === 'polyfill') {
    delete globalThis.WebSocketStream;
    delete globalThis.WebSocketError;
    const Classic = WebSocket;
    window.__sockets = [];
    globalThis.WebSocket = class extends Classic {
      constructor(...args) { super(...args); window.__sockets.push(this); }
    };
  }
</script>
<script type="module" src="/test/browser/stream-cases.js"></script>
</body></html>`;

const MIME: Record<string, string> = { '.js': 'text/javascript', '.json': 'application/json' };

interface Seen {
  messages: number;
  outcome?: { closeCode: number; reason: string } | { error: number | null };
}

void test('the browser entries import nothing but their own relative modules (no node:*)', () => {
  const seen = new Set<string>();
  const outside: string[] = [];
  const walk = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const code = readFileSync(file, 'utf8');
    for (const [, specifier] of code.matchAll(
      /^\s*(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]/gm,
    )) {
      if (specifier!.startsWith('.')) walk(resolve(dirname(file), specifier!));
      else outside.push(`${file}: ${specifier}`);
    }
    for (const [, specifier] of code.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm)) {
      if (specifier!.startsWith('.')) walk(resolve(dirname(file), specifier!));
      else outside.push(`${file}: ${specifier}`);
    }
  };
  if (!existsSync(join(DIST, 'browser.js'))) return;
  walk(join(DIST, 'browser.js'));
  walk(join(DIST, 'browser-global.js'));
  assert.deepEqual(outside, []);
  assert.ok(seen.size > 5, `the walk found the modules (${seen.size})`);
});

void describe('the browser entry in chromium', { skip, timeout: 600_000 }, () => {
  let http: Server;
  let browser: Browser;
  const seen = new Map<string, Seen>();
  const settled = new Map<string, Promise<void>>();
  let sink: { connection: WebSocketConnection; release: () => void } | undefined;

  before(async () => {
    http = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/page.html') {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(PAGE);
      } else if (url.pathname === '/seen') {
        const path = url.searchParams.get('path') ?? '';
        void (settled.get(path) ?? Promise.resolve()).then(() =>
          res
            .writeHead(200, { 'Content-Type': 'application/json' })
            .end(JSON.stringify(seen.get(path) ?? null)),
        );
      } else if (url.pathname === '/release-sink') {
        const bytesRead = sink?.connection.session?.transport.bytesRead ?? -1;
        sink?.release();
        res
          .writeHead(200, { 'Content-Type': 'application/json' })
          .end(JSON.stringify({ bytesRead }));
      } else if (
        url.pathname.startsWith('/dist/') ||
        url.pathname === '/test/browser/stream-cases.js'
      ) {
        // Only the built package and the case file, from inside the repository.
        const file = normalize(join(ROOT, url.pathname));
        if (!file.startsWith(ROOT) || !existsSync(file)) {
          res.writeHead(404).end();
          return;
        }
        const type = MIME[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream';
        res.writeHead(200, { 'Content-Type': type }).end(readFileSync(file));
      } else {
        res.writeHead(404).end();
      }
    });
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = req.url ?? '/';
      if (path === '/refuse') {
        socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      if (path === '/close-held') {
        // A peer that sends its Close (4001 "hi") and keeps TCP open 1.5 s
        // more, reading nothing: the page's socket is CLOSING meanwhile.
        const accept = createHash('sha1')
          .update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest('base64');
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        socket.write(Buffer.from([0x88, 0x04, 0x0f, 0xa1, 0x68, 0x69]));
        socket.on('error', () => {});
        setTimeout(() => socket.destroy(), 1500);
        return;
      }
      const connection = upgrade(req, socket, head);
      const record: Seen = { messages: 0 };
      seen.set(path, record);
      settled.set(
        path,
        connection.closed.then(
          (info) => void (record.outcome = info),
          (e: { closeCode: number | null }) => void (record.outcome = { error: e.closeCode }),
        ),
      );
      connection.opened.then(
        () => void serve(path, connection, record),
        () => {},
      );
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
  });

  after(async () => {
    await browser?.close();
    http?.closeAllConnections();
    http?.close();
  });

  async function serve(path: string, connection: WebSocketConnection, record: Seen): Promise<void> {
    const { readable, writable } = await connection.opened;
    if (path === '/close-4001') {
      connection.close({ closeCode: 4001, reason: 'server' });
      return;
    }
    if (path === '/chatty') {
      // Messages keep coming while the page cancels its readable.
      const writer = writable.getWriter();
      void (async () => {
        for (let i = 0; ; i++) {
          await writer.write(`chat ${i}`);
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      })().catch(() => {});
    }
    if (path === '/drop') {
      setTimeout(() => connection.terminate(), 50);
      return;
    }
    if (path === '/sink') {
      // Reads nothing until the page asks: the server's socket stays paused.
      await new Promise<void>((release) => (sink = { connection, release }));
    }
    try {
      const writer = writable.getWriter();
      const reader = readable.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        record.messages++;
        if (path !== '/sink') await writer.write(value);
      }
    } catch {
      // An unclean close errors the streams; the outcome is recorded above.
    }
  }

  for (const mode of ['native', 'polyfill'] as const) {
    void test(`${mode}: every case of stream-cases.js passes`, async () => {
      seen.clear();
      settled.clear();
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      const { port } = http.address() as AddressInfo;
      await page.goto(`http://127.0.0.1:${port}/page.html?mode=${mode}`);
      await page.waitForFunction(() => (window as { __done?: boolean }).__done === true, null, {
        timeout: 280_000,
      });
      const results = (await page.evaluate(
        () => (window as { __results?: unknown }).__results,
      )) as Array<{
        name: string;
        ok: boolean;
        error?: string;
        notes: string[];
      }>;
      await page.close();
      assert.deepEqual(errors, [], 'no uncaught errors in the page');
      for (const r of results) {
        console.log(
          `${mode}: ${r.ok ? 'ok  ' : 'FAIL'} ${r.name}${r.notes.map((n) => `\n    ${n}`).join('')}`,
        );
      }
      const failed = results.filter((r) => !r.ok);
      assert.deepEqual(
        failed.map((r) => `${r.name}: ${r.error}`),
        [],
        `${failed.length} of ${results.length} cases failed`,
      );
      assert.ok(results.length >= 14, `all cases ran (${results.length})`);
    });
  }
});
