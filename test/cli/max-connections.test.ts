/**
 * `--max-connections` of `serve` (every mode: over the limit a client is
 * answered 503) and of `connect --listen` (over the limit a local connection
 * is closed as soon as it is accepted): the open connections carry on, a
 * slot frees when one ends, and stderr says so once, then with a count.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { ensureBuilt, serveCli } from './helpers.js';
import { dial, listenCli, readAll, tcpTarget } from './tunnel-helpers.js';

before(() => ensureBuilt());

const LIMIT_LINE = /connection limit reached \((\d+) at once\)/g;

/** A `ws` client that opened. */
async function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.on('error', () => {});
  await once(ws, 'open');
  return ws;
}

/** A `ws` client that was refused: the status and body of the answer. */
function refused(url: string): Promise<{ status: number | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('error', () => {});
    ws.once('open', () => reject(new Error('opened over the limit')));
    ws.once('unexpected-response', (_request, response: IncomingMessage) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (c: string) => (body += c));
      response.on('end', () => resolve({ status: response.statusCode, body }));
    });
  });
}

/** Sends `data` and waits for the same bytes back (an echo through the server). */
async function echoes(ws: WebSocket, data: string): Promise<void> {
  ws.send(Buffer.from(data));
  const [reply] = (await once(ws, 'message')) as [Buffer];
  assert.equal(Buffer.from(reply).toString(), data);
}

async function closed(ws: WebSocket): Promise<void> {
  const done = once(ws, 'close');
  ws.close(1000);
  await done;
}

/** Retries `attempt` every 50 ms for up to 5 s (until the server saw a connection end). */
async function eventually<T>(attempt: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (i >= 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe('serve --max-connections', { timeout: 30_000 }, () => {
  it('--echo: over the limit 503; the others carry on; a slot frees; one line, then a count', async () => {
    const server = await serveCli(['--echo', '--max-connections', '2']);
    try {
      const a = await open(server.url);
      const b = await open(server.url);
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(await refused(server.url), {
          status: 503,
          body: 'Too many connections, try again later\n',
        });
      }
      await echoes(a, 'a is still served');
      await echoes(b, 'so is b');
      await closed(a);
      const c = await eventually(() => open(server.url));
      await echoes(c, 'c took the freed slot');
      await echoes(b, 'b did not notice');
      await eventually(async () => assert.match(server.log(), /connection limit reached/));
      assert.deepEqual(
        [...server.log().matchAll(LIMIT_LINE)].map((m) => m[1]),
        ['2'],
        `one line for three refusals: ${server.log()}`,
      );
      await closed(b);
      await closed(c);
    } finally {
      assert.equal(await server.stop(), 0);
    }
    assert.match(server.log(), /2 more connections refused at the limit of 2 \(3 in all\)/);
  });

  it('--exec: one process at a time with --max-connections 1', async () => {
    const server = await serveCli(['--exec', 'cat', '--max-connections', '1', '--quiet']);
    try {
      const a = await open(server.url);
      await echoes(a, 'through cat');
      assert.equal((await refused(server.url)).status, 503);
      await echoes(a, 'cat is still there');
      // --quiet hides the connection log, not the limit.
      await eventually(async () =>
        assert.match(server.log(), /connection limit reached \(1 at once\)/),
      );
      await closed(a);
      const b = await eventually(() => open(server.url));
      await echoes(b, 'a new cat');
      await closed(b);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  it('--broadcast and --forward: the limit holds in every mode', async () => {
    const target = await tcpTarget((socket) => socket.pipe(socket));
    try {
      for (const mode of [['--broadcast'], ['--forward', `tcp:127.0.0.1:${target.port}`]]) {
        const server = await serveCli([...mode, '--max-connections', '1', '--quiet']);
        try {
          const a = await open(server.url);
          assert.equal((await refused(server.url)).status, 503, mode[0]);
          if (mode[0] === '--forward') await echoes(a, 'the target echoes');
          await closed(a);
          const b = await eventually(() => open(server.url));
          await closed(b);
        } finally {
          assert.equal(await server.stop(), 0);
        }
      }
    } finally {
      await target.close();
    }
  });

  it('the default is 64', async () => {
    const server = await serveCli(['--echo', '--quiet']);
    const clients: WebSocket[] = [];
    try {
      for (let i = 0; i < 64; i++) clients.push(await open(server.url));
      assert.equal((await refused(server.url)).status, 503);
      await eventually(async () =>
        assert.match(server.log(), /connection limit reached \(64 at once\)/),
      );
      await echoes(clients[63]!, 'the 64th');
    } finally {
      for (const ws of clients) ws.terminate();
      assert.equal(await server.stop(), 0);
    }
  });
});

describe('connect --listen --max-connections', { timeout: 30_000 }, () => {
  // The far end: ws's server, echoing every message.
  let remote: WebSocketServer;
  let url: string;
  before(async () => {
    remote = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    remote.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
    await once(remote, 'listening');
    url = `ws://127.0.0.1:${(remote.address() as { port: number }).port}/`;
  });
  after(async () => {
    for (const ws of remote.clients) ws.terminate();
    await new Promise((resolve) => remote.close(resolve));
  });

  async function tunnelEchoes(socket: Socket, text: string): Promise<void> {
    socket.write(text);
    let got = '';
    while (got.length < text.length) {
      const [chunk] = (await once(socket, 'data')) as [Buffer];
      got += chunk.toString();
    }
    assert.equal(got, text);
  }

  it('over the limit the local connection is closed at once; the others carry on; a slot frees', async () => {
    const listener = await listenCli(url, ['--max-connections', '2']);
    try {
      const a = await dial(listener.port);
      const b = await dial(listener.port);
      await tunnelEchoes(a, 'a through the tunnel');
      await tunnelEchoes(b, 'b through the tunnel');
      for (let i = 0; i < 3; i++) {
        const over = await dial(listener.port);
        // A FIN before any byte: not queued, not reset.
        assert.equal((await readAll(over)).length, 0);
        over.destroy();
      }
      await tunnelEchoes(a, 'a is still served');
      await tunnelEchoes(b, 'so is b');
      a.end();
      await once(a, 'close');
      const c = await eventually(async () => {
        const socket = await dial(listener.port);
        socket.on('error', () => {});
        const ended = once(socket, 'end').then(() => {
          throw new Error('closed: no slot yet');
        });
        await Promise.race([tunnelEchoes(socket, 'c took the freed slot'), ended]);
        return socket;
      });
      await tunnelEchoes(b, 'b did not notice');
      await eventually(async () => assert.match(listener.log(), /connection limit reached/));
      assert.deepEqual(
        [...listener.log().matchAll(LIMIT_LINE)].map((m) => m[1]),
        ['2'],
        listener.log(),
      );
      b.destroy();
      c.destroy();
    } finally {
      assert.equal(await listener.stop(), 0, listener.log());
    }
    assert.match(listener.log(), /2 more connections refused at the limit of 2 \(3 in all\)/);
  });
});
