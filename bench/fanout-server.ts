/**
 * A fan-out server for scenario (i), in its own process: every connection
 * subscribes to one topic, every message a connection sends is published to
 * it, and the processes are joined by Redis pub/sub (one subscription per
 * process). `wsstream`: serve() + Hub + redisBroker(). `ws`: WebSocketServer
 * + node-redis, written the way an application would (one Redis
 * subscription, ws.send() to each local client, a client with more than
 * 16 MiB buffered is skipped).
 * Reports its port, then its RSS on request, over IPC.
 */
import { createClient } from 'redis';

const impl = process.argv[2] ?? 'wsstream';
const redisUrl = process.argv[3] ?? 'redis://127.0.0.1:6379';
const MAX_QUEUE = 16 * 1024 * 1024;

async function startWsstream(): Promise<number> {
  const { serve } = await import('wsstream/server');
  const { Hub } = await import('wsstream/hub');
  const { redisBroker } = await import('wsstream/hub/redis');
  const hub = new Hub({
    maxQueue: MAX_QUEUE,
    slow: 'drop',
    broker: await redisBroker({ url: redisUrl }),
  });
  const server = await serve({ host: '127.0.0.1', port: 0 }, async (connection) => {
    hub.subscribe(connection, 'room');
    const reader = (await connection.opened).readable.getReader();
    const window: Promise<void>[] = [];
    for (;;) {
      const next = await reader.read().catch(() => ({ done: true as const, value: undefined }));
      if (next.done) return;
      window.push(hub.publish('room', next.value, { except: connection }).catch(() => {}));
      if (window.length >= 64) await window.shift();
    }
  });
  return server.address.port;
}

async function startWs(): Promise<number> {
  const { WebSocketServer } = await import('ws');
  const { randomBytes } = await import('node:crypto');
  const id = randomBytes(16);
  const pub = createClient({ url: redisUrl });
  const sub = createClient({ url: redisUrl });
  pub.on('error', () => {});
  sub.on('error', () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const listening = new Promise((r) => wss.once('listening', r));
  const fanout = (data: Buffer, isBinary: boolean, except: unknown): void => {
    for (const client of wss.clients) {
      if (client === except || client.bufferedAmount > MAX_QUEUE) continue;
      client.send(data, { binary: isBinary });
    }
  };
  await sub.subscribe(
    'ws-room',
    (message: Buffer) => {
      if (message.subarray(1, 17).equals(id)) return;
      fanout(message.subarray(17), message[0] === 1, null);
    },
    true,
  );
  wss.on('connection', (ws) => {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      fanout(data, isBinary, ws);
      pub
        .publish('ws-room', Buffer.concat([Buffer.from([isBinary ? 1 : 0]), id, data]))
        .catch(() => {});
    });
  });
  await listening;
  return (wss.address() as { port: number }).port;
}

const port = impl === 'ws' ? await startWs() : await startWsstream();
process.send?.({ type: 'ready', port });
process.on('message', (m: { type: string }) => {
  if (m.type === 'rss') process.send?.({ type: 'rss', rss: process.memoryUsage().rss });
});
