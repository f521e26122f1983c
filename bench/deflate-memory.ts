/**
 * Server memory with permessage-deflate: RSS of a server process holding
 * 1,000 idle compressed connections, then after each of them echoed
 * compressed 4 KiB JSON-like messages; wsstream's serve() (defaults: window
 * bits 12, memLevel 5, one-shot zlib calls) beside ws's WebSocketServer with
 * `perMessageDeflate: true`. The clients are ws clients with compression on
 * (they offer `permessage-deflate; client_max_window_bits`, as browsers do),
 * in this process; the servers each run in their own child process.
 *
 *   npm run build && node --import tsx bench/deflate-memory.ts [connections] [rounds]
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const role = process.argv[2];

function rss(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

async function serverMain(impl: string): Promise<void> {
  let port: number;
  if (impl === 'ws') {
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (ws) =>
      ws.on('message', (d, bin) => ws.send(d as Buffer, { binary: bin })),
    );
    port = (wss.address() as { port: number }).port;
  } else {
    const { serve } = await import('wsstream/server');
    const options = impl === 'wsstream-off' ? { perMessageDeflate: false } : {};
    const server = await serve({ host: '127.0.0.1', ...options }, async (connection) => {
      const { readable, writable } = await connection.opened;
      await readable.pipeTo(writable).catch(() => {});
    });
    port = server.address.port;
  }
  process.send!({ port });
  process.on('message', (m: { gc?: boolean }) => {
    if (m.gc === true) globalThis.gc?.();
    process.send!({ gcDone: true });
  });
}

function json(i: number): string {
  let s = '';
  for (let k = 0; s.length < 4096; k++)
    s += JSON.stringify({
      id: i,
      k,
      user: `user-${i % 97}`,
      item: `item-${(i * 31 + k) % 1000}`,
      price: (i * k) % 977,
    });
  return s.slice(0, 4096);
}

async function measure(
  impl: string,
  n: number,
  rounds: number,
): Promise<{ base: number; idle: number; busy: number; agreed: string }> {
  const child = fork(fileURLToPath(import.meta.url), ['server', impl], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
  });
  const message = <T>(pred: (m: T) => boolean): Promise<T> =>
    new Promise((resolve) => {
      const on = (m: T) => {
        if (pred(m)) {
          child.off('message', on);
          resolve(m);
        }
      };
      child.on('message', on);
    });
  const { port } = await message<{ port: number }>((m) => 'port' in m);
  const settle = async (): Promise<void> => {
    await new Promise((r) => setTimeout(r, 300));
    child.send({ gc: true });
    await message<{ gcDone: boolean }>((m) => 'gcDone' in m);
    await new Promise((r) => setTimeout(r, 200));
  };
  await settle();
  const base = rss(child.pid!);
  const clients: WebSocket[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = Array.from(
      { length: Math.min(50, n - i) },
      () => new WebSocket(`ws://127.0.0.1:${port}/echo`, { perMessageDeflate: true }),
    );
    await Promise.all(
      batch.map(
        (ws) =>
          new Promise((resolve, reject) => {
            ws.once('open', resolve);
            ws.once('error', reject);
          }),
      ),
    );
    clients.push(...batch);
  }
  const agreed = clients[0]!.extensions;
  await settle();
  const idle = rss(child.pid!);
  for (let r = 0; r < rounds; r++) {
    await Promise.all(
      clients.map(
        (ws, i) =>
          new Promise<void>((resolve) => {
            ws.once('message', () => resolve());
            ws.send(json(i + r));
          }),
      ),
    );
  }
  await settle();
  const busy = rss(child.pid!);
  for (const ws of clients) ws.terminate();
  child.kill();
  return { base, idle, busy, agreed };
}

if (role === 'server') {
  await serverMain(process.argv[3]!);
} else {
  const n = Number(process.argv[2] ?? 1000);
  const rounds = Number(process.argv[3] ?? 5);
  const MiB = (b: number): string => (b / 1048576).toFixed(1).padStart(7);
  console.log(
    `${n} connections, ws clients with permessage-deflate; server process RSS (MiB), after GC`,
  );
  console.log(
    `${'server'.padEnd(34)}${'empty'.padStart(7)} ${'idle'.padStart(7)} ${'echoed'.padStart(7)}   per conn idle / echoed`,
  );
  for (const impl of ['wsstream', 'ws', 'wsstream-off']) {
    const m = await measure(impl, n, rounds);
    const label =
      impl === 'ws'
        ? 'ws perMessageDeflate: true'
        : impl === 'wsstream'
          ? 'wsstream (default deflate)'
          : 'wsstream perMessageDeflate: false';
    console.log(
      `${label.padEnd(34)}${MiB(m.base)} ${MiB(m.idle)} ${MiB(m.busy)}   ${((m.idle - m.base) / n / 1024).toFixed(1)} KiB / ${((m.busy - m.base) / n / 1024).toFixed(1)} KiB   [${m.agreed}]`,
    );
  }
  console.log(
    `(echoed: after ${rounds} rounds of one 4 KiB JSON-like message per connection, all connections at once)`,
  );
}
