/**
 * permessage-deflate on the client: against a `ws` server with compression
 * on (a peer we did not write), with messages counted on the wire; and
 * against a raw server that answers with every kind of bad negotiation.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import { WebSocketError, WebSocketStream } from '../../src/index.js';
import {
  acceptHandshake,
  headerOf,
  rejection,
  startRawServer,
  within,
  type RawFixture,
} from './helpers.js';

function json(i: number, size: number): string {
  let s = '';
  for (let k = 0; s.length < size; k++)
    s += JSON.stringify({ id: i, k, name: `item-${(i * 31 + k) % 1000}`, ok: k % 3 === 0 });
  return s.slice(0, size);
}

interface Fixture {
  url: string;
  peers: Array<{ ws: WsSocket; req: IncomingMessage }>;
  close(): Promise<void>;
}

async function wsServer(perMessageDeflate: object | boolean): Promise<Fixture> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const peers: Fixture['peers'] = [];
  wss.on('connection', (ws, req) => {
    peers.push({ ws, req });
    // Echo, keeping the message type.
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
  });
  const { port } = wss.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}/`,
    peers,
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

async function echoMany(
  url: string,
  count: number,
  options: ConstructorParameters<typeof WebSocketStream>[1] = {},
): Promise<{ extensions: string; bytes: number }> {
  const wss = new WebSocketStream(url, options);
  const { readable, writable, extensions } = await within(wss.opened, 5000, 'opened');
  const writer = writable.getWriter();
  const reader = readable.getReader();
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const size = 16 << (i % 14);
    const text = json(i, Math.min(size, 128 * 1024));
    const binary = i % 2 === 1;
    const sent = binary ? new TextEncoder().encode(text) : text;
    await writer.write(sent);
    const { value } = await within(reader.read(), 5000, `echo ${i}`);
    if (binary) assert.deepEqual(value, sent, `message ${i}`);
    else assert.equal(value, sent, `message ${i}`);
    bytes += text.length;
  }
  wss.close();
  await within(wss.closed, 5000, 'closed');
  return { extensions, bytes };
}

void describe('client permessage-deflate against a ws server', { timeout: 60_000 }, () => {
  const configs: Array<[string, object, RegExp]> = [
    ['ws defaults (context takeover, window 15)', {}, /^permessage-deflate$/],
    ['server_max_window_bits 9', { serverMaxWindowBits: 9 }, /server_max_window_bits=9/],
    ['client_max_window_bits 9', { clientMaxWindowBits: 9 }, /client_max_window_bits=9/],
    ['server_no_context_takeover', { serverNoContextTakeover: true }, /server_no_context_takeover/],
    ['client_no_context_takeover', { clientNoContextTakeover: true }, /client_no_context_takeover/],
  ];
  for (const [name, config, agreed] of configs) {
    void it(`${name}: 200 messages of 16 B to 128 KiB echo intact and travel compressed`, async () => {
      const server = await wsServer({ threshold: 0, ...config });
      try {
        const { extensions, bytes } = await echoMany(server.url, 200);
        const { req, ws } = server.peers[0]!;
        assert.equal(
          req.headers['sec-websocket-extensions'],
          'permessage-deflate; client_max_window_bits',
        );
        assert.match(extensions, agreed);
        assert.equal(ws.extensions, 'permessage-deflate');
        // JSON-like text compresses well: far fewer bytes crossed the wire each way.
        assert.ok(req.socket.bytesRead < bytes / 3, `read ${req.socket.bytesRead} for ${bytes}`);
        assert.ok(
          req.socket.bytesWritten < bytes / 3,
          `wrote ${req.socket.bytesWritten} for ${bytes}`,
        );
      } finally {
        await server.close();
      }
    });
  }

  void it('perMessageDeflate: false offers nothing and sends uncompressed', async () => {
    const server = await wsServer({ threshold: 0 });
    try {
      const { extensions, bytes } = await echoMany(server.url, 20, { perMessageDeflate: false });
      const { req } = server.peers[0]!;
      assert.equal(req.headers['sec-websocket-extensions'], undefined);
      assert.equal(extensions, '');
      assert.ok(req.socket.bytesRead > bytes);
    } finally {
      await server.close();
    }
  });

  void it('options appear in the offer', async () => {
    const server = await wsServer(true);
    try {
      await echoMany(server.url, 4, {
        perMessageDeflate: {
          serverMaxWindowBits: 10,
          clientMaxWindowBits: 11,
          serverNoContextTakeover: true,
        },
      });
      assert.equal(
        server.peers[0]!.req.headers['sec-websocket-extensions'],
        'permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11',
      );
    } finally {
      await server.close();
    }
  });

  void it('a bad option throws at construction', () => {
    assert.throws(
      () =>
        new WebSocketStream('ws://127.0.0.1:1/', {
          perMessageDeflate: { serverMaxWindowBits: 16 },
        }),
      RangeError,
    );
    assert.throws(
      () => new WebSocketStream('ws://127.0.0.1:1/', { perMessageDeflate: 'yes' as never }),
      TypeError,
    );
  });
});

void describe('client permessage-deflate: the server answers badly', { timeout: 30_000 }, () => {
  let server: RawFixture;
  let answer = '';
  let offered: string | undefined;
  before(async () => {
    server = await startRawServer((socket) => {
      void acceptHandshake(socket, [`Sec-WebSocket-Extensions: ${answer}`]).then(({ head }) => {
        offered = headerOf(head, 'sec-websocket-extensions');
      });
    });
  });
  after(async () => {
    await server.close();
  });

  const bad: Array<[string, string]> = [
    ['permessage-deflate; foo', 'foo'],
    ['permessage-deflate; server_max_window_bits=16', 'server_max_window_bits'],
    ['permessage-deflate; server_max_window_bits=7', 'server_max_window_bits'],
    ['permessage-deflate; server_max_window_bits', 'server_max_window_bits'],
    ['permessage-deflate; client_max_window_bits=16', 'client_max_window_bits'],
    ['permessage-deflate; client_max_window_bits', 'client_max_window_bits'],
    ['permessage-deflate; server_no_context_takeover=1', 'server_no_context_takeover'],
    [
      'permessage-deflate; client_no_context_takeover; client_no_context_takeover',
      'client_no_context_takeover',
    ],
    ['permessage-deflate, permessage-deflate', 'permessage-deflate'],
    ['x-webkit-deflate-frame', 'x-webkit-deflate-frame'],
    ['permessage-deflate; server_max_window_bits="1', 'Sec-WebSocket-Extensions'],
  ];
  for (const [header, param] of bad) {
    void it(`answer "${header}": WebSocketError naming ${param}`, async () => {
      answer = header;
      const wss = new WebSocketStream(server.url);
      const error = await rejection(wss.opened);
      assert.ok(error instanceof WebSocketError);
      assert.ok(error.message.includes(param), error.message);
      assert.equal(offered, 'permessage-deflate; client_max_window_bits');
      await rejection(wss.closed);
    });
  }

  void it('an answer above the window offered names server_max_window_bits', async () => {
    answer = 'permessage-deflate; server_max_window_bits=12';
    const wss = new WebSocketStream(server.url, { perMessageDeflate: { serverMaxWindowBits: 10 } });
    const error = await rejection(wss.opened);
    assert.ok(error instanceof WebSocketError && /server_max_window_bits/.test(error.message));
  });
});
