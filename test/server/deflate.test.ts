/**
 * permessage-deflate on the server: the `ws` client (a peer we did not write,
 * which offers compression by default) against serve(); the first acceptable
 * offer of several; RSV1 only where RFC 7692 allows it; and a deflate bomb.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { constants, deflateRawSync } from 'node:zlib';
import WebSocket from 'ws';
import { serve, type ServeOptions, type WebSocketServer } from '../../src/server.js';
import {
  clientFrame,
  closePayload,
  rawClient,
  readClose,
  wsMessage,
  wsOpen,
  type RawClient,
} from './helpers.js';

function echoServer(
  options: ServeOptions = {},
): Promise<{ server: WebSocketServer; agreed: string[] }> {
  const agreed: string[] = [];
  return serve({ host: '127.0.0.1', ...options }, async (connection) => {
    const { readable, writable, extensions } = await connection.opened;
    agreed.push(extensions);
    await readable.pipeTo(writable).catch(() => {});
  }).then((server) => ({ server, agreed }));
}

function json(i: number, size: number): string {
  let s = '';
  for (let k = 0; s.length < size; k++)
    s += JSON.stringify({ id: i, k, name: `item-${(i * 31 + k) % 1000}`, ok: k % 3 === 0 });
  return s.slice(0, size);
}

/** Raw DEFLATE of `data` as RFC 7692 sends it (sync flush, tail removed). */
function compress(data: Uint8Array | string): Buffer {
  const out = deflateRawSync(typeof data === 'string' ? Buffer.from(data) : data, {
    finishFlush: constants.Z_SYNC_FLUSH,
  });
  return out.subarray(0, out.length - 4);
}

/** A client frame with RSV1 set. */
function rsv1Frame(opcode: number, payload: Uint8Array, fin = true): Buffer {
  const frame = clientFrame(opcode, payload, { fin });
  frame[0]! |= 0x40;
  return frame;
}

async function closeCodeOf(client: RawClient): Promise<number> {
  for (;;) {
    const frame = await client.nextFrame();
    if (frame.opcode === 0x8) return readClose(frame.payload).code;
  }
}

