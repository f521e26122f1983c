/**
 * One options definition, one validation: the client, `upgrade()` and
 * `serve()` refuse the same bad values of the shared options with the same
 * errors, before anything is connected or answered.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { WebSocketStream } from '../../src/index.js';
import { reconnecting } from '../../src/reconnecting.js';
import { serve, upgrade } from '../../src/server.js';

const BAD: Array<[Record<string, unknown>, typeof TypeError | typeof RangeError, RegExp]> = [
  [{ maxMessageSize: -1 }, RangeError, /maxMessageSize/],
  [{ maxMessageSize: 1.5 }, RangeError, /maxMessageSize/],
  [{ maxMessageSize: '10' }, TypeError, /maxMessageSize/],
  [{ maxFragments: 0 }, RangeError, /maxFragments/],
  [{ fragmentSize: -5 }, RangeError, /fragmentSize/],
  [{ maxPendingPongs: NaN }, RangeError, /maxPendingPongs/],
  [{ closeTimeout: 0 }, RangeError, /closeTimeout/],
  [{ closeTimeout: Infinity }, RangeError, /closeTimeout/],
  [{ pingInterval: -1 }, RangeError, /pingInterval/],
  [{ pingTimeout: 0 }, RangeError, /pingTimeout/],
  [{ handshakeTimeout: -1 }, RangeError, /handshakeTimeout/],
  // Past 2^31 - 1 ms Node fires a timer at once: refused rather than ending every handshake.
  [{ handshakeTimeout: 2 ** 31 }, RangeError, /handshakeTimeout must be at most 2147483647/],
  [{ closeTimeout: 2 ** 31 }, RangeError, /closeTimeout must be at most/],
  [{ pingInterval: 3e9 }, RangeError, /pingInterval must be at most/],
  [{ handshakeTimeout: 'soon' }, TypeError, /handshakeTimeout/],
  [{ readableStrategy: 5 }, TypeError, /readableStrategy/],
  [{ writableStrategy: { size: 'big' } }, TypeError, /writableStrategy/],
  [{ batchWrites: 'yes' }, TypeError, /batchWrites/],
  [{ perMessageDeflate: 'yes' }, TypeError, /perMessageDeflate/],
  [{ perMessageDeflate: { serverMaxWindowBits: 16 } }, RangeError, /serverMaxWindowBits/],
  [{ perMessageDeflate: { clientMaxWindowBits: 7 } }, RangeError, /clientMaxWindowBits/],
];

/**
 * What upgrade() does with each of `cases` on a real 'upgrade' event: 'ok'
 * when it throws what `refuses` expects, else what it did.
 */
async function upgradeOutcomes(
  cases: Array<Record<string, unknown>>,
  refuses: (options: Record<string, unknown>, error: unknown) => boolean,
): Promise<string[]> {
  const seen: string[] = [];
  const http = createServer();
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    for (const options of cases) {
      try {
        upgrade(req, socket, head, options);
        seen.push(`accepted ${JSON.stringify(options)}`);
      } catch (e) {
        seen.push(refuses(options, e) ? 'ok' : String(e));
      }
    }
    socket.destroy();
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  const wss = new WebSocketStream(`ws://127.0.0.1:${port}/`);
  await wss.opened.catch(() => {});
  await new Promise((resolve) => http.close(resolve));
  return seen;
}

void describe('shared options', () => {
  void it('the client refuses each bad value at construction', () => {
    for (const [options, type, message] of BAD) {
      assert.throws(
        () => new WebSocketStream('ws://127.0.0.1:1/', options),
        (e: unknown) => e instanceof type && message.test(e.message),
        JSON.stringify(options),
      );
    }
  });

  void it('serve() refuses the same values with the same errors, listening on nothing', async () => {
    for (const [options, type, message] of BAD) {
      await assert.rejects(
        serve({ port: 0, ...options }, () => {}),
        (e: unknown) => e instanceof type && message.test(e.message),
        JSON.stringify(options),
      );
    }
  });

  void it('upgrade() refuses the same values with the same errors', async () => {
    const seen = await upgradeOutcomes(
      BAD.map(([options]) => options),
      (options, e) => {
        const [, type, message] = BAD.find(([o]) => o === options)!;
        return e instanceof type && message.test(e.message);
      },
    );
    assert.deepEqual(
      seen,
      BAD.map(() => 'ok'),
    );
  });
});

