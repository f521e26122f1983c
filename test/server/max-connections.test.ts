/**
 * serve()'s `maxConnections`: an upgrade over the limit is answered 503
 * before any handshake work, the open connections carry on, a slot frees
 * when a connection closes (and its handler's promise settled), and
 * connections still in their handshake count.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { serve, type WebSocketServer } from '../../src/server.js';
import { withoutUnhandledRejections } from '../unhandled.js';
import { exchange, upgradeRequest, upgradeStatus, wsClosed, wsMessage, wsOpen } from './helpers.js';

async function echoServer(
  maxConnections: number,
  onConnectionRefused?: (request: IncomingMessage) => void,
): Promise<WebSocketServer> {
  return serve(
    { host: '127.0.0.1', maxConnections, ...(onConnectionRefused ? { onConnectionRefused } : {}) },
    async (connection) => {
      const { readable, writable } = await connection.opened;
      await readable.pipeTo(writable);
    },
  );
}

async function echoes(ws: WebSocket, text: string): Promise<void> {
  ws.send(text);
  assert.equal((await wsMessage(ws)).data.toString(), text);
}

/** `server` closed its one connection with 1011 and goes on: the slot is free and a new client opens. */
async function failedWith1011AndGoesOn(server: WebSocketServer): Promise<void> {
  const a = await wsOpen(server.url);
  assert.equal((await wsClosed(a)).code, 1011);
  await until(() => server.connections.size === 0);
  const b = await wsOpen(server.url);
  b.close(1000);
  await wsClosed(b);
}

/** Polls `condition` every 10 ms for up to 5 s. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), 'condition not met within 5 s');
}

describe('serve({ maxConnections })', { timeout: 15_000 }, () => {
  test('over the limit: 503 with a text body; the open ones carry on; a slot frees on close', async () => {
    const refused: Array<string | undefined> = [];
    const server = await echoServer(2, (request) => refused.push(request.url));
    try {
      const a = await wsOpen(server.url);
      const b = await wsOpen(server.url);
      const port = server.address.port;
      const answer = await exchange(port, upgradeRequest(port, [], '/third'));
      assert.equal(answer.status, 503);
      assert.equal(answer.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(answer.body, 'Too many connections, try again later\n');
      assert.deepEqual(refused, ['/third']);
      // The `ws` client sees the refusal as an unexpected response.
      const c = new WebSocket(server.url);
      const response = await new Promise<IncomingMessage>((resolve) =>
        c.once('unexpected-response', (_request, res) => resolve(res)),
      );
      assert.equal(response.statusCode, 503);
      c.on('error', () => {});
      response.destroy();
      assert.equal(refused.length, 2);
      await echoes(a, 'still here');
      await echoes(b, 'me too');
      assert.equal(server.connections.size, 2);

      a.close(1000);
      await wsClosed(a);
      await until(() => server.connections.size === 1);
      const d = await wsOpen(server.url);
      await echoes(d, 'a freed slot');
      await echoes(b, 'and the other one');
      assert.equal(refused.length, 2);
    } finally {
      await server.close();
    }
  });

  test('connections still in their opening handshake count', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    const server = await serve(
      {
        host: '127.0.0.1',
        maxConnections: 1,
        authenticate: async () => {
          calls++;
          await held;
          return true;
        },
      },
      () => {},
    );
    try {
      const first = new WebSocket(server.url);
      const opened = new Promise((resolve, reject) => {
        first.once('open', resolve);
        first.once('error', reject);
      });
      await until(() => calls === 1);
      const port = server.address.port;
      assert.equal((await exchange(port, upgradeRequest(port))).status, 503);
      assert.equal(calls, 1, 'the refused request never reached authenticate');
      release();
      await opened;
      first.close();
    } finally {
      await server.close();
    }
  });

  test("a handler's promise holds the slot after the close, until it settles", async () => {
    let finish!: (value: unknown) => void;
    const work = new Promise((resolve) => (finish = resolve));
    let opened = 0;
    const server = await serve({ host: '127.0.0.1', maxConnections: 1 }, async (connection) => {
      opened++;
      // Work that goes on after the close (a child process yet to exit).
      await connection.closed.catch(() => {});
      if (opened === 1) await work;
    });
    try {
      const a = await wsOpen(server.url);
      a.close(1000);
      await wsClosed(a);
      await until(() => server.connections.size === 0);
      assert.equal(await upgradeStatus(server.url), 503);
      finish(undefined);
      const b = await wsOpen(server.url);
      b.close(1000);
      await wsClosed(b);
      // A handler that returns nothing, or settles with the close, frees at once.
      await until(() => server.connections.size === 0);
      const c = await wsOpen(server.url);
      c.close(1000);
      await wsClosed(c);
    } finally {
      await server.close();
    }
  });

  /** With `hook` as onConnectionRefused: three refusals answer 503, the open connection still echoes. */
  async function refusalsUnharmed(hook: () => void): Promise<void> {
    const server = await echoServer(1, hook);
    try {
      const a = await wsOpen(server.url);
      const port = server.address.port;
      for (let i = 0; i < 3; i++) {
        assert.equal((await exchange(port, upgradeRequest(port))).status, 503);
      }
      await echoes(a, 'unharmed');
    } finally {
      await server.close();
    }
  }

  test('a hook that throws changes nothing', async () => {
    await refusalsUnharmed(() => {
      throw new Error('hook failure');
    });
  });

  test('an async hook that rejects changes nothing either (no unhandled rejection)', async () => {
    await withoutUnhandledRejections(async () => {
      // An async logger, as users write it: TypeScript accepts it for a void hook.
      // eslint-disable-next-line @typescript-eslint/no-misused-promises
      await refusalsUnharmed(async () => {
        await Promise.resolve();
        throw new Error('logging backend down');
      });
    });
  });

  test("a handler's thenable that rejects closes its connection with 1011, as a promise does", async () => {
    const server = await serve({ host: '127.0.0.1', maxConnections: 1 }, (connection) => {
      // Not a native promise: any object with a then() method.
      return {
        then(_resolve: () => void, reject: (error: Error) => void) {
          void connection.opened.then(() => reject(new Error('handler failed')));
        },
      } as unknown as Promise<void>;
    });
    try {
      await failedWith1011AndGoesOn(server);
    } finally {
      await server.close();
    }
  });

  test(
    "a handler's promise whose constructor getter throws closes its connection with 1011, and the server goes on",
    { timeout: 10_000 },
    async () => {
      const server = await serve({ host: '127.0.0.1', maxConnections: 1 }, () => {
        const promise = new Promise<void>(() => {});
        void Object.defineProperty(promise, 'constructor', {
          get() {
            throw new Error('constructor getter');
          },
        });
        return promise;
      });
      try {
        await failedWith1011AndGoesOn(server);
      } finally {
        await server.close();
      }
    },
  );

  test('a value that is not a positive integer or Infinity is refused', async () => {
    for (const bad of [0, -1, 1.5, NaN, '3']) {
      await assert.rejects(
        echoServer(bad as number),
        (error: Error) =>
          error instanceof RangeError &&
          /maxConnections must be a positive integer/.test(error.message),
      );
    }
    await assert.rejects(
      serve({ onConnectionRefused: 'log' as never }, () => {}),
      /onConnectionRefused must be a function/,
    );
    const unlimited = await echoServer(Infinity);
    await unlimited.close();
  });
});
