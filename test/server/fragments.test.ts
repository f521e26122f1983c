/**
 * Legitimate fragmentation passes with the default limits: a 4 MiB message in
 * 64-byte fragments (65,536 frames) or 256-byte fragments, text or binary,
 * sent by ws to our server and by a ws server to our client.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { WebSocket as WsClient, type WebSocket as WsSocket } from 'ws';
import { WebSocketStream } from '../../src/index.js';
import { serve } from '../../src/server.js';
import { startWsServer } from '../client/helpers.js';

const SIZE = 4 * 1024 * 1024;

function sendFragmented(ws: WsSocket, data: Buffer, size: number, binary: boolean): void {
  for (let i = 0; i < data.length; i += size) {
    const end = Math.min(i + size, data.length);
    ws.send(data.subarray(i, end), { binary, fin: end === data.length, compress: false });
  }
}

function sha(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

const CASES: Array<[string, number, boolean]> = [
  ['binary in 64-byte fragments (65,536 frames)', 64, true],
  ['text in 256-byte fragments (16,384 frames)', 256, false],
];

void describe('legitimate fragmentation, default limits', () => {
  for (const [title, size, binary] of CASES) {
    void it(`ws client to our server: 4 MiB ${title} is echoed`, async () => {
      const server = await serve({ port: 0, host: '127.0.0.1' }, async (connection) => {
        const { readable, writable } = await connection.opened;
        await readable.pipeTo(writable).catch(() => {});
      });
      const client = new WsClient(server.url, { perMessageDeflate: false, maxPayload: 2 * SIZE });
      await new Promise((resolve) => client.once('open', resolve));
      const data = binary ? Buffer.alloc(SIZE, 7) : Buffer.from('é'.repeat(SIZE / 2));
      const echoed = new Promise<Buffer>((resolve, reject) => {
        client.once('message', (message: Buffer) => resolve(message));
        client.once('close', (code) => reject(new Error(`closed with ${code}`)));
      });
      sendFragmented(client, data, size, binary);
      assert.equal(sha(await echoed), sha(data));
      client.close();
      await server.close();
    });

    void it(`ws server to our client: 4 MiB ${title} arrives whole`, async () => {
      const fixture = await startWsServer({ perMessageDeflate: false });
      const wss = new WebSocketStream(fixture.url);
      const { readable } = await wss.opened;
      const { ws } = await fixture.next();
      const data = binary ? Buffer.alloc(SIZE, 9) : Buffer.from('é'.repeat(SIZE / 2));
      sendFragmented(ws, data, size, binary);
      const { value } = await readable.getReader().read();
      if (binary) assert.equal(sha(value as Uint8Array), sha(data));
      else assert.equal(sha(value as string), sha(data));
      wss.close();
      await wss.closed;
      await fixture.close();
    });
  }
});
