/**
 * Server memory with permessage-deflate: RSS of a server process holding
 * 1,000 idle compressed connections, then after each of them echoed
 * compressed 4 KiB JSON-like messages; wsstream's serve() (defaults: window
 * bits 12, memLevel 5, one-shot zlib calls) beside ws's WebSocketServer with
 * `perMessageDeflate: true`. The clients are ws clients with compression on
 * (they offer `permessage-deflate; client_max_window_bits`, as browsers do),
 * in this process; the servers each run in their own child process. The
 * messages come from json.ts, the generator of every compressed scenario.
 *
 * Part of scenario (j) of `npm run bench` (run.ts calls
 * {@link measureDeflateMemory}); also runnable alone:
 *
 *   npm run build && node --import tsx bench/deflate-memory.ts [connections] [rounds]
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { serverModule } from './impl.js';
import { jsonMessage } from './json.js';

/** One server's memory with compressed connections (bytes), and the extensions agreed. */
export interface DeflateMemory {
  /** RSS before any connection. */
  base: number;
  /** RSS holding the idle connections. */
  idle: number;
  /** RSS after every connection echoed its messages. */
  busy: number;
  agreed: string;
}

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
    const { serve } = await serverModule(impl);
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

/**
 * Starts `impl`'s server (wsstream, wsstream-base, wsstream-off or ws) on
 * `nodeBin`, opens `n` compressed connections, then has each echo `rounds`
 * 4 KiB JSON-like messages; RSS after GC at each step. Throws when
 * permessage-deflate was not negotiated.
 */
export async function measureDeflateMemory(
  impl: string,
  n: number,
  rounds: number,
  nodeBin = process.execPath,
): Promise<DeflateMemory> {
  const self = fileURLToPath(import.meta.url);
  const child = fork(self, ['server', impl], {
    execPath: nodeBin,
    // Run from the sources (tsx) or from the bench build.
    execArgv: self.endsWith('.ts') ? ['--import', 'tsx', '--expose-gc'] : ['--expose-gc'],
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
  if (impl !== 'wsstream-off' && !agreed.startsWith('permessage-deflate')) {
    for (const ws of clients) ws.terminate();
    child.kill();
    throw new Error(`${impl}: permessage-deflate was not negotiated (extensions: "${agreed}")`);
  }
  await settle();
  const idle = rss(child.pid!);
  for (let r = 0; r < rounds; r++) {
    await Promise.all(
      clients.map(
        (ws, i) =>
          new Promise<void>((resolve) => {
            ws.once('message', () => resolve());
            ws.send(jsonMessage(i + r * n, 4096));
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

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain && role === 'server') {
  await serverMain(process.argv[3]!);
} else if (isMain) {
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
    const m = await measureDeflateMemory(impl, n, rounds);
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
