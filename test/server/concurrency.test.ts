/**
 * 1,000 concurrent connections (half `ws` clients, half ours) open at the
 * same time, exchange messages, then close: every message comes back to its
 * own client and the server sees 1,000 clean closes.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { WebSocketStream } from '../../src/index.js';
import { serve, type WebSocketConnection } from '../../src/server.js';
import { wsOpen } from './helpers.js';

const N = 1000;
const MESSAGES = 5;

void test(
  `${N} concurrent connections exchange messages, then close`,
  { timeout: 50_000 },
  async () => {
    const outcomes: Array<Promise<{ closeCode: number; reason: string }>> = [];
    let open = 0;
    let maxOpen = 0;
    const server = await serve(
      { host: '127.0.0.1', backlog: 2048 },
      async (connection: WebSocketConnection) => {
        outcomes.push(connection.closed);
        open++;
        maxOpen = Math.max(maxOpen, open);
        void connection.closed.finally(() => open--).catch(() => {});
        const { readable, writable } = await connection.opened;
        await readable.pipeTo(writable).catch(() => {});
      },
    );
    try {
      // Every client opens first, so all N are connected at once before any closes.
      let connected = 0;
      let allConnected!: () => void;
      const barrier = new Promise<void>((resolve) => (allConnected = resolve));
      const arrive = async (): Promise<void> => {
        if (++connected === N) allConnected();
        await barrier;
      };

      const wsClient = async (i: number): Promise<void> => {
        const ws = await wsOpen(server.url);
        await arrive();
        const got: string[] = [];
        const done = new Promise<void>((resolve) =>
          ws.on('message', (d: Buffer) => {
            got.push(d.toString());
            if (got.length === MESSAGES) resolve();
          }),
        );
        for (let m = 0; m < MESSAGES; m++) ws.send(`ws ${i} #${m}`);
        await done;
        assert.deepEqual(
          got,
          Array.from({ length: MESSAGES }, (_, m) => `ws ${i} #${m}`),
        );
        const closed = once(ws, 'close');
        ws.close(1000, `ws ${i}`);
        const [code] = (await closed) as [number];
        assert.equal(code, 1000);
      };

      const ourClient = async (i: number): Promise<void> => {
        const wss = new WebSocketStream(server.url);
        const { readable, writable } = await wss.opened;
        await arrive();
        const writer = writable.getWriter();
        const reader = readable.getReader();
        for (let m = 0; m < MESSAGES; m++) void writer.write(`ours ${i} #${m}`);
        for (let m = 0; m < MESSAGES; m++) {
          const { value } = await reader.read();
          assert.equal(value, `ours ${i} #${m}`);
        }
        wss.close({ closeCode: 1000, reason: `ours ${i}` });
        assert.equal((await wss.closed).closeCode, 1000);
      };

      await Promise.all(
        Array.from({ length: N }, (_, i) => (i % 2 === 0 ? wsClient(i) : ourClient(i))),
      );
      assert.equal(maxOpen, N, 'all connections were open at the same time');
      const seen = await Promise.all(outcomes);
      assert.equal(seen.length, N);
      const reasons = new Set(seen.map((o) => o.reason));
      assert.equal(reasons.size, N, 'each close carried its own reason');
      assert.ok(seen.every((o) => o.closeCode === 1000));
      while (server.connections.size > 0) await new Promise((r) => setImmediate(r));
    } finally {
      await server.close();
    }
  },
);
