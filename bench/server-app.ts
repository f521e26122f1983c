/**
 * The server under test for the server-side scenarios (g) and (j): wsstream's
 * serve() (wsstream-exact: with batchWrites: false; wsstream-base: the
 * baseline build of --baseline) or ws's WebSocketServer (ws-deflate: with
 * `perMessageDeflate: true`), in its own process, written the way an
 * application would use each. wsstream negotiates permessage-deflate by
 * default, with any client that offers it. Paths:
 *   /echo                   echoes every message
 *   /download?size&total    after the client's first message, sends `total` bytes as `size`-byte messages
 *   /download-json?size&total  the same as JSON-like text messages (json.ts)
 * Reports its CPU time and RSS on request over IPC, and where it allocates
 * between 'alloc-start' and 'alloc-stop' (V8's sampling heap profiler, counting
 * the objects collected since: what the garbage collector has to clean up), and
 * a CPU profile of what it runs between 'cpu-start' and 'cpu-stop'.
 */
import type { IncomingMessage } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { getHeapSpaceStatistics } from 'node:v8';
import { serverModule } from './impl.js';
import { jsonPool } from './json.js';

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

/** The messages of a download: one binary buffer, or a pool of distinct JSON-like texts. */
function messagesOf(path: string, size: number): Array<Uint8Array | string> {
  return path === '/download-json' ? jsonPool(64, size) : [new Uint8Array(size).fill(0x61)];
}

async function startWsstream(batchWrites: boolean): Promise<number> {
  const { serve } = await serverModule(impl);
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
    const messages = messagesOf(path, size);
    for (let sent = 0, i = 0; sent < total; sent += size, i++) {
      await writer.ready;
      writer.write(messages[i % messages.length]!).catch(() => {});
    }
    await reader.read().catch(() => {});
  });
  return Number(new URL(server.url).port);
}

async function startWs(perMessageDeflate: boolean): Promise<number> {
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  wss.on('connection', (ws, req) => {
    const { path, size, total } = paramsOf(req);
    if (path === '/echo') {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      return;
    }
    ws.once('message', () => {
      const messages = messagesOf(path, size);
      const binary = typeof messages[0] !== 'string';
      let left = Math.ceil(total / size);
      let inFlight = 0;
      // ws has no drain event: keep a window of sends awaiting their callback.
      const more = (): void => {
        while (left > 0 && inFlight < 16) {
          left--;
          inFlight++;
          ws.send(messages[left % messages.length]!, { binary }, () => {
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

const port =
  impl.startsWith('ws-') || impl === 'ws'
    ? await startWs(impl === 'ws-deflate')
    : await startWsstream(impl !== 'wsstream-exact');
send({ type: 'ready', port });

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

/** Bytes allocated by each function (self), largest first. */
function allocationSites(head: SamplingNode): Array<[string, number]> {
  const sites = new Map<string, number>();
  const walk = (node: SamplingNode): void => {
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^.*\/(dist|node_modules|bench-build)\//, '$1/');
    const key = `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
    sites.set(key, (sites.get(key) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child);
  };
  walk(head);
  return [...sites].sort((a, b) => b[1] - a[1]);
}

let inspector: Session | undefined;
const post = (method: string, params?: object): Promise<unknown> =>
  new Promise((resolve, reject) =>
    inspector!.post(method, params, (err, result) => (err ? reject(err) : resolve(result))),
  );

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'cpu') {
    const u = process.cpuUsage();
    // The young generation V8 has grown to so far (it grows with the bytes
    // that survive scavenges, and is a large share of the RSS of a server
    // that opened its first thousands of connections).
    const young = getHeapSpaceStatistics()
      .filter(
        (space) =>
          space.space_name === 'new_space' || space.space_name === 'new_large_object_space',
      )
      .reduce((sum, space) => sum + space.space_size, 0);
    const heap = process.memoryUsage().heapUsed;
    send({
      type: 'cpu',
      user: u.user,
      system: u.system,
      rss: process.memoryUsage.rss(),
      young,
      heap,
    });
  } else if (msg.type === 'alloc-start') {
    inspector = new Session();
    inspector.connect();
    void post('HeapProfiler.enable')
      .then(() =>
        post('HeapProfiler.startSampling', {
          samplingInterval: 512,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true,
        }),
      )
      .then(() => send({ type: 'alloc-start' }));
  } else if (msg.type === 'cpu-start') {
    inspector = new Session();
    inspector.connect();
    const interval = (msg as { interval?: number }).interval ?? 100;
    void post('Profiler.enable')
      .then(() => post('Profiler.setSamplingInterval', { interval }))
      .then(() => post('Profiler.start'))
      .then(() => send({ type: 'cpu-start' }));
  } else if (msg.type === 'cpu-stop') {
    void post('Profiler.stop').then((result) => {
      inspector!.disconnect();
      mkdirSync('.tmp/prof', { recursive: true });
      const file = `.tmp/prof/cpu-${impl}-${process.pid}.cpuprofile`;
      writeFileSync(file, JSON.stringify((result as { profile: unknown }).profile));
      send({ type: 'cpu-stop', file });
    });
  } else if (msg.type === 'alloc-stop') {
    void post('HeapProfiler.stopSampling').then((result) => {
      inspector!.disconnect();
      const { profile } = result as { profile: { head: SamplingNode } };
      // The whole profile too, for DevTools (Memory, Load) or a closer look.
      mkdirSync('.tmp/prof', { recursive: true });
      writeFileSync(`.tmp/prof/alloc-${impl}-${process.pid}.heapprofile`, JSON.stringify(profile));
      send({ type: 'alloc-stop', sites: allocationSites(profile.head) });
    });
  }
});
process.on('disconnect', () => process.exit(0));
