/**
 * `connect --reconnect` against a `serve` that drains (1001) and comes back;
 * `serve --workers N --broadcast`: N processes on one port, relayed by the
 * cluster primary.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import WebSocket, { WebSocketServer, type RawData } from 'ws';
import { freePort } from '../hub/redis-server.js';
import { BIN, ensureBuilt, run, serveCli, start } from './helpers.js';

before(() => ensureBuilt());

async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('connect --reconnect', () => {
  it('says what it does on stderr; a line typed during the gap is sent once the server is back', async () => {
    const port = await freePort();
    let server = await serveCli(['--port', String(port), '--echo']);
    const client = start(['connect', '--reconnect', '--line', `ws://127.0.0.1:${port}/`]);
    let out = '';
    let err = '';
    client.stdout.on('data', (c: Buffer) => (out += c.toString()));
    client.stderr.on('data', (c: Buffer) => (err += c.toString()));
    await until(() => /connected to/.test(err), 'connected');
    client.stdin.write('first\n');
    await until(() => out === 'first\n', 'the echo of the first line');

    assert.equal(await server.stop(), 0); // drains: 1001 Going Away
    // Attempt 2 when the connection closed within minUptime (it counts as attempt 1), else 1.
    await until(
      () => /code 1001/.test(err) && /reconnecting in \d+ ms \(attempt [12]\)/.test(err),
      'the log of the drop',
    );
    client.stdin.write('during the gap\n');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(out, 'first\n');

    server = await serveCli(['--port', String(port), '--echo']);
    await until(() => out === 'first\nduring the gap\n', 'the line written during the gap', 20_000);
    assert.match(err, /connected again to/);
    const closed = once(client, 'close');
    client.kill('SIGINT');
    const [code] = (await closed) as [number];
    assert.equal(code, 0);
    assert.equal(await server.stop(), 0);
  });
});

describe('connect --reconnect: what it says', () => {
  it('a reconnect that succeeds at once says "connected again"; each close is told once', async () => {
    // A `ws` server that goes away (1001) on the first two connections and keeps the third.
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    let connections = 0;
    wss.on('connection', (socket) => {
      connections++;
      socket.send(`hello ${connections}`);
      if (connections <= 2) setTimeout(() => socket.close(1001, 'restarting'), 50);
    });
    const { port } = wss.address() as { port: number };
    const client = start(['connect', '--reconnect', '--line', `ws://127.0.0.1:${port}/`]);
    let out = '';
    let err = '';
    client.stdout.on('data', (c: Buffer) => (out += c.toString()));
    client.stderr.on('data', (c: Buffer) => (err += c.toString()));
    try {
      await until(() => out === 'hello 1\nhello 2\nhello 3\n', 'three connections', 20_000);
      await until(() => (err.match(/connected again to/g) ?? []).length === 2, 'two reconnects');
      const closed = once(client, 'close');
      client.kill('SIGINT');
      const [code] = (await closed) as [number];
      assert.equal(code, 0);
      assert.equal((err.match(/connected to/g) ?? []).length, 1, err);
      assert.equal((err.match(/code 1001/g) ?? []).length, 2, err);
      assert.equal((err.match(/code 1000/g) ?? []).length, 1, `the last close, once: ${err}`);
    } finally {
      client.kill('SIGKILL');
      wss.close();
    }
  });
});

describe('serve --workers N --broadcast', () => {
  it('two processes on one port; the primary relays between them; SIGINT drains all and exits 0', async () => {
    const server = await serveCli(['--workers', '2', '--broadcast']);
    try {
      await until(
        () => (server.log().match(/listening on/g) ?? []).length === 2,
        'two workers listening',
      );
      // Enough clients that both workers get some (the primary hands connections out round-robin).
      const clients: Array<{ ws: WebSocket; got: string[] }> = [];
      for (let i = 0; i < 6; i++) {
        const ws = new WebSocket(`${server.url}room`);
        const got: string[] = [];
        ws.on('message', (d: RawData, binary: boolean) =>
          got.push(`${binary ? 'b' : 't'}:${(d as Buffer).toString()}`),
        );
        ws.on('error', () => {});
        await once(ws, 'open');
        clients.push({ ws, got });
      }
      clients[0]!.ws.send('hello');
      clients[1]!.ws.send(Buffer.from('bytes'));
      await until(
        () => clients.slice(2).every((c) => c.got.length === 2),
        'every other client got both messages',
      );
      for (const c of clients.slice(2)) assert.deepEqual(c.got.sort(), ['b:bytes', 't:hello']);
      assert.deepEqual(clients[0]!.got, ['b:bytes']);
      assert.deepEqual(clients[1]!.got, ['t:hello']);
      const closes = clients.map((c) => once(c.ws, 'close'));
      assert.equal(await server.stop(), 0);
      for (const [code] of (await Promise.all(closes)) as [number][]) assert.equal(code, 1001);
    } finally {
      await server.stop();
    }
  });
});

/** The processes `pid` started (its cluster workers). */
function childrenOf(pid: number): number[] {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text === '' ? [] : text.split(' ').map(Number);
}