void describe('serve() and reconnecting() options of their own', () => {
  void it('shutdownTimeout: a number of milliseconds from 0 to 2^31 - 1', async () => {
    for (const [shutdownTimeout, type] of [
      [-1, RangeError],
      [2 ** 31, RangeError],
      [Infinity, RangeError],
      ['5s', TypeError],
    ] as const) {
      await assert.rejects(
        serve({ port: 0, shutdownTimeout: shutdownTimeout as number }, () => {}),
        (e: unknown) => e instanceof type && /shutdownTimeout/.test(e.message),
        String(shutdownTimeout),
      );
    }
    const server = await serve({ port: 0, host: '127.0.0.1', shutdownTimeout: 0 }, () => {});
    await server.close();
  });

  void it('reconnecting(): delays and maxAttempts are checked before any attempt', () => {
    for (const [options, message] of [
      [{ reconnectDelay: -1 }, /reconnectDelay/],
      [{ reconnectDelay: 0 }, /reconnectDelay must be a positive number of milliseconds, not 0/],
      [{ maxReconnectDelay: 0 }, /maxReconnectDelay must be a positive/],
      [{ maxReconnectDelay: 2 ** 31 }, /maxReconnectDelay must be at most/],
      [{ minUptime: -1 }, /minUptime must be a non-negative number of milliseconds, not -1/],
      [{ minUptime: Infinity }, /minUptime must be a non-negative/],
      [{ minUptime: 2 ** 31 }, /minUptime must be at most/],
      [{ maxAttempts: 0 }, /maxAttempts/],
      [{ maxAttempts: NaN }, /maxAttempts/],
      [{ maxAttempts: 1.5 }, /maxAttempts/],
    ] as const) {
      assert.throws(
        () => reconnecting('ws://127.0.0.1:1/', options),
        (e: unknown) => e instanceof RangeError && message.test(e.message),
        JSON.stringify(options),
      );
    }
    assert.throws(
      () => reconnecting('ws://127.0.0.1:1/', { minUptime: '5000' as unknown as number }),
      (e: unknown) =>
        e instanceof TypeError && /minUptime must be a number of milliseconds/.test(e.message),
    );
  });
});

void describe('a strategy that fails only when a connection opens', () => {
  void it("serve(): a highWaterMark getter that throws on its second read fails that connection, never the server's process", async () => {
    let reads = 0;
    const readableStrategy = {
      get highWaterMark(): number {
        if (++reads > 1) throw new Error('no more');
        return 1;
      },
    };
    const server = await serve({ port: 0, host: '127.0.0.1', readableStrategy }, () => {});
    try {
      const wss = new WebSocketStream(server.url);
      // The 101 went out before the session was made: the client sees the connection drop.
      await wss.opened.catch(() => {});
      const outcome = await wss.closed.then(
        (info) => info,
        (error: unknown) => error,
      );
      assert.equal((outcome as { closeCode?: number }).closeCode, 1006);
      // The server still answers.
      const next = new WebSocketStream(server.url);
      await next.opened.catch(() => {});
      next.close();
      await next.closed.catch(() => {});
      assert.ok(reads >= 2);
    } finally {
      await server.close();
    }
  });
});