void describe('server permessage-deflate', { timeout: 60_000 }, () => {
  let fixture: { server: WebSocketServer; agreed: string[] };
  let url: string;
  let port: number;
  before(async () => {
    fixture = await echoServer({ maxMessageSize: 8 * 1024 * 1024 });
    port = fixture.server.address.port;
    url = `ws://127.0.0.1:${port}/`;
  });
  after(async () => {
    await fixture.server.close();
  });

  test('ws client: agreed on both ends, 300 messages echo intact and compressed both ways', async () => {
    const ws = await wsOpen(url);
    assert.equal(ws.extensions, 'permessage-deflate');
    assert.equal(
      fixture.agreed.at(-1),
      'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12',
    );
    let bytes = 0;
    for (let i = 0; i < 300; i++) {
      const text = json(i, Math.min(16 << (i % 14), 128 * 1024));
      const binary = i % 2 === 1;
      const got = wsMessage(ws);
      ws.send(binary ? Buffer.from(text) : text);
      const { data, isBinary } = await got;
      assert.equal(isBinary, binary);
      assert.equal(data.toString(), text, `message ${i}`);
      bytes += text.length;
    }
    const socket = (ws as unknown as { _socket: import('node:net').Socket })._socket;
    assert.ok(socket.bytesRead < bytes / 3, `read ${socket.bytesRead} for ${bytes}`);
    assert.ok(socket.bytesWritten < bytes / 3, `wrote ${socket.bytesWritten} for ${bytes}`);
    ws.close();
    await once(ws, 'close');
  });

  test('a maxMessageSize past the largest buffer (MAX_SAFE_INTEGER, "no limit") inflates as any other', async () => {
    const big = await echoServer({ maxMessageSize: Number.MAX_SAFE_INTEGER });
    try {
      const ws = await wsOpen(`ws://127.0.0.1:${big.server.address.port}/`);
      assert.equal(ws.extensions, 'permessage-deflate');
      for (const size of [10, 6000]) {
        const text = json(size, size);
        const got = wsMessage(ws);
        ws.send(text);
        assert.equal((await got).data.toString(), text, `${size} bytes`);
      }
      ws.close();
      await once(ws, 'close');
    } finally {
      await big.server.close();
    }
  });

  test('ws client with no context takeover and window 9 both ways', async () => {
    const ws = await wsOpen(url, undefined, {
      perMessageDeflate: {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 9,
        clientMaxWindowBits: 9,
      },
    });
    assert.match(
      fixture.agreed.at(-1)!,
      /server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9/,
    );
    for (let i = 0; i < 50; i++) {
      const text = json(i, 2000 + i * 100);
      const got = wsMessage(ws);
      ws.send(text);
      assert.equal((await got).data.toString(), text);
    }
    ws.close();
    await once(ws, 'close');
  });

  test("a client's FIN right after a burst that inflates past the per-read budget: every message and the Close are read", async () => {
    // 60 messages of 100 KB (6 MB once inflated, a few KB on the wire), the
    // Close and the FIN in one write; the handler reads slowly, so most of
    // the burst waits in the core's held input when the FIN arrives.
    const count = 60;
    const size = 100_000;
    let got = 0;
    let closedWith: unknown;
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    const server = await serve({ host: '127.0.0.1' }, async (connection) => {
      const { readable } = await connection.opened;
      const reader = readable.getReader();
      for (;;) {
        const { done: ended, value } = await reader.read();
        if (ended) break;
        assert.equal((value as Uint8Array).length, size);
        got++;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      closedWith = await connection.closed.catch((e: Error) => e);
      finished();
    });
    try {
      const client = await rawClient(server.address.port, [
        'Sec-WebSocket-Extensions: permessage-deflate',
      ]);
      const burst: Buffer[] = [];
      for (let i = 0; i < count; i++)
        burst.push(rsv1Frame(0x2, compress(new Uint8Array(size).fill(i))));
      burst.push(clientFrame(0x8, closePayload(1000, 'done')));
      client.socket.end(Buffer.concat(burst));
      assert.equal(await closeCodeOf(client), 1000, "the server answered the client's Close");
      await done;
      assert.equal(got, count, 'every message was delivered');
      assert.deepEqual(closedWith, { closeCode: 1000, reason: 'done' });
    } finally {
      await server.close();
    }
  });

  test('several offers in one header: the first acceptable one is taken', async () => {
    const client = await rawClient(port, [
      'Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=16, x-foo, permessage-deflate; bar, permessage-deflate; server_max_window_bits=10, permessage-deflate',
    ]);
    assert.equal(
      client.response.headers.get('sec-websocket-extensions'),
      'permessage-deflate; server_max_window_bits=10',
    );
    client.socket.destroy();
  });

  test('offers over several header lines count as one list', async () => {
    const client = await rawClient(port, [
      'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=20',
      'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits="10"',
    ]);
    assert.equal(
      client.response.headers.get('sec-websocket-extensions'),
      'permessage-deflate; server_max_window_bits=12; client_max_window_bits=10',
    );
    client.socket.destroy();
  });

  for (const header of [
    'permessage-deflate; server_max_window_bits=16',
    'permessage-deflate;;',
    'permessage-deflate; a="',
    '"',
  ]) {
    test(`no acceptable offer (${header}): the connection opens without compression`, async () => {
      const client = await rawClient(port, [`Sec-WebSocket-Extensions: ${header}`]);
      assert.equal(client.response.headers.get('sec-websocket-extensions'), undefined);
      client.socket.write(clientFrame(0x1, 'plain'));
      assert.equal((await client.nextFrame()).payload.toString(), 'plain');
      client.socket.destroy();
    });
  }

  async function negotiated(): Promise<RawClient> {
    const client = await rawClient(port, ['Sec-WebSocket-Extensions: permessage-deflate']);
    assert.match(
      client.response.headers.get('sec-websocket-extensions') ?? '',
      /^permessage-deflate/,
    );
    return client;
  }

  test('a compressed message from a raw client is inflated; a short reply goes out uncompressed', async () => {
    const client = await negotiated();
    client.socket.write(rsv1Frame(0x1, compress('hello')));
    const frame = await client.nextFrame();
    assert.equal(frame.payload.toString(), 'hello');
    client.socket.destroy();
  });

  test('a compressed message split over three frames, RSV1 on the first only', async () => {
    const client = await negotiated();
    const c = compress(json(1, 5000));
    client.socket.write(
      Buffer.concat([
        rsv1Frame(0x1, c.subarray(0, 10), false),
        clientFrame(0x0, c.subarray(10, 20), { fin: false }),
        clientFrame(0x0, c.subarray(20)),
      ]),
    );
    const frame = await client.nextFrame();
    client.socket.destroy();
    assert.equal(frame.payload.length < 5000, true, 'the echo is compressed');
  });

  const violations: Array<[string, () => Buffer, number]> = [
    [
      'RSV1 on a continuation frame',
      () =>
        Buffer.concat([clientFrame(0x1, 'a', { fin: false }), rsv1Frame(0x0, Buffer.from('b'))]),
      1002,
    ],
    ['RSV1 on a Ping', () => rsv1Frame(0x9, Buffer.alloc(0)), 1002],
    ['RSV1 on a Close', () => rsv1Frame(0x8, Buffer.from([3, 232])), 1002],
    [
      'compressed data that is not DEFLATE',
      () => rsv1Frame(0x2, Buffer.from([0xff, 0xff, 0xff, 0xff])),
      1007,
    ],
    [
      'compressed text that is not UTF-8',
      () => rsv1Frame(0x1, compress(Buffer.from([0xc3, 0x28]))),
      1007,
    ],
  ];
  for (const [what, frame, code] of violations) {
    test(`${what}: fails with ${code}`, async () => {
      const client = await negotiated();
      client.socket.write(frame());
      assert.equal(await closeCodeOf(client), code);
      client.socket.destroy();
    });
  }

  test('RSV1 without permessage-deflate negotiated: fails with 1002', async () => {
    const client = await rawClient(port);
    assert.equal(client.response.headers.get('sec-websocket-extensions'), undefined);
    client.socket.write(rsv1Frame(0x1, compress('hello')));
    assert.equal(await closeCodeOf(client), 1002);
    client.socket.destroy();
  });

  test('deflate bomb: 1 GiB of zeros in about 1 MB fails with 1009, memory bounded, others still served', async () => {
    const zeros = new Uint8Array(64 * 1024 * 1024);
    const part = compress(zeros);
    const bomb = Buffer.concat(Array.from({ length: 16 }, () => part));
    assert.ok(bomb.length < 1.2e6);
    const other = await wsOpen(url);
    const rssBefore = process.memoryUsage().rss;
    const client = await negotiated();
    client.socket.write(rsv1Frame(0x2, bomb));
    // While the bomb is handled, another client keeps being served.
    const echoed = wsMessage(other);
    other.send('still here');
    assert.equal(await closeCodeOf(client), 1009);
    assert.equal((await echoed).data.toString(), 'still here');
    const grown = process.memoryUsage().rss - rssBefore;
    // The limit is 8 MiB: the compressed message, 8 MiB of output and one chunk, far from 1 GiB.
    assert.ok(grown < 64 * 1024 * 1024, `RSS grew by ${grown}`);
    client.socket.destroy();
    other.close();
    await once(other, 'close');
  });
});

void describe('server with perMessageDeflate: false', () => {
  test('answers no extension and the ws client sends uncompressed', async () => {
    const { server, agreed } = await echoServer({ perMessageDeflate: false });
    try {
      const ws = await wsOpen(`ws://127.0.0.1:${server.address.port}/`);
      assert.equal(ws.extensions, '');
      assert.equal(agreed[0], '');
      const got = wsMessage(ws);
      ws.send('x'.repeat(5000));
      assert.equal((await got).data.length, 5000);
      ws.close();
      await once(ws, 'close');
    } finally {
      await server.close();
    }
  });

  test('a bad option throws', async () => {
    await assert.rejects(
      serve({ perMessageDeflate: { memLevel: 12 } }, () => {}),
      RangeError,
    );
  });
});

void WebSocket;