/** Whether any process of the group led by `pid` is alive. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * `serve --workers 2 ARGS` in a process group of its own (so a test can
 * signal the group as a terminal does), with one `ws` client connected and
 * its command running; `end()` kills the whole group.
 */
async function workersWithClient(args: string[]): Promise<{
  child: ReturnType<typeof spawn>;
  log: () => string;
  ws: WebSocket;
  end: () => void;
}> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--workers', '2', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let log = '';
  child.stderr.on('data', (c: Buffer) => (log += c.toString()));
  const end = (): void => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  try {
    await until(() => (log.match(/listening on/g) ?? []).length === 2, 'two workers');
    const ws = new WebSocket(/listening on (ws:\/\/\S+)/.exec(log)![1]!);
    ws.on('error', () => {});
    await once(ws, 'open');
    await new Promise((r) => setTimeout(r, 300)); // the command runs
    return { child, log: () => log, ws, end };
  } catch (error) {
    end();
    throw error;
  }
}

describe('serve --workers N: signals and dying workers', () => {
  it('a port already taken: no worker starts, no restart loop, exit 1', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      const r = await run([
        'serve',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--echo',
        '--workers',
        '2',
      ]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /before it was listening/);
      assert.match(r.stderr, /no worker is left/);
      assert.doesNotMatch(r.stderr, /starting another/);
    } finally {
      taken.close();
    }
  });

  for (const fixed of [true, false]) {
    it(`the only worker killed: another takes its place, on the same port (${fixed ? 'a fixed port' : '--port 0'})`, async () => {
      // With --port 0 the port dies with the last worker: the primary tells the next one the old port.
      const portArgs = fixed ? ['--port', String(await freePort())] : [];
      const server = await serveCli([
        '--host',
        '127.0.0.1',
        ...portArgs,
        '--workers',
        '1',
        '--echo',
      ]);
      try {
        const [worker] = childrenOf(server.child.pid!);
        assert.ok(worker !== undefined, 'one worker');
        process.kill(worker, 'SIGKILL');
        await until(() => /starting another/.test(server.log()), 'the restart');
        await until(
          () => (server.log().match(/listening on/g) ?? []).length === 2,
          'the new worker listening',
        );
        const urls = [...server.log().matchAll(/listening on (ws:\/\/\S+)/g)].map((m) => m[1]);
        assert.deepEqual(urls, [server.url, server.url], 'the same URL before and after');
        const ws = new WebSocket(server.url);
        await once(ws, 'open');
        ws.send('still here');
        const [data] = (await once(ws, 'message')) as [Buffer];
        assert.equal(data.toString(), 'still here');
        ws.close();
        await once(ws, 'close');
        assert.equal(await server.stop(), 0);
      } finally {
        await server.stop();
      }
    });
  }

  for (const [how, signal] of [
    ['SIGINT to the whole process group (a Ctrl-C)', 'SIGINT'],
    ['SIGHUP to the primary', 'SIGHUP'],
  ] as const) {
    it(`${how}: one clean drain, the --exec command gets its SIGTERM, exit 0`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'wsstream-workers-'));
      const marker = join(dir, 'term');
      const { child, log, ws, end } = await workersWithClient([
        '--exec',
        `trap 'echo term > ${marker}; exit 0' TERM; while :; do sleep 0.1; done`,
      ]);
      try {
        const closed = once(ws, 'close');
        const exited = once(child, 'close');
        if (signal === 'SIGINT') process.kill(-child.pid!, 'SIGINT');
        else child.kill('SIGHUP');
        const [code] = (await exited) as [number];
        assert.equal(code, 0, log());
        assert.equal(((await closed) as [number])[0], 1001);
        assert.doesNotMatch(log(), /interrupted/);
        assert.equal(readFileSync(marker, 'utf8'), 'term\n', 'the command got SIGTERM');
      } finally {
        end();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('serve --workers N: the primary killed', () => {
  it('SIGKILL to the primary alone: every worker drains (1001), the --exec command gets its SIGTERM, no worker is left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsstream-workers-'));
    const marker = join(dir, 'term');
    const { child, log, ws, end } = await workersWithClient([
      '--exec',
      `trap 'echo term > ${marker}; exit 0' TERM; while :; do sleep 0.1; done`,
    ]);
    try {
      const closed = once(ws, 'close');
      child.kill('SIGKILL');
      assert.equal(((await closed) as [number])[0], 1001, log());
      await until(() => existsSync(marker), 'the command ends');
      assert.equal(readFileSync(marker, 'utf8'), 'term\n', 'the command got SIGTERM');
      await until(() => !groupAlive(child.pid!), 'the workers exit');
      assert.match(log(), /the primary is gone/);
    } finally {
      end();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('a signal to a worker draining after its primary died ends it at once (as a second signal)', async () => {
    const { child, log, end } = await workersWithClient([
      '--kill-after',
      '20s',
      '--exec',
      "trap '' TERM; while :; do sleep 0.1; done",
    ]);
    try {
      child.kill('SIGKILL');
      await until(() => /the primary is gone/.test(log()), 'the drain');
      await new Promise((r) => setTimeout(r, 300));
      // The workers are still in the primary's process group.
      process.kill(-child.pid!, 'SIGTERM');
      await until(() => !groupAlive(child.pid!), 'the workers exit', 5000);
      assert.match(log(), /interrupted/);
    } finally {
      end();
    }
  });
});

describe('serve --workers N: a second signal', () => {
  it('to the primary alone ends the workers at once: the command that ignores SIGTERM gets SIGKILL, exit 130', async () => {
    const { child, log, end } = await workersWithClient([
      '--kill-after',
      '20s',
      '--exec',
      "trap '' TERM; while :; do sleep 0.1; done",
    ]);
    try {
      const exited = once(child, 'close');
      child.kill('SIGHUP');
      await until(() => /shutting down/.test(log()), 'the drain');
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGTERM');
      const [code] = (await exited) as [number];
      assert.equal(code, 130, log());
      assert.match(log(), /interrupted/);
    } finally {
      end();
    }
  });
});

describe('serve --redis / --redis-cluster / --workers: usage errors (exit 2)', () => {
  for (const [args, pattern] of [
    [['--echo', '--redis', 'redis://127.0.0.1:1'], /--redis applies to --broadcast/],
    [['--broadcast', '--redis', 'http://x'], /is not a redis:\/\/ or rediss:\/\/ URL/],
    [['--broadcast', '--redis', 'redis://h:99999'], /is not a redis:\/\/ or rediss:\/\/ URL/],
    [
      ['--broadcast', '--redis-cluster', 'redis://h:1,redis://h:99999'],
      /--redis-cluster: "redis:\/\/h:99999" is not a redis:\/\/ or rediss:\/\/ URL/,
    ],
    [
      ['--echo', '--redis-cluster', 'redis://127.0.0.1:1'],
      /--redis-cluster applies to --broadcast/,
    ],
    [
      ['--broadcast', '--redis-cluster', 'redis://127.0.0.1:1,127.0.0.1:2'],
      /--redis-cluster: "127.0.0.1:2" is not a redis:\/\/ or rediss:\/\/ URL/,
    ],
    [
      ['--broadcast', '--redis', 'redis://127.0.0.1:1', '--redis-cluster', 'redis://127.0.0.1:2'],
      /--redis and --redis-cluster exclude each other/,
    ],
    [['--broadcast', '--workers', '0'], /--workers: "0" is not a number from 1 to 256/],
    [['--broadcast', '--workers', '257'], /--workers: "257" is not a number from 1 to 256/],
  ] as const) {
    it(args.join(' '), async () => {
      const r = await run(['serve', '--port', '0', ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, pattern);
    });
  }
});
