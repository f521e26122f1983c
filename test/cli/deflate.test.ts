/**
 * permessage-deflate in the CLI: `connect` and `serve` negotiate it by
 * default and log what was agreed; `--no-deflate` turns it off on either side.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ensureBuilt, run, serveCli } from './helpers.js';

before(() => ensureBuilt());

describe('CLI permessage-deflate', () => {
  it('connect and serve agree on it by default; both logs show it', async () => {
    const server = await serveCli(['--echo']);
    try {
      const r = await run(['connect', '--once', server.url], 'x'.repeat(3000));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString(), 'x'.repeat(3000));
      assert.match(
        r.stderr,
        /connected to .* \(extensions permessage-deflate; server_max_window_bits=12; client_max_window_bits=12\)/,
      );
      assert.match(
        server.log(),
        /\+ \S+ \/ \(permessage-deflate; server_max_window_bits=12; client_max_window_bits=12\)/,
      );
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  it('--no-deflate on connect offers nothing; on serve accepts nothing', async () => {
    for (const [serveArgs, connectArgs] of [
      [['--echo'], ['--no-deflate']],
      [['--echo', '--no-deflate'], []],
    ]) {
      const server = await serveCli(serveArgs!);
      try {
        const r = await run(['connect', '--once', ...connectArgs!, server.url], 'hello');
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.toString(), 'hello');
        assert.doesNotMatch(r.stderr, /extensions/);
        assert.doesNotMatch(server.log(), /permessage-deflate/);
      } finally {
        assert.equal(await server.stop(), 0);
      }
    }
  });
});
