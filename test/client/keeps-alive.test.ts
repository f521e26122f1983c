/**
 * An open connection keeps the process alive also while backpressure has
 * paused its socket (a paused socket's handle alone does not): a program that
 * awaits `closed` without reading must not exit with the connection open, and
 * once the connection is closed nothing of ours holds the process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  acceptFor,
  headerOf,
  readRequestHead,
  serverFrame,
  startRawServer,
  type RawFixture,
} from './helpers.js';

const entry = pathToFileURL(join(import.meta.dirname, '../../src/index.ts')).href;
let server: RawFixture;
const scripts: string[] = [];

before(async () => {
  // Answers the handshake and sends more messages than the readable's
  // high-water mark (1), so the client's socket is paused: on /together in
  // the same write as the 101 (the socket is then never resumed at all), on
  // /later 50 ms after it.
  server = await startRawServer((socket) => {
    void readRequestHead(socket).then(({ head }) => {
      const response = Buffer.from(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${acceptFor(headerOf(head, 'sec-websocket-key') ?? '')}\r\n\r\n`,
        'latin1',
      );
      const frames = Buffer.concat(
        [0, 1, 2, 3].map((i) => serverFrame(0x1, Buffer.from(`message ${i}`))),
      );
      if (head.startsWith('GET /together ')) socket.write(Buffer.concat([response, frames]));
      else {
        socket.write(response);
        setTimeout(() => socket.write(frames), 50);
      }
      // The client sends nothing but its Close: answered with a Close, then FIN.
      socket.once('data', () => socket.end(serverFrame(0x8))).resume();
    });
  });
});
after(async () => {
  await server.close();
  for (const script of scripts) rmSync(script, { force: true });
});

/** Runs `lines` (after a connection to the server's `path` opened, as `wss`) in a child process. */
function child(
  path: string,
  lines: string[],
): {
  output: () => string;
  exit: () => number | null | undefined;
  kill: () => Promise<void>;
} {
  const script = join(tmpdir(), `wsstream-keeps-alive-${process.pid}-${scripts.length}.mts`);
  scripts.push(script);
  writeFileSync(
    script,
    [
      `import { WebSocketStream } from ${JSON.stringify(entry)};`,
      `const wss = new WebSocketStream('ws://127.0.0.1:${server.port}${path}');`,
      `await wss.opened;`,
      `console.log('open');`,
      ...lines,
    ].join('\n'),
  );
  const proc = spawn(process.execPath, ['--import', 'tsx', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  let code: number | null | undefined;
  const exited = once(proc, 'exit').then(([c]) => (code = c as number | null));
  return {
    output: () => out,
    exit: () => code,
    kill: async () => {
      proc.kill();
      await exited;
    },
  };
}

async function until(test: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

void describe('the process lifetime', () => {
  for (const path of ['/together', '/later']) {
    void it(`a connection paused by backpressure keeps the process alive (${path})`, async () => {
      const c = child(path, [`await wss.closed;`, `console.log('closed');`]);
      try {
        await until(() => c.output().includes('open') || c.exit() !== undefined, 20_000);
        assert.ok(c.output().includes('open'), `opened (exit ${c.exit()}, output ${c.output()})`);
        // Paused, awaiting `closed` with nothing else to do: still running a while later.
        await new Promise((r) => setTimeout(r, 1_000));
        assert.equal(c.exit(), undefined, `exited with ${c.exit()} while its connection was open`);
      } finally {
        await c.kill();
      }
    });
  }

  void it('once the paused connection is closed, the process exits by itself', async () => {
    const c = child('/later', [
      // Long enough for the unread messages to pause the socket.
      `await new Promise((r) => setTimeout(r, 300));`,
      `wss.close();`,
      `console.log(JSON.stringify(await wss.closed));`,
    ]);
    try {
      await until(() => c.exit() !== undefined, 20_000);
      assert.equal(c.exit(), 0, `output ${c.output()}`);
      assert.match(c.output(), /"closeCode":1005/);
    } finally {
      if (c.exit() === undefined) await c.kill();
    }
  });
});
