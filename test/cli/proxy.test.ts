/**
 * `wsstream connect` and proxies: it follows HTTP_PROXY / NO_PROXY by default,
 * `--proxy URL` picks one, `--no-proxy` goes direct, `--unix PATH` uses a Unix
 * socket. The proxy is Debian's tinyproxy; its log says what went through it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { startTinyproxy, type Tinyproxy } from '../proxy/tinyproxy.js';
import { BIN, ensureBuilt } from './helpers.js';

/** Runs `wsstream connect --once ...` with this environment (no proxy variables inherited). */
async function connectOnce(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(https?|no)_proxy$|^NODE_USE_ENV_PROXY$/i.test(k),
    ),
  );
  const child = spawn(process.execPath, [BIN, 'connect', '--once', ...args], {
    env: { ...clean, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin.end('ping\n');
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

void describe('wsstream connect through a proxy', { timeout: 60_000 }, () => {
  let proxy: Tinyproxy;
  let wss: WebSocketServer;
  let url: string;
  const dir = mkdtempSync(join(tmpdir(), 'wsstream-cli-unix-'));
  const unixPath = join(dir, 'echo.sock');
  const http = createServer();
  before(async () => {
    ensureBuilt();
    proxy = await startTinyproxy();
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`;
    const echo = new WebSocketServer({ server: http });
    for (const server of [wss, echo]) {
      server.on('connection', (ws) =>
        ws.on('message', (d: Buffer) => ws.send(`echo ${d.toString()}`)),
      );
    }
    await new Promise<void>((resolve) => http.listen(unixPath, resolve));
  });
  after(async () => {
    await proxy.stop();
    wss.close();
    http.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('follows HTTP_PROXY by default', async () => {
    const result = await connectOnce([url], { HTTP_PROXY: proxy.url });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'echo ping\n');
    assert.equal(proxy.connects().length, 1);
  });

  it('--no-proxy and NO_PROXY go direct', async () => {
    const before = proxy.connects().length;
    for (const [args, env] of [
      [['--no-proxy', url], { http_proxy: proxy.url }],
      [[url], { http_proxy: proxy.url, no_proxy: '127.0.0.1' }],
    ] as const) {
      const result = await connectOnce([...args], env);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'echo ping\n');
    }
    assert.equal(proxy.connects().length, before);
  });

  it('--proxy URL wins over the environment', async () => {
    const before = proxy.connects().length;
    const result = await connectOnce(['--proxy', proxy.url, url], {
      http_proxy: 'http://127.0.0.1:1',
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(proxy.connects().length, before + 1);
  });

  it('a refusing or unreachable proxy is reported, a bad --proxy is a usage error (2)', async () => {
    const unreachable = await connectOnce(['--proxy', 'http://127.0.0.1:1', url]);
    assert.notEqual(unreachable.code, 0);
    assert.match(unreachable.stderr, /Connection to proxy http:\/\/127\.0\.0\.1:1 failed/);
    const bad = await connectOnce(['--proxy', 'socks5://127.0.0.1:1080', url]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /proxy URL/);
    const both = await connectOnce(['--proxy', proxy.url, '--no-proxy', url]);
    assert.equal(both.code, 2);
  });

  it('--unix PATH connects to a Unix socket, ignoring the proxy variables', async () => {
    const before = proxy.connects().length;
    const result = await connectOnce(['--unix', unixPath, 'ws://localhost/'], {
      HTTP_PROXY: proxy.url,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'echo ping\n');
    assert.equal(proxy.connects().length, before);
  });
});
