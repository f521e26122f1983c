/**
 * `serve --exec`: how long a command may outlive its connection. Its slot of
 * `--max-connections` is held until the command has exited, and a command
 * that ignores SIGTERM gets SIGKILL `--kill-after` later, after its client
 * left and when `wsstream` itself is stopped. Real processes: the command is
 * a shell that traps SIGTERM, tells stderr, and carries on.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { ensureBuilt, type Running, serveCli } from './helpers.js';

before(() => ensureBuilt());

/** Prints its pid, then runs until SIGKILL: SIGTERM only writes a line to stderr. */
const STUBBORN = `trap 'echo "$$ ignores SIGTERM" >&2' TERM; echo $$; while :; do sleep 0.05; done`;
const KILL_AFTER_MS = 1000;

/** Pids of the commands started, killed at the end whatever happened. */
const started: number[] = [];
function killLeft(): void {
  for (const pid of started) {
    // Their process groups: the shell and its sleep.
    if (alive(pid)) process.kill(-pid, 'SIGKILL');
  }
}
after(killLeft);

/** Whether `pid` still runs: a zombie (killed, not yet reaped by whoever inherited it) does not. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // The state follows the command name, which is in parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** `serve --exec STUBBORN` with the tests' short `--kill-after`, and `extra` flags. */
function serveStubborn(extra: string[] = []): ReturnType<typeof serveCli> {
  return serveCli(['--exec', STUBBORN, '--kill-after', `${KILL_AFTER_MS}ms`, '--quiet', ...extra]);
}

/** A `ws` client that opened, and the pid its command printed. */
async function openStubborn(url: string): Promise<{ ws: WebSocket; pid: number }> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.on('error', () => {});
  const [data] = (await once(ws, 'message')) as [Buffer];
  const pid = Number(Buffer.from(data).toString().trim());
  assert.ok(Number.isSafeInteger(pid) && pid > 1, `a pid: ${String(data)}`);
  started.push(pid);
  return { ws, pid };
}

/**
 * The status a `ws` client gets: 101 if it opened (it is closed again once
 * its command told its pid), else the refusal's.
 */
function answer(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on('error', () => {});
    ws.once('message', (data: Buffer) => {
      started.push(Number(Buffer.from(data).toString().trim()));
      ws.terminate();
      resolve(101);
    });
    ws.once('unexpected-response', (_request, response: IncomingMessage) => {
      response.destroy();
      resolve(response.statusCode);
    });
  });
}

async function closed(ws: WebSocket): Promise<void> {
  const done = once(ws, 'close');
  ws.close(1000);
  await done;
}

