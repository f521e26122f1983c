/**
 * RSS per idle connection of a wsstream server whose connections are
 * subscribed to a hub topic (the state of a chat or notification server
 * between messages): RSS of the server process with no connection, then with
 * N idle ones (after a GC in both cases), and the difference per connection.
 *
 *   node .tmp/bench-build/idle-rss.js [N]     default N = 2000
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

if (process.argv[2] === 'server') {
  const { serve } = await import('wsstream/server');
  const { Hub } = await import('wsstream/hub');
  const hub = new Hub();
  const server = await serve({ host: '127.0.0.1', port: 0 }, (c) => hub.subscribe(c, 'room'));
  const gc = (globalThis as { gc?: () => void }).gc;
  process.send?.({ port: server.address.port });
  process.on('message', () => {
    gc?.();
    setTimeout(
      () =>
        process.send?.({
          rss: process.memoryUsage().rss,
          subscribers: hub.subscriberCount('room'),
        }),
      200,
    );
  });
} else {
  const n = Number(process.argv[2] ?? 2000);
  const child = fork(fileURLToPath(import.meta.url), ['server'], { execArgv: ['--expose-gc'] });
  const [{ port }] = (await once(child, 'message')) as [{ port: number }];
  const measure = async (): Promise<{ rss: number; subscribers: number }> => {
    child.send('rss');
    const [m] = (await once(child, 'message')) as [{ rss: number; subscribers: number }];
    return m;
  };
  // Warm up the code paths with a few connections first, so that their code is not counted per connection.
  const warm = await Promise.all(
    [...Array(20)].map(async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      await once(ws, 'open');
      return ws;
    }),
  );
  for (const ws of warm) ws.close();
  await new Promise((r) => setTimeout(r, 500));
  const base = await measure();
  const clients: WebSocket[] = [];
  for (let i = 0; i < n; i += 100) {
    const batch = [...Array(Math.min(100, n - i))].map(async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      ws.on('error', () => {});
      clients.push(ws);
      await once(ws, 'open');
    });
    await Promise.all(batch);
  }
  const loaded = await measure();
  const per = (loaded.rss - base.rss) / n;
  process.stdout.write(
    `idle subscribed connections: ${loaded.subscribers}; server RSS ${(base.rss / 1e6).toFixed(1)} MB with none, ${(loaded.rss / 1e6).toFixed(1)} MB with ${n}: ${(per / 1024).toFixed(1)} KiB per connection, ${Math.floor(2 ** 30 / per).toLocaleString('en-US')} connections per GiB\n`,
  );
  for (const ws of clients) ws.terminate();
  child.kill();
}
