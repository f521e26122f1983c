/**
 * What importing wsstream loads of the runtime: a ws: client does not load
 * TLS (6 MB of RSS on Node 24) and a ws: server does not load node:https (on
 * Node 22 and later node:http itself brings TLS in, with undici); a wss:
 * connection loads TLS when it needs it. Needs the built dist/ (npm test
 * builds it first): the package as users import it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { promisify } from 'node:util';

const root = new URL('../../', import.meta.url);
const built = existsSync(new URL('dist/server.js', root));

/** The runtime's built-in modules loaded after running `script` (an ES module) in a fresh process. */
async function loadedBy(script: string): Promise<string[]> {
  const program = `
    const before = new Set(process.moduleLoadList);
    ${script}
    const loaded = process.moduleLoadList.filter((m) => !before.has(m));
    console.log(JSON.stringify(loaded.map((m) => m.replace(/^NativeModule /, ''))));
  `;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', program],
    { cwd: root },
  );
  return JSON.parse(stdout) as string[];
}

const heavy = (modules: string[], names: string[]): string[] =>
  modules.filter((m) => names.includes(m));

test(
  'a ws: server and client: no node:https; the client alone loads no TLS',
  { skip: !built && 'npm run build first (npm test does)' },
  async () => {
    const modules = await loadedBy(`
    const { serve } = await import('./dist/server.js');
    const { WebSocketStream } = await import('./dist/index.js');
    const server = await serve({ host: '127.0.0.1' }, async (c) => {
      const { readable, writable } = await c.opened;
      await readable.pipeTo(writable);
    });
    const ws = new WebSocketStream(server.url);
    const { readable, writable } = await ws.opened;
    const writer = writable.getWriter();
    await writer.write('ping');
    await readable.getReader().read();
    ws.close();
    await ws.closed;
    await server.close();
  `);
    assert.ok(modules.includes('http'), `node:http was loaded: ${modules.join(' ')}`);
    assert.deepEqual(heavy(modules, ['https']), [], 'no node:https');
    const client = await loadedBy(`
    const { WebSocketStream } = await import('./dist/index.js');
    const ws = new WebSocketStream('ws://127.0.0.1:1/');
    await ws.opened.catch(() => {});
  `);
    assert.deepEqual(heavy(client, ['tls', 'https']), [], 'a ws: client: no TLS');
  },
);

test(
  'a wss: client loads TLS when it connects',
  { skip: !built && 'npm run build first (npm test does)' },
  async () => {
    const modules = await loadedBy(`
    const { WebSocketStream } = await import('./dist/index.js');
    const ws = new WebSocketStream('wss://127.0.0.1:1/');
    await ws.opened.catch(() => {});
  `);
    assert.ok(modules.includes('tls'), `node:tls was loaded: ${modules.join(' ')}`);
  },
);
