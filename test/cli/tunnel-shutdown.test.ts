/**
 * How a forwarding server ends its tunnels when it shuts down: it waits for
 * each target's socket to finish (every message received written, then a
 * FIN), and a tunnel that had to drop messages (more than the 1 MiB held
 * after our Close, while its target was not reading) resets its target
 * instead, so that a stream cut short never looks like a whole one.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { after, before, it } from 'node:test';
import { WebSocket as WsClient } from 'ws';
import { serve, type WebSocketConnection, type WebSocketServer } from '../../src/server.js';
import { connectEndpoint } from '../../src/cli/endpoint.js';
import { Tunnel } from '../../src/cli/tunnel.js';
import { ensureBuilt, serveCli } from './helpers.js';
import { KiB, MiB, sleep, tcpTarget } from './tunnel-helpers.js';

let targetBehaviour: (s: Socket) => void = () => {};
let target: Awaited<ReturnType<typeof tcpTarget>>;

interface Forwarded {
  connection: WebSocketConnection;
  tunnel: Tunnel;
  /** How many times its target's socket was reset. */
  resets(): number;
}

/** serve() with a Tunnel to the target per connection, as `serve --forward` runs it. */
async function forwarder(): Promise<{ server: WebSocketServer; opened: Forwarded[] }> {
  const opened: Forwarded[] = [];
  const server = await serve({ host: '127.0.0.1', port: 0, perMessageDeflate: false }, (c) => {
    const socket = connectEndpoint({ kind: 'tcp', host: '127.0.0.1', port: target.port });
    let resets = 0;
    const resetAndDestroy = socket.resetAndDestroy.bind(socket);
    socket.resetAndDestroy = () => {
      resets++;
      return resetAndDestroy();
    };
    const tunnel = new Tunnel(socket, c, { name: 'target' });
    opened.push({ connection: c, tunnel, resets: () => resets });
    return tunnel.done;
  });
  return { server, opened };
}

before(async () => {
  ensureBuilt();
  // allowHalfOpen: a target answers our FIN with its own when it chooses to.
  target = await tcpTarget((s) => targetBehaviour(s), { allowHalfOpen: true });
});
after(async () => {
  await target.close();
});

it('closed by us while more than 1 MiB still comes to a target that does not read: messages are dropped, and the target gets an RST, not a FIN', async () => {
  // This target does not read: what reaches it piles up in kernel buffers, then in ours.
  targetBehaviour = (s) => s.pause();
  const { server, opened } = await forwarder();
  const client = new WsClient(server.url, { perMessageDeflate: false });
  client.on('error', () => {});
  await once(client, 'open');
  const chunk = randomBytes(64 * KiB);
  for (let i = 0; i < 256; i++) client.send(chunk); // 16 MiB
  await sleep(300);
  const { connection, tunnel } = opened[0]!;
  const resets = (): number => opened[0]!.resets();
  // The shutdown: 1001 to every connection.
  await server.close();
  await tunnel.done;
  const { closeCode } = await connection.closed;
  assert.equal(closeCode, 1001);
  assert.ok(connection.stats.messagesDiscarded > 0, 'messages were dropped');
  assert.equal(resets(), 1, 'the target was reset');
});

it('closed by us with nothing dropped: the target gets every byte, then a FIN', async () => {
  let received = 0;
  const ended = new Promise<string>((resolve) => {
    targetBehaviour = (s) => {
      s.on('data', (d: Buffer) => (received += d.length));
      s.once('end', () => {
        resolve('end');
        s.end();
      });
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    };
  });
  const { server, opened } = await forwarder();
  const client = new WsClient(server.url, { perMessageDeflate: false });
  await once(client, 'open');
  for (let i = 0; i < 16; i++) client.send(randomBytes(64 * KiB));
  await new Promise<void>((resolve) => client.send('', () => resolve()));
  await sleep(100);
  const { connection, tunnel } = opened[0]!;
  const resets = (): number => opened[0]!.resets();
  await server.close();
  await tunnel.done;
  assert.equal(await ended, 'end');
  assert.equal(received, 1 * MiB);
  assert.equal(connection.stats.messagesDiscarded, 0);
  assert.equal(resets(), 0);
});

it('serve --forward exits on SIGTERM only once its targets have closed their sockets', async () => {
  let targetClosedAt = 0;
  let received = '';
  targetBehaviour = (s) => {
    s.on('data', (d: Buffer) => (received += d.toString()));
    // Our FIN comes at the shutdown; this target takes its time to answer with its own.
    s.once('end', () => {
      setTimeout(() => {
        targetClosedAt = performance.now();
        s.end();
      }, 700);
    });
  };
  const server = await serveCli(['--forward', `tcp:127.0.0.1:${target.port}`, '--quiet']);
  const client = new WsClient(server.url, { perMessageDeflate: false });
  client.on('error', () => {});
  await once(client, 'open');
  client.send('hello');
  for (let i = 0; i < 200 && received !== 'hello'; i++) await sleep(10);
  assert.equal(received, 'hello');
  const exited = once(server.child, 'close');
  server.child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  const exitedAt = performance.now();
  assert.equal(code, 0, server.log());
  assert.ok(targetClosedAt > 0, 'the target closed before serve exited');
  assert.ok(exitedAt >= targetClosedAt);
});
