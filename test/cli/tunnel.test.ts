/**
 * Tunnels: `serve --forward` and `connect --listen` run as child processes
 * between a TCP (or Unix socket) target and local clients in this process.
 * Bytes go through unchanged both ways, and every ending on one side becomes
 * the matching ending on the other: FIN for a clean close, RST for a reset
 * or an unreachable target.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureBuilt, run, serveCli, start, waitForStderr, type Served } from './helpers.js';
import {
  closedPort,
  dial,
  howItEnds,
  KiB,
  listenCli,
  MiB,
  readAll,
  receiveHashed,
  sendRandom,
  sleep,
  tcpTarget,
  type Listener,
} from './tunnel-helpers.js';

/** What the target does with each connection; the test sets it. */
let behave: (socket: Socket) => void = (s) => s.pipe(s);
let target: Awaited<ReturnType<typeof tcpTarget>>;
let server: Served;
let listener: Listener;

async function waitForLog(process: { log(): string }, pattern: RegExp): Promise<void> {
  for (let i = 0; i < 400 && !pattern.test(process.log()); i++) await sleep(25);
  assert.match(process.log(), pattern);
}

before(async () => {
  ensureBuilt();
  target = await tcpTarget((socket) => behave(socket));
  server = await serveCli(['--forward', `tcp:127.0.0.1:${target.port}`]);
  listener = await listenCli(server.url);
});
after(async () => {
  assert.equal(await listener.stop(), 0, listener.log());
  assert.equal(await server.stop(), 0, server.log());
  await target.close();
});

describe('serve --forward and connect --listen', () => {
  it('a TCP echo: bytes go through unchanged both ways; the client FIN closes it all', async () => {
    behave = (s) => s.pipe(s);
    const c = await dial(listener.port);
    c.write('hello through the tunnel');
    const got = await new Promise<string>((resolve) => {
      let text = '';
      c.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.length >= 24) resolve(text);
      });
    });
    assert.equal(got, 'hello through the tunnel');
    const ending = howItEnds(c);
    c.end();
    assert.equal(await ending, 'end');
    await waitForLog(server, /closed: code 1000/);
  });

  it('40 concurrent tunnels, 256 KiB each way each, all byte-identical', async () => {
    behave = (s) => s.pipe(s);
    const results = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const c = await dial(listener.port);
        const [sent, received] = await Promise.all([
          sendRandom(c, 256 * KiB),
          receiveHashed(c, 256 * KiB),
        ]);
        const ending = howItEnds(c);
        c.end();
        return { same: sent === received, ending: await ending };
      }),
    );
    assert.deepEqual(
      results.filter((r) => !r.same || r.ending !== 'end'),
      [],
    );
  });

  it('the target closes first: everything it sent arrives, then a FIN; Close 1000 between', async () => {
    const banner = Buffer.concat([Buffer.from('SSH-2.0-target\r\n'), randomBytes(MiB)]);
    behave = (s) => s.end(banner);
    const c = await dial(listener.port);
    assert.deepEqual(await readAll(c), banner);
    await waitForLog(listener, /closed: code 1000, reason "target closed the connection"/);
    // The stdin/stdout form: the target's close ends the command, with exit code 0.
    const r = await run(['connect', '--binary', server.url], '');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout, banner);
    assert.match(r.stderr, /closed: code 1000, reason "target closed the connection"/);
  });

  it('the client closes first: the target gets every byte, then a FIN', async () => {
    let gotten!: Promise<Buffer>;
    const connected = new Promise<void>((resolve) => {
      behave = (s) => {
        gotten = readAll(s);
        resolve();
      };
    });
    const c = await dial(listener.port);
    const data = randomBytes(512 * KiB);
    c.end(data);
    await connected;
    assert.deepEqual(await gotten, data, 'all bytes, then a FIN (readAll rejects on a reset)');
    await waitForLog(server, /closed: code 1000, reason "client closed the connection"/);
  });

  it('a reset on either end resets the other (Close 4500 between)', async () => {
    // The target resets.
    behave = (s) => s.once('data', () => s.resetAndDestroy());
    const c = await dial(listener.port);
    const ending = howItEnds(c);
    c.write('x');
    assert.equal(await ending, 'ECONNRESET');
    await waitForLog(listener, /code 4500, reason "target reset the connection"/);

    // The client resets.
    const targetEnding = new Promise<string>((resolve) => {
      behave = (s) => {
        void howItEnds(s).then(resolve);
        s.resume();
      };
    });
    const c2 = await dial(listener.port);
    c2.write('y');
    await sleep(200);
    c2.resetAndDestroy();
    assert.equal(await targetEnding, 'ECONNRESET');
    await waitForLog(server, /code 4500, reason "client reset the connection"/);
  });
});