/** Polls every 20 ms until the log of `server` matches `pattern`. */
async function logged(server: Running, pattern: RegExp, withinMs: number): Promise<void> {
  const start = performance.now();
  while (!pattern.test(server.log())) {
    assert.ok(performance.now() - start < withinMs, `no ${pattern} in ${server.log()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Polls every 20 ms until `pid` is gone; resolves with the milliseconds waited. */
async function gone(pid: number, withinMs: number): Promise<number> {
  const start = performance.now();
  while (alive(pid)) {
    assert.ok(performance.now() - start < withinMs, `${pid} still runs after ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return performance.now() - start;
}

describe('serve --exec: a command that outlives its connection', { timeout: 30_000 }, () => {
  it('holds its slot until it exited; SIGTERM is followed by SIGKILL', async () => {
    const server = await serveStubborn(['--max-connections', '1']);
    try {
      const { ws, pid } = await openStubborn(server.url);
      await closed(ws);
      // The connection is gone, its command is not: no slot for a second client.
      assert.ok(alive(pid));
      assert.equal(await answer(server.url), 503);
      await logged(server, /connection limit reached \(1 at once\)/, 2000);
      // 2 s after the close: SIGTERM, which it ignores; still no slot.
      await logged(server, new RegExp(`${pid} ignores SIGTERM`), 5000);
      assert.ok(alive(pid), 'SIGTERM did not end it');
      assert.equal(await answer(server.url), 503);
      // --kill-after later: SIGKILL to the process group, and the slot frees.
      const waited = await gone(pid, KILL_AFTER_MS + 4000);
      assert.ok(waited > KILL_AFTER_MS / 2, `killed ${Math.round(waited)} ms after SIGTERM`);
      await logged(
        server,
        new RegExp(
          `command \\(pid ${pid}\\) still runs ${KILL_AFTER_MS} ms after SIGTERM: SIGKILL`,
        ),
        2000,
      );
      let status = await answer(server.url);
      for (let i = 0; i < 50 && status !== 101; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        status = await answer(server.url);
      }
      assert.equal(status, 101, 'the slot freed once the command was killed');
    } finally {
      // A command left over would hold wsstream's stderr open: its 'close' would never come.
      killLeft();
      assert.equal(await server.stop(), 0);
    }
  });

  it('stopping wsstream stops every command, SIGKILL included, before it exits', async () => {
    const server = await serveStubborn();
    // One still connected, one whose client already left (in its grace).
    const a = await openStubborn(server.url);
    const b = await openStubborn(server.url);
    await closed(b.ws);
    const start = performance.now();
    // 'exit', not 'close': a command that outlived wsstream would keep its stderr open.
    const exited = once(server.child, 'exit') as Promise<[number | null]>;
    server.child.kill('SIGINT');
    const [code] = await exited;
    const took = performance.now() - start;
    assert.equal(code, 0);
    assert.ok(!alive(a.pid) && !alive(b.pid), 'no command outlives wsstream');
    for (const pid of [a.pid, b.pid]) {
      assert.match(server.log(), new RegExp(`${pid} ignores SIGTERM`), 'SIGTERM came first');
      assert.match(server.log(), new RegExp(`pid ${pid}\\) still runs .*: SIGKILL`));
    }
    // The server's shutdown (5 s at most, here the time for a 1001) + --kill-after + a margin.
    assert.ok(took < 5000 + KILL_AFTER_MS + 2000, `shutdown took ${Math.round(took)} ms`);
  });

  it('a second SIGINT during the shutdown kills every command at once and exits 130', async () => {
    // --kill-after 60s: without the second signal, the shutdown would wait a minute.
    const server = await serveCli(['--exec', STUBBORN, '--kill-after', '60s']);
    const a = await openStubborn(server.url);
    const exited = once(server.child, 'exit') as Promise<[number | null, string | null]>;
    server.child.kill('SIGINT');
    // The first signal is taken: the command got its SIGTERM (and ignores it).
    for (let i = 0; i < 200 && !server.log().includes(`${a.pid} ignores SIGTERM`); i++)
      await new Promise((resolve) => setTimeout(resolve, 25));
    assert.match(server.log(), new RegExp(`${a.pid} ignores SIGTERM`));
    server.child.kill('SIGINT');
    const [code, signal] = await exited;
    assert.deepEqual([code, signal], [130, null], server.log());
    assert.match(server.log(), /interrupted/);
    for (let i = 0; i < 40 && alive(a.pid); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(!alive(a.pid), 'no command outlives wsstream');
  });

  it('SIGHUP (a closed terminal) shuts down as SIGTERM does: 1001, every command stopped, exit 0', async () => {
    const server = await serveStubborn();
    const a = await openStubborn(server.url);
    const closing = new Promise<number>((resolve) => a.ws.once('close', resolve));
    const exited = once(server.child, 'exit') as Promise<[number | null, string | null]>;
    server.child.kill('SIGHUP');
    const [code, signal] = await exited;
    assert.deepEqual([code, signal], [0, null], server.log());
    assert.equal(await closing, 1001);
    assert.ok(!alive(a.pid), 'no command outlives wsstream');
  });
});