void describe('perMessageDeflate is read once', () => {
  void it('serve(): its tuning is read when serve() is called (inherited members too); a change afterwards, even to a value serve() refuses, changes nothing', async () => {
    const perMessageDeflate: Record<string, unknown> = Object.create({ serverMaxWindowBits: 10 });
    const server = await serve({ port: 0, host: '127.0.0.1', perMessageDeflate }, async (c) => {
      await c.opened.catch(() => {});
      c.close();
    });
    try {
      perMessageDeflate.serverMaxWindowBits = 99;
      const wss = new WebSocketStream(server.url);
      const { extensions } = await wss.opened;
      assert.equal(
        extensions,
        'permessage-deflate; server_max_window_bits=10; client_max_window_bits=12',
      );
      await wss.closed;
    } finally {
      await server.close();
    }
  });

  void it('the client: its offer is the tuning read at construction', async () => {
    let offer: string | undefined;
    const http = createServer();
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      offer = req.headers['sec-websocket-extensions'];
      const c = upgrade(req, socket, head);
      c.opened.then(() => c.close()).catch(() => {});
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = http.address() as AddressInfo;
      const perMessageDeflate: Record<string, unknown> = { clientNoContextTakeover: true };
      const wss = new WebSocketStream(`ws://127.0.0.1:${port}/`, { perMessageDeflate });
      perMessageDeflate.clientNoContextTakeover = false;
      perMessageDeflate.serverMaxWindowBits = 99;
      await wss.opened;
      await wss.closed;
      assert.equal(offer, 'permessage-deflate; client_no_context_takeover; client_max_window_bits');
    } finally {
      await new Promise((resolve) => http.close(resolve));
    }
  });
});

void describe('the handshake options of serve() and upgrade()', { timeout: 10_000 }, () => {
  const BAD_HANDSHAKE: Array<[Record<string, unknown>, RegExp]> = [
    // A string would be searched as a substring: "https://good.ex" would pass.
    [
      { allowOrigins: 'https://good.example' },
      /allowOrigins must be an array of strings, not string/,
    ],
    [{ allowOrigins: null }, /allowOrigins must be an array of strings, not null/],
    [
      { allowOrigins: ['https://good.example', 1] },
      /allowOrigins must be an array of strings; it holds a number/,
    ],
    [{ protocols: 'chat' }, /protocols must be an array of strings, not string/],
    [{ authenticate: 'yes' }, /authenticate must be a function/],
    [{ selectProtocol: {} }, /selectProtocol must be a function/],
  ];

  void it('serve() refuses a list that is not an array of strings, and a hook that is not a function, with TypeError', async () => {
    for (const [options, message] of BAD_HANDSHAKE) {
      await assert.rejects(
        serve({ port: 0, ...options }, () => {}),
        (e: unknown) => e instanceof TypeError && message.test(e.message),
        JSON.stringify(options),
      );
    }
  });

  void it('upgrade() refuses the same with the same errors', async () => {
    const seen = await upgradeOutcomes(
      BAD_HANDSHAKE.map(([options]) => options),
      (options, e) =>
        e instanceof TypeError && BAD_HANDSHAKE.find(([o]) => o === options)![1].test(e.message),
    );
    assert.deepEqual(
      seen,
      BAD_HANDSHAKE.map(() => 'ok'),
    );
  });

  void it('a protocol that is not an HTTP token is a SyntaxError, as in the client: it could never be selected', async () => {
    const isSyntaxError = (e: unknown): boolean =>
      e instanceof DOMException && e.name === 'SyntaxError' && /"a b"/.test(e.message);
    await assert.rejects(
      serve({ port: 0, protocols: ['chat', 'a b'] }, () => {}),
      isSyntaxError,
    );
    const seen = await upgradeOutcomes([{ protocols: ['a b'] }], (_, e) => isSyntaxError(e));
    assert.deepEqual(seen, ['ok']);
  });

  void it('allowOrigins as any iterable of strings (a Set) is copied when serve() is called, and checked exactly', async () => {
    const allowOrigins = new Set(['https://good.example']);
    // Typed as an array; any iterable is taken.
    const options = { port: 0, host: '127.0.0.1', allowOrigins: allowOrigins as never };
    const server = await serve(options, async (c) => {
      await c.opened.catch(() => {});
      c.close();
    });
    try {
      allowOrigins.add('https://evil.example');
      const statusFor = (origin: string): Promise<number> =>
        new Promise((resolve) => {
          const ws = new WebSocket(server.url, { origin });
          ws.on('error', () => {});
          ws.on('open', () => {
            ws.close();
            resolve(101);
          });
          ws.on('unexpected-response', (_req, res) => {
            resolve(res.statusCode ?? 0);
            ws.terminate();
          });
        });
      assert.equal(await statusFor('https://good.example'), 101);
      assert.equal(await statusFor('https://good.ex'), 403);
      assert.equal(await statusFor('https://evil.example'), 403);
    } finally {
      await server.close();
    }
  });
});