describe('an unreachable target', () => {
  it('is a Close 4502 "target unreachable (ECONNREFUSED)": exit 1, and a reset local socket', async () => {
    const refusing = await serveCli(['--forward', `tcp:127.0.0.1:${await closedPort()}`]);
    try {
      const r = await run(['connect', '--binary', refusing.url], 'hello');
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /closed: code 4502, reason "target unreachable \(ECONNREFUSED\)"/);
      assert.equal(r.stdout.length, 0);

      const l = await listenCli(refusing.url);
      try {
        const c = await dial(l.port);
        assert.equal(await howItEnds(c), 'ECONNRESET');
        await waitForLog(l, /code 4502/);
      } finally {
        assert.equal(await l.stop(), 0);
      }
      await waitForLog(refusing, /target: connect ECONNREFUSED/);
    } finally {
      assert.equal(await refusing.stop(), 0);
    }
  });
});

describe('an unreachable WebSocket server', () => {
  it('connect --listen resets each local connection it cannot tunnel, and keeps listening', async () => {
    const l = await listenCli(`ws://127.0.0.1:${await closedPort()}/`);
    try {
      for (let i = 0; i < 2; i++) {
        const c = await dial(l.port);
        assert.equal(await howItEnds(c), 'ECONNRESET');
      }
      await waitForLog(l, /- 127\.0\.0\.1:\d+ error: .*ECONNREFUSED/);
    } finally {
      assert.equal(await l.stop(), 0);
    }
  });
});

describe('Unix sockets', () => {
  it('--listen ends cleanly on SIGHUP (a closed terminal, ssh), as on SIGINT: the tunnel gets its Close and the socket file is removed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsstream-tunnel-'));
    const listenPath = join(dir, 'listen.sock');
    const served = await serveCli(['--echo']);
    const child = start(['connect', served.url, '--listen', `unix:${listenPath}`]);
    try {
      await waitForStderr(child, /listening on unix:/);
      const c = connect({ path: listenPath });
      c.on('error', () => {});
      await once(c, 'connect');
      c.write('hello');
      await once(c, 'data');
      const closed = once(child, 'close');
      child.kill('SIGHUP');
      const [code, signal] = (await closed) as [number | null, NodeJS.Signals | null];
      assert.equal(signal, null);
      assert.equal(code, 0);
      assert.equal(existsSync(listenPath), false, 'the socket file is removed');
      assert.match(served.log(), /1000/);
      c.destroy();
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      assert.equal(await served.stop(), 0);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('unix: on both ends: a local Unix client reaches a Unix echo target', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsstream-tunnel-'));
    const targetPath = join(dir, 'target.sock');
    const listenPath = join(dir, 'listen.sock');
    const echo = createServer((s) => s.pipe(s)).listen(targetPath);
    await once(echo, 'listening');
    const served = await serveCli(['--forward', `unix:${targetPath}`]);
    const child = start(['connect', served.url, '--listen', `unix:${listenPath}`]);
    try {
      await waitForStderr(child, /listening on unix:/);
      const c = connect({ path: listenPath });
      await once(c, 'connect');
      const data = randomBytes(300 * KiB);
      const [sent, received] = await Promise.all([
        sendRandom(c, 300 * KiB),
        receiveHashed(c, 300 * KiB),
      ]);
      assert.equal(received, sent);
      assert.ok(data.length > 0);
      const ending = howItEnds(c);
      c.end();
      assert.equal(await ending, 'end');
    } finally {
      const closed = once(child, 'close');
      child.kill('SIGINT');
      const [code] = (await closed) as [number | null];
      assert.equal(code, 0);
      assert.equal(await served.stop(), 0);
      echo.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
