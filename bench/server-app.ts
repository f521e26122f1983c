/**
 * The server under test for the server-side scenarios (g): wsstream's
 * serve() (wsstream-exact: with batchWrites: false) or ws's WebSocketServer, in its own process, written the way an
 * application would use each. Paths:
 *   /echo                   echoes every message
 *   /download?size&total    after the client's first message, sends `total` bytes as `size`-byte messages
 * Reports its CPU time and RSS on request over IPC.
 */
import type { IncomingMessage } from 'node:http';

const impl = process.argv[2] ?? 'wsstream';

function send(msg: unknown): void {
  process.send?.(msg);
}

function paramsOf(req: IncomingMessage): { path: string; size: number; total: number } {
  const url = new URL(req.url ?? '/', 'http://x');
  return {
    path: url.pathname,
    size: Number(url.searchParams.get('size') ?? 0),
    total: Number(url.searchParams.get('total') ?? 0),
  };
}

async function startWsstream(batchWrites: boolean): Promise<number> {
  const { serve } = await import('wsstream/server');
  const server = await serve({ host: '127.0.0.1', batchWrites }, async (connection) => {
    const { readable, writable } = await connection.opened;
    const { path, size, total } = paramsOf(connection.request);
    if (path === '/echo') {
      await readable.pipeTo(writable).catch(() => {});
      return;
    }
    const reader = readable.getReader();
    await reader.read();
    const writer = writable.getWriter();
    const chunk = new Uint8Array(size).fill(0x61);
    for (let sent = 0; sent < total; sent += size) {
      await writer.ready;
      writer.write(chunk).catch(() => {});
    }
    await reader.read().catch(() => {});
  });
  return Number(new URL(server.url).port);
}

async function startWs(): Promise<number> {
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  wss.on('connection', (ws, req) => {
    const { path, size, total } = paramsOf(req);
    if (path === '/echo') {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      return;
    }
    ws.once('message', () => {
      const chunk = Buffer.alloc(size, 0x61);
      let left = Math.ceil(total / size);
      let inFlight = 0;
      // ws has no drain event: keep a window of sends awaiting their callback.
      const more = (): void => {
        while (left > 0 && inFlight < 16) {
          left--;
          inFlight++;
          ws.send(chunk, { binary: true }, () => {
            inFlight--;
            more();
          });
        }
      };
      more();
    });
  });
  const address = wss.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}

const port = impl === 'ws' ? await startWs() : await startWsstream(impl !== 'wsstream-exact');
send({ type: 'ready', port });

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'cpu') {
    const u = process.cpuUsage();
    send({ type: 'cpu', user: u.user, system: u.system, rss: process.memoryUsage.rss() });
  }
});
process.on('disconnect', () => process.exit(0));
