/**
 * WebIDL argument rules: a required `url`, dictionaries that take `undefined`
 * and `null` as empty and refuse any other non-object with TypeError, and the
 * `[EnforceRange] unsigned short closeCode` conversion, for the constructor,
 * `close()`, the WebSocketError constructor and every options bag
 * (`serve`, `upgrade`, `toDuplex`). Nothing is connected when they throw.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import { toDuplex, WebSocketError, WebSocketStream } from '../../src/index.js';
import { serve, upgrade, type ServeOptions } from '../../src/server.js';
import { delay, rejection, requests, startWsServer } from './helpers.js';

const NOT_DICTIONARIES: unknown[] = [true, false, 1, 0, 'x', '', Symbol('s'), 10n];

void describe('the WebSocketStream constructor', () => {
  void it('with no argument at all throws TypeError, not SyntaxError', () => {
    const Ctor = WebSocketStream as unknown as new () => WebSocketStream;
    assert.throws(() => new Ctor(), TypeError);
  });

  void it('an explicit undefined URL is converted to "undefined": SyntaxError', () => {
    assert.throws(
      () => new WebSocketStream(undefined as unknown as string),
      (e: unknown) => e instanceof DOMException && e.name === 'SyntaxError',
    );
  });

  void it('options undefined or null mean {}', () => {
    for (const options of [undefined, null]) {
      const wss = new WebSocketStream('ws://127.0.0.1:9/', options);
      assert.equal(wss.url, 'ws://127.0.0.1:9/');
      wss.close();
      wss.opened.catch(() => {});
    }
  });

  void it('options of any other non-object type throw TypeError before anything connects', () => {
    const before = requests.length;
    for (const options of NOT_DICTIONARIES) {
      assert.throws(
        () => new WebSocketStream('ws://127.0.0.1:9/', options as never),
        TypeError,
        String(options),
      );
    }
    assert.equal(requests.length, before);
  });

  void it('the options are read once, when constructed: changing them (or a getter that changes its answer) afterwards changes nothing', async () => {
    const peer = await startWsServer();
    try {
      let reads = 0;
      const options: Record<string, unknown> = {
        maxMessageSize: 4,
        // 5 s when constructed, 20 ms if read again later.
        get closeTimeout() {
          return reads++ === 0 ? 5_000 : 20;
        },
      };
      const wss = new WebSocketStream(peer.url, options);
      assert.equal(reads, 1, 'closeTimeout is read once');
      // Values the constructor refuses, given too late to matter.
      options.maxMessageSize = 1;
      options.pingInterval = 'soon';
      const { ws } = await peer.next();
      const { readable } = await wss.opened;
      assert.equal(reads, 1, 'closeTimeout is not read again when the connection opens');
      ws.send('four');
      const reader = readable.getReader();
      assert.deepEqual(await reader.read(), { done: false, value: 'four' });
      // A peer that reads nothing more never answers our Close: the close
      // timeout read at construction (5 s) is the one that runs.
      (ws as unknown as { _socket: { pause(): void } })._socket.pause();
      wss.close();
      const after300 = await Promise.race([
        wss.closed.then(
          () => 'fulfilled',
          () => 'rejected',
        ),
        delay(300).then(() => 'pending'),
      ]);
      assert.equal(after300, 'pending', 'the close timeout of 5 s runs, not one of 20 ms');
      ws.terminate();
      await rejection(wss.closed);
    } finally {
      await peer.close();
    }
  });

  void it('a bad options argument wins over a bad URL (conversion comes first)', () => {
    assert.throws(() => new WebSocketStream('ftp://x/', 1 as never), TypeError);
    // protocols that are not a sequence: a conversion error too, before the URL's SyntaxError.
    assert.throws(() => new WebSocketStream('ftp://x/', { protocols: 'chat' as never }), TypeError);
    // A protocol that is no token, or a repeated one: the constructor's own check, after the URL's.
    for (const protocols of [['a b'], ['x', 'x']]) {
      assert.throws(
        () => new WebSocketStream('ftp://x/', { protocols }),
        (e: Error) => e.name === 'SyntaxError' && /scheme/.test(e.message),
      );
      assert.throws(
        () => new WebSocketStream('ws://x/', { protocols }),
        (e: Error) => e.name === 'SyntaxError' && /subprotocol/.test(e.message),
      );
    }
  });

  void it('a function is an object: its members are read', () => {
    const options = Object.assign(() => {}, { signal: AbortSignal.abort('stop') });
    const wss = new WebSocketStream('ws://127.0.0.1:9/', options);
    return assert.rejects(wss.opened, (e) => e === 'stop');
  });

  void it('signal must be an AbortSignal', () => {
    for (const signal of [null, {}, 'x', 1, { aborted: true }]) {
      assert.throws(
        () => new WebSocketStream('ws://127.0.0.1:9/', { signal: signal as never }),
        TypeError,
      );
    }
  });
});

void describe('close() and the WebSocketError constructor', () => {
  void it('close(undefined) and close(null) take the dictionary as empty', () => {
    for (const info of [undefined, null]) {
      const wss = new WebSocketStream('ws://127.0.0.1:9/', { signal: AbortSignal.abort() });
      wss.close(info as never);
    }
  });

  void it('close() with a non-object throws TypeError', () => {
    const wss = new WebSocketStream('ws://127.0.0.1:9/', { signal: AbortSignal.abort() });
    for (const info of NOT_DICTIONARIES) {
      assert.throws(() => wss.close(info as never), TypeError, String(info));
    }
  });

  void it('closeCode is [EnforceRange] unsigned short: non-finite or out of range is TypeError', () => {
    const wss = new WebSocketStream('ws://127.0.0.1:9/', { signal: AbortSignal.abort() });
    for (const closeCode of [NaN, Infinity, -Infinity, -1, 65536, 1e10, 'abc']) {
      assert.throws(() => wss.close({ closeCode: closeCode as number }), TypeError);
      assert.throws(() => new WebSocketError('', { closeCode: closeCode as number }), TypeError);
    }
  });

  void it('closeCode in range but not sendable is InvalidAccessError; fractions truncate', () => {
    const wss = new WebSocketStream('ws://127.0.0.1:9/', { signal: AbortSignal.abort() });
    const invalidAccess = (e: unknown): boolean =>
      e instanceof DOMException && e.name === 'InvalidAccessError';
    assert.throws(() => wss.close({ closeCode: 1001 }), invalidAccess);
    assert.throws(() => wss.close({ closeCode: 0 }), invalidAccess);
    assert.equal(new WebSocketError('', { closeCode: 3000.9 }).closeCode, 3000);
  });

  void it('the WebSocketError init takes undefined and null as empty, refuses other non-objects', () => {
    assert.equal(new WebSocketError('m', undefined).closeCode, null);
    assert.equal(new WebSocketError('m', null).closeCode, null);
    for (const init of NOT_DICTIONARIES) {
      assert.throws(() => new WebSocketError('m', init as never), TypeError);
    }
  });
});

void describe('the options bags of serve, upgrade and toDuplex', () => {
  void it('serve(): a non-object options argument or a missing handler is a TypeError, nothing listens', async () => {
    for (const options of NOT_DICTIONARIES) {
      await assert.rejects(
        serve(options as never, () => {}),
        TypeError,
      );
    }
    await assert.rejects(serve({ port: 0 }, undefined as never), TypeError);
    await assert.rejects(serve({ port: 0 }, 'x' as never), TypeError);
  });

  void it('serve(null, handler) listens with the defaults', async () => {
    const server = await serve(null, () => {});
    assert.match(server.url, /^ws:\/\//);
    await server.close();
  });

  void it('upgrade(): a non-object options argument is a TypeError; null means defaults', async () => {
    const outcomes: string[] = [];
    const http = createServer();
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      assert.throws(() => upgrade(req, socket, head, 7 as never), TypeError);
      const connection = upgrade(req, socket, head, null);
      connection.opened.then(
        () => outcomes.push('opened'),
        () => outcomes.push('refused'),
      );
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    const wss = new WebSocketStream(`ws://127.0.0.1:${port}/`);
    await wss.opened;
    wss.close();
    await wss.closed;
    assert.deepEqual(outcomes, ['opened']);
    await new Promise((resolve) => http.close(resolve));
  });

  void it('upgrade(): the options are read when it is called, not again when an async authenticate has let the connection open', async () => {
    let reads = 0;
    const options = {
      get closeTimeout() {
        reads++;
        return 5_000;
      },
      authenticate: () => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 20)),
    };
    let readsAtCall = -1;
    const http = createServer();
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      upgrade(req, socket, head, options);
      readsAtCall = reads;
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    const wss = new WebSocketStream(`ws://127.0.0.1:${port}/`);
    await wss.opened;
    assert.ok(readsAtCall >= 1);
    assert.equal(reads, readsAtCall, 'nothing read after upgrade() returned');
    wss.close();
    await wss.closed;
    await new Promise((resolve) => http.close(resolve));
  });

  void it('serve() and upgrade() read inherited members too, as WebIDL reads a dictionary', async () => {
    const inherited = Object.create({ protocols: ['chat'], maxMessageSize: 4 }) as ServeOptions;
    const server = await serve(inherited, async (connection) => {
      const { readable } = await connection.opened;
      await readable.pipeTo(new WritableStream()).catch(() => {});
    });
    const http = createServer();
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const connection = upgrade(req, socket, head, inherited);
      connection.opened
        .then(({ readable }) => readable.pipeTo(new WritableStream()))
        .catch(() => {});
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    try {
      for (const url of [server.url, `ws://127.0.0.1:${(http.address() as AddressInfo).port}/`]) {
        const wss = new WebSocketStream(url, { protocols: ['other', 'chat'] });
        const { protocol, writable } = await wss.opened;
        assert.equal(protocol, 'chat', url);
        // Over the inherited maxMessageSize: the server fails the connection with 1009.
        await writable.getWriter().write('fives');
        assert.equal((await wss.closed).closeCode, 1009, url);
      }
    } finally {
      await server.close();
      await new Promise((resolve) => http.close(resolve));
    }
  });

  void it('toDuplex(): a non-object options argument is a TypeError', () => {
    const wss = new WebSocketStream('ws://127.0.0.1:9/', { signal: AbortSignal.abort() });
    for (const options of NOT_DICTIONARIES) {
      assert.throws(() => toDuplex(wss, options as never), TypeError);
    }
    const duplex = toDuplex(wss, null);
    duplex.on('error', () => {});
    duplex.destroy();
  });
});
