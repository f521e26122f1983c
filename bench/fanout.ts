/**
 * Scenario (i) of `npm run bench`: fan-out over Redis. Two server processes
 * (bench/fanout-server.ts) joined by one real redis-server, 1,000 `ws`
 * subscribers split over them, one publisher on the first sending 64-byte
 * messages as fast as it can: messages delivered per second (counted at the
 * subscribers) and the servers' RSS, for wsstream (Hub + redisBroker) and for
 * the same fan-out written with ws + node-redis. Skipped, with a note, when
 * redis-server is not installed. Also runnable alone:
 * `node .tmp/bench-build/fanout.js [--quick]`.
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import WebSocket from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
const SUBSCRIBERS = Number(process.env.FANOUT_SUBSCRIBERS ?? 1000);
const progress = (line: string): void => {
  if (process.env.FANOUT_VERBOSE === '1') process.stderr.write(`fanout: ${line}\n`);
};

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as { port: number };
  s.close();
  return port;
}

async function startRedis(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', () => reject(new Error(`redis-server exited: ${out}`)));
  });
  child.stdout.resume();
  return { url: `redis://127.0.0.1:${port}`, child };
}

interface Server {
  child: ChildProcess;
  port: number;
  rss(): Promise<number>;
}

async function startServer(impl: string, redisUrl: string, nodeBin: string): Promise<Server> {
  const child = fork(join(here, 'fanout-server.js'), [impl, redisUrl], {
    execPath: nodeBin,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [m] = (await once(child, 'message')) as [{ port: number }];
  return {
    child,
    port: m.port,
    rss: async () => {
      child.send({ type: 'rss' });
      const [r] = (await once(child, 'message')) as [{ rss: number }];
      return r.rss;
    },
  };
}

interface FanoutResult {
  impl: string;
  messages: number;
  delivered: number;
  msgPerSec: number;
  idleRss: number;
  peakRss: number;
}

async function runOne(
  impl: string,
  redisUrl: string,
  messages: number,
  nodeBin: string,
): Promise<FanoutResult> {
  const servers = [
    await startServer(impl, redisUrl, nodeBin),
    await startServer(impl, redisUrl, nodeBin),
  ];
  let received = 0;
  let last = 0;
  const subs: WebSocket[] = [];
  for (let i = 0; i < SUBSCRIBERS; i += 50) {
    const batch = [];
    for (let j = i; j < i + 50; j++) {
      const ws = new WebSocket(`ws://127.0.0.1:${servers[j % 2]!.port}/`);
      ws.on('message', () => {
        received++;
        last = performance.now();
      });
      ws.on('error', () => {});
      subs.push(ws);
      batch.push(once(ws, 'open'));
    }
    await Promise.all(batch);
  }
  progress(`${impl}: ${SUBSCRIBERS} subscribers connected`);
  const publisher = new WebSocket(`ws://127.0.0.1:${servers[0]!.port}/`);
  await once(publisher, 'open');
  // Warm-up: one message reaches everyone (the Redis subscriptions are in place).
  const waitFor = async (n: number, ms: number): Promise<void> => {
    const end = Date.now() + ms;
    let seen = received;
    let stall = Date.now();
    while (received < n && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
      if (Math.floor(Date.now() / 1000) !== Math.floor((Date.now() - 20) / 1000))
        progress(`received ${received}`);
      if (received !== seen) {
        seen = received;
        stall = Date.now();
      } else if (Date.now() - stall > 3000) return;
    }
  };
  for (let tries = 0; received < SUBSCRIBERS && tries < 50; tries++) {
    received = 0;
    publisher.send(new Uint8Array(64));
    await waitFor(SUBSCRIBERS, 500);
  }
  progress(`${impl}: warm-up done (${received} of ${SUBSCRIBERS})`);
  const idleRss = (await servers[0]!.rss()) + (await servers[1]!.rss());
  received = 0;
  const payload = new Uint8Array(64);
  const start = performance.now();
  for (let i = 0; i < messages; i++) publisher.send(payload);
  await waitFor(SUBSCRIBERS * messages, 120_000);
  progress(`${impl}: ${received} received`);
  const seconds = (last - start) / 1000;
  const peakRss = (await servers[0]!.rss()) + (await servers[1]!.rss());
  const delivered = received;
  progress(`${impl}: measured`);
  for (const ws of [...subs, publisher]) ws.terminate();
  for (const s of servers) {
    s.child.kill();
    await once(s.child, 'exit');
  }
  return { impl, messages, delivered, msgPerSec: delivered / seconds, idleRss, peakRss };
}

/** Runs scenario (i) and returns its Markdown section. */
export async function runFanout(quick: boolean, nodeBin = process.execPath): Promise<string> {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    return '### (i) fan-out over Redis\n\nSkipped: redis-server is not installed (Debian: apt-get install redis-server).\n';
  }
  const redis = await startRedis();
  const messages = quick ? 100 : 500;
  const results: FanoutResult[] = [];
  try {
    for (const impl of ['wsstream', 'ws'])
      results.push(await runOne(impl, redis.url, messages, nodeBin));
  } finally {
    redis.child.kill();
  }
  const mb = (b: number): string => (b / 1e6).toFixed(0);
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  const lines = [
    '### (i) fan-out over Redis',
    '',
    `${SUBSCRIBERS} subscribers over 2 server processes and one redis-server, one publisher sending ${messages} messages of 64 B (${n(SUBSCRIBERS * messages)} deliveries expected); one run.`,
    '',
    `| server | delivered msg/s | delivered | RSS of both servers, idle with ${n(SUBSCRIBERS)} connections (MB) | after the run (MB) |`,
    '| --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.impl === 'ws' ? 'ws + node-redis' : 'wsstream Hub + redisBroker'} | ${n(r.msgPerSec)} | ${n(r.delivered)} | ${mb(r.idleRss)} | ${mb(r.peakRss)} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(await runFanout(process.argv.includes('--quick')));
}
