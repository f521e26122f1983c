/**
 * Per-connection statistics and the diagnostics_channel events, on the client
 * (against ws's server) and on our server (against ws's client).
 */
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { WebSocket as WsClient } from 'ws';
import { DIAGNOSTICS_CHANNELS, WebSocketStream, type WebSocketStats } from '../../src/index.js';
import { serve, type WebSocketConnection } from '../../src/server.js';
import { startWsServer, waitUntil } from '../client/helpers.js';

type Recorded = { channel: string; message: Record<string, unknown> };

/** Subscribes to every wsstream channel until `stop()`. */
function record(): { events: Recorded[]; stop(): void } {
  const events: Recorded[] = [];
  const handlers = Object.values(DIAGNOSTICS_CHANNELS).map((name) => {
    const handler = (message: unknown): void => {
      events.push({ channel: name, message: message as Record<string, unknown> });
    };
    diagnosticsChannel.subscribe(name, handler);
    return { name, handler };
  });
  return {
    events,
    stop() {
      for (const { name, handler } of handlers) diagnosticsChannel.unsubscribe(name, handler);
    },
  };
}

void describe('stats', () => {
  void it('client: zeros before the open, then messages and bytes both ways, socket bytes, the ping round trip', async () => {
    const fixture = await startWsServer();
    const wss = new WebSocketStream(fixture.url, { pingInterval: 50, pingTimeout: 1000 });
    const before: WebSocketStats = wss.stats;
    assert.equal(before.messagesSent, 0);
    assert.equal(before.lastPingRtt, null);
    const { readable, writable } = await wss.opened;
    const { ws } = await fixture.next();
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    const writer = writable.getWriter();
    const reader = readable.getReader();
    await writer.write('héllo'); // 6 bytes of UTF-8
    await writer.write(new Uint8Array(1000));
    assert.equal((await reader.read()).value, 'héllo');
    assert.equal(((await reader.read()).value as Uint8Array).length, 1000);
    await waitUntil(() => wss.stats.lastPingRtt !== null, 5000, 'a keepalive ping answered');
    const stats = wss.stats;
    assert.equal(stats.messagesSent, 2);
    assert.equal(stats.bytesSent, 1006);
    assert.equal(stats.messagesReceived, 2);
    assert.equal(stats.bytesReceived, 1006);
    // Headers and masks come on top of the payload: 2+4+6 and 4+4+1000 at least.
    assert.ok(stats.socketBytesWritten >= 1006 + 6 + 8, `written ${stats.socketBytesWritten}`);
    assert.ok(stats.socketBytesRead >= 1006 + 2 + 4, `read ${stats.socketBytesRead}`);
    assert.ok(stats.lastPingRtt! >= 0 && stats.lastPingRtt! < 1000);
    assert.equal(stats.messagesWaiting, 0);
    assert.equal(stats.messagesDiscarded, 0);
    assert.equal(stats.bufferedBytes, 0);
    wss.close();
    await wss.closed;
    await fixture.close();
  });

  void it('lastPingRtt: an unsolicited Pong does not answer the keepalive Ping; the Pong with its payload does', async () => {
    const fixture = await startWsServer({ autoPong: false });
    const wss = new WebSocketStream(fixture.url, { pingInterval: 50, pingTimeout: 5000 });
    await wss.opened;
    const { ws } = await fixture.next();
    const pinged = new Promise<Buffer>((resolve) => ws.once('ping', resolve));
    const payload = await pinged;
    assert.equal(payload.length, 4, 'a numbered Ping');
    // A heartbeat Pong of the server's own (empty, then another payload), then the answer 300 ms later.
    ws.pong();
    ws.pong(Buffer.from('beat'));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(wss.stats.lastPingRtt, null, 'not answered yet');
    ws.pong(payload);
    await waitUntil(() => wss.stats.lastPingRtt !== null, 5000, 'the Ping answered');
    assert.ok(wss.stats.lastPingRtt! >= 290, `rtt ${wss.stats.lastPingRtt}`);
    wss.close();
    await wss.closed;
    await fixture.close();
  });

  void it('messagesDiscarded: what arrives after close() past the 1 MiB held, and after a cancel', async () => {
    const fixture = await startWsServer();
    const wss = new WebSocketStream(fixture.url, { perMessageDeflate: false });
    const { readable } = await wss.opened;
    const { ws } = await fixture.next();
    // Sent before ws sees our Close: 48 messages of 64 KiB, 3 MiB, none read by us.
    const sent = new Promise<void>((resolve) => {
      for (let i = 0; i < 48; i++) ws.send(Buffer.alloc(64 * 1024, i));
      ws.send('last', () => resolve());
    });
    await sent;
    await waitUntil(() => wss.stats.messagesReceived > 0, 5000, 'the first message');
    wss.close();
    await wss.closed;
    let stats = wss.stats;
    assert.equal(stats.messagesReceived, 49);
    assert.ok(stats.messagesDiscarded > 0, 'some were discarded');
    // The held ones can still be read, and nothing is counted twice.
    const reader = readable.getReader();
    let read = 0;
    while (!(await reader.read()).done) read++;
    stats = wss.stats;
    assert.equal(read + stats.messagesDiscarded, 49);
    assert.equal(stats.messagesWaiting, 0);
    await fixture.close();

    // A cancelled readable: every later message is discarded.
    const again = await startWsServer();
    const second = new WebSocketStream(again.url);
    const opened = await second.opened;
    const peer = (await again.next()).ws;
    await opened.readable.cancel();
    peer.send('a');
    peer.send('b');
    await waitUntil(() => second.stats.messagesReceived === 2, 5000, 'two messages');
    assert.equal(second.stats.messagesDiscarded, 2);
    second.close();
    await second.closed;
    await again.close();
  });

  void it('server: counts what a ws client sent and received', async () => {
    let connection: WebSocketConnection | undefined;
    const server = await serve({ port: 0, host: '127.0.0.1' }, async (c) => {
      connection = c;
      const { readable, writable } = await c.opened;
      await readable.pipeTo(writable).catch(() => {});
    });
    // Uncompressed, so that the frames' sizes are known.
    const client = new WsClient(server.url, { perMessageDeflate: false });
    await new Promise((resolve) => client.once('open', resolve));
    const echoed: unknown[] = [];
    client.on('message', (data) => echoed.push(data));
    for (let i = 0; i < 10; i++) client.send(Buffer.alloc(100, i));
    await waitUntil(() => echoed.length === 10, 5000, '10 echoes');
    const stats = connection!.stats;
    assert.equal(stats.messagesReceived, 10);
    assert.equal(stats.bytesReceived, 1000);
    assert.equal(stats.messagesSent, 10);
    assert.equal(stats.bytesSent, 1000);
    assert.equal(stats.socketBytesWritten, 10 * (100 + 2));
    // Frames only, both ways: the request head the socket read is not counted.
    assert.equal(stats.socketBytesRead, 10 * (100 + 2 + 4));
    client.close();
    await connection!.closed;
    await server.close();
  });

  void it('server: frames a client sends during a slow authenticate() are all counted, past what is held early', async () => {
    let connection: WebSocketConnection | undefined;
    const server = await serve(
      {
        port: 0,
        host: '127.0.0.1',
        // The client's 400 KB arrive while this runs: the server keeps 64 KiB
        // and pauses; the socket reads more ahead before it stops.
        authenticate: () => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 300)),
      },
      async (c) => {
        connection = c;
        const { readable } = await c.opened;
        const reader = readable.getReader();
        while (!(await reader.read()).done);
      },
    );
    const port = server.address.port;
    const socket = connect(port, '127.0.0.1');
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.write(
      `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    // 40 binary frames of 10,000 bytes, masked with a zero key.
    const frame = Buffer.concat([
      Buffer.from([0x82, 0xfe, 10_000 >> 8, 10_000 & 255, 0, 0, 0, 0]),
      Buffer.alloc(10_000, 0x61),
    ]);
    for (let i = 0; i < 40; i++) socket.write(frame);
    await waitUntil(() => connection?.stats.messagesReceived === 40, 5000, '40 messages');
    assert.equal(connection!.stats.socketBytesRead, 40 * frame.length);
    socket.destroy();
    await connection!.closed.catch(() => {});
    await server.close();
  });

  void it('client: the socket byte counts are frames only both ways, not the handshake', async () => {
    const fixture = await startWsServer();
    const wss = new WebSocketStream(fixture.url, { perMessageDeflate: false });
    const { readable, writable } = await wss.opened;
    const { ws } = await fixture.next();
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    await writable.getWriter().write('hi');
    assert.equal((await readable.getReader().read()).value, 'hi');
    const stats = wss.stats;
    assert.equal(stats.socketBytesWritten, 2 + 4 + 2, 'header, mask, payload');
    assert.equal(stats.socketBytesRead, 2 + 2, 'header, payload: not the 101');
    wss.close();
    await wss.closed;
    await fixture.close();
  });

  void it('compressed messages count their payload before compression and after inflating, text too', async () => {
    let connection: WebSocketConnection | undefined;
    const server = await serve({ port: 0, host: '127.0.0.1' }, async (c) => {
      connection = c;
      const { readable, writable } = await c.opened;
      await readable.pipeTo(writable).catch(() => {});
    });
    const wss = new WebSocketStream(server.url);
    const { readable, writable, extensions } = await wss.opened;
    assert.match(extensions, /^permessage-deflate/);
    const text = 'héllo wörld '.repeat(1000); // 14,000 bytes of UTF-8
    const binary = new Uint8Array(50_000).fill(7);
    const writer = writable.getWriter();
    const reader = readable.getReader();
    await writer.write(text);
    await writer.write(binary);
    assert.equal((await reader.read()).value, text);
    assert.deepEqual((await reader.read()).value, binary);
    const payload = 14_000 + 50_000;
    for (const stats of [wss.stats, connection!.stats]) {
      assert.equal(stats.messagesSent, 2);
      assert.equal(stats.bytesSent, payload);
      assert.equal(stats.messagesReceived, 2);
      assert.equal(stats.bytesReceived, payload);
    }
    // The wire carried the compressed frames: far fewer bytes than the payload.
    assert.ok(wss.stats.socketBytesWritten < payload / 10, `${wss.stats.socketBytesWritten}`);
    assert.ok(connection!.stats.socketBytesWritten < payload / 10);
    wss.close();
    await wss.closed;
    await server.close();
  });
});

void describe('diagnostics_channel', () => {
  void it('publishes open, ping, pong and close of a client connection, naming the WebSocketStream', async () => {
    const recorder = record();
    const fixture = await startWsServer();
    const wss = new WebSocketStream(fixture.url, { pingInterval: 30, pingTimeout: 1000 });
    await wss.opened;
    const { ws } = await fixture.next();
    ws.ping(Buffer.from('hi'));
    await waitUntil(
      () =>
        recorder.events.some(
          (e) => e.channel === 'wsstream:pong' && e.message.direction === 'received',
        ) &&
        recorder.events.some(
          (e) => e.channel === 'wsstream:ping' && e.message.direction === 'received',
        ),
      5000,
      'pings both ways',
    );
    wss.close({ closeCode: 4000, reason: 'done' });
    await wss.closed;
    await fixture.close();
    recorder.stop();
    const mine = recorder.events.filter((e) => e.message.connection === wss);
    const open = mine.find((e) => e.channel === 'wsstream:open');
    assert.deepEqual(
      { role: open?.message.role, url: open?.message.url },
      { role: 'client', url: fixture.url },
    );
    const pingIn = mine.find(
      (e) => e.channel === 'wsstream:ping' && e.message.direction === 'received',
    );
    assert.deepEqual(Buffer.from(pingIn!.message.payload as Uint8Array).toString(), 'hi');
    assert.ok(mine.some((e) => e.channel === 'wsstream:pong' && e.message.direction === 'sent'));
    assert.ok(mine.some((e) => e.channel === 'wsstream:ping' && e.message.direction === 'sent'));
    const close = mine.find((e) => e.channel === 'wsstream:close');
    assert.equal(close?.message.clean, true);
    assert.equal(close?.message.closeCode, 4000);
    assert.equal(mine.filter((e) => e.channel === 'wsstream:failure').length, 0);
  });

  void it('publishes a failed handshake and an unclean close as failure', async () => {
    const recorder = record();
    const refused = new WebSocketStream('ws://127.0.0.1:1/');
    await refused.opened.catch(() => {});
    const early = new WebSocketStream('ws://127.0.0.1:1/');
    early.close();
    await early.opened.catch(() => {});
    let connection: WebSocketConnection | undefined;
    const server = await serve({ port: 0, host: '127.0.0.1' }, (c) => {
      connection = c;
    });
    const client = new WsClient(server.url);
    await new Promise((resolve) => client.once('open', resolve));
    await waitUntil(() => connection !== undefined, 5000, 'the server connection');
    await connection!.opened;
    client.terminate();
    await connection!.closed.catch(() => {});
    await server.close();
    recorder.stop();
    const handshake = recorder.events.find(
      (e) => e.channel === 'wsstream:failure' && e.message.connection === refused,
    );
    assert.equal(handshake?.message.phase, 'handshake');
    const closedEarly = recorder.events.find(
      (e) => e.channel === 'wsstream:failure' && e.message.connection === early,
    );
    assert.equal(closedEarly?.message.phase, 'handshake', 'close() during the handshake');
    assert.match(String(closedEarly?.message.error), /closed before the handshake completed/);
    const serverEvents = recorder.events.filter((e) => e.message.connection === connection);
    assert.equal(serverEvents.find((e) => e.channel === 'wsstream:open')?.message.role, 'server');
    assert.equal(serverEvents.find((e) => e.channel === 'wsstream:failure')?.message.phase, 'open');
    const close = serverEvents.find((e) => e.channel === 'wsstream:close');
    assert.deepEqual([close?.message.clean, close?.message.closeCode], [false, 1006]);
  });
});
