/**
 * The CLI's own output when nobody reads it any more: a stderr (or a demo's
 * stdout) whose reader went away ends nothing else.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { ensureBuilt, serveCli, start } from './helpers.js';

before(() => ensureBuilt());

describe('diagnostics nobody reads', { timeout: 30_000 }, () => {
  it('serve goes on when its stderr has no reader any more (EPIPE)', async () => {
    const server = await serveCli(['--echo']);
    try {
      // The reader of its log goes away; the next log line gets EPIPE.
      server.child.stderr.destroy();
      for (let i = 0; i < 3; i++) {
        const ws = new WebSocket(server.url, { perMessageDeflate: false });
        ws.on('error', () => {});
        await once(ws, 'open');
        ws.send('ping');
        const [data] = (await once(ws, 'message')) as [Buffer];
        assert.equal(data.toString(), 'ping');
        const closed = once(ws, 'close') as Promise<[number]>;
        ws.close(1000);
        assert.equal((await closed)[0], 1000);
      }
      assert.equal(server.child.exitCode, null, 'serve still runs');
      assert.equal(await server.stop(), 0);
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
    }
  });

  it('demo whose stdout reader went away (| head -1) ends quietly with 0', async () => {
    const child = start(['demo', '--slow-mb', '1', '--fast-mb', '1']);
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    await once(child.stdout, 'data');
    child.stdout.destroy();
    const [code] = (await once(child, 'close')) as [number | null];
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /EPIPE|Unhandled|at /);
  });
});
