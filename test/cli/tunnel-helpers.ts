/**
 * Helpers for the tunnel tests: a TCP target in the test process, the
 * `connect --listen` side as a child process, and byte streams that are
 * hashed as they go.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import assert from 'node:assert/strict';
import { serveCli, startRunning, type Running, type Served } from './helpers.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;

/**
 * A TCP server on 127.0.0.1 whose connections are handed to `handler`.
 * `allowHalfOpen`: its sockets answer a FIN only when the handler ends them.
 */
export async function tcpTarget(
  handler: (socket: Socket) => void,
  options: { allowHalfOpen?: boolean } = {},
): Promise<{ port: number; server: Server; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: options.allowHalfOpen ?? false }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    handler(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    server,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const t = await tcpTarget(() => {});
  await t.close();
  return t.port;
}

/** A running `wsstream connect URL --listen tcp:127.0.0.1:0 ...`. */
export interface Listener extends Running {
  port: number;
}

export async function listenCli(url: string, args: string[] = []): Promise<Listener> {
  const { match, ...running } = await startRunning(
    ['connect', url, '--listen', 'tcp:127.0.0.1:0', ...args],
    /listening on tcp:127\.0\.0\.1:(\d+)/,
  );
  return { port: Number(match[1]), ...running };
}

/**
 * Both ends of a tunnel as child processes: `serve --forward` to a TCP
 * target on `targetPort`, and `connect --listen` through it (both quiet).
 * `stop()` stops both and asserts that each exited 0 (its log otherwise).
 */
export async function forwardPair(
  targetPort: number,
): Promise<{ server: Served; listener: Listener; stop(): Promise<void> }> {
  const server = await serveCli(['--forward', `tcp:127.0.0.1:${targetPort}`, '--quiet']);
  const listener = await listenCli(server.url);
  return {
    server,
    listener,
    async stop() {
      assert.equal(await listener.stop(), 0, listener.log());
      assert.equal(await server.stop(), 0, server.log());
    },
  };
}

/** A connection to 127.0.0.1:`port`, once connected. */
export async function dial(port: number): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  return socket;
}

/** Everything `socket` sends until its end (rejects on a reset or other error). */
export function readAll(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve, reject) => {
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

/** How a socket ended: `end` (a FIN) or the error's code (ECONNRESET for an RST). */
export function howItEnds(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    socket.once('end', () => resolve('end'));
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

/**
 * Sends `total` random bytes to `socket` in 64 KiB chunks, honouring
 * `write()`'s false; resolves with their SHA-256 once all were handed over.
 */
export async function sendRandom(socket: Socket, total: number): Promise<string> {
  const hash = createHash('sha256');
  for (let sent = 0; sent < total;) {
    const chunk = randomBytes(Math.min(64 * KiB, total - sent));
    hash.update(chunk);
    sent += chunk.length;
    if (!socket.write(chunk)) await once(socket, 'drain');
  }
  return hash.digest('hex');
}

/** Hashes what `socket` sends; resolves with the SHA-256 once `total` bytes came. */
export function receiveHashed(socket: Socket, total: number): Promise<string> {
  const hash = createHash('sha256');
  let received = 0;
  return new Promise((resolve, reject) => {
    const onData = (c: Buffer): void => {
      hash.update(c);
      received += c.length;
      if (received > total) reject(new Error(`received ${received} bytes, more than ${total}`));
      else if (received === total) {
        socket.off('data', onData);
        resolve(hash.digest('hex'));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('end', () => {
      if (received < total) reject(new Error(`ended after ${received} of ${total} bytes`));
    });
  });
}

/** The largest socket buffer the kernel may give one direction of a TCP connection. */
export function kernelMax(name: 'tcp_wmem' | 'tcp_rmem'): number {
  try {
    const fields = readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/);
    return Number(fields[2]);
  } catch {
    return 8 * MiB; // not Linux: a generous guess
  }
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));
