/**
 * `wsstream demo` (`npm start`): backpressure you can watch. A server on
 * 127.0.0.1 and a client in this process; the client streams a few hundred
 * MiB through a deliberately slow consumer, then through one at full speed,
 * with a live line of bytes, messages/s, bytes held in user space and RSS.
 *
 * "Held in user space" is counted from the library, not estimated:
 * - sender: the Duplex's buffer (`writableLength`, which includes the message
 *   handed to the socket and not yet taken by the operating system) plus the
 *   source's buffer (`readableLength`);
 * - receiver: the messages queued in the WebSocketStream readable (counted by
 *   the size function of its queuing strategy, an option of serve(), which
 *   runs for every message that enters the queue), the
 *   message being assembled by the core (`bufferedMessageBytes`), and the
 *   message the consumer is working on.
 * Everything else in flight sits in the kernel's socket buffers.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { serve, type WebSocketConnection } from '../server.js';
import { toDuplex } from '../index.js';
import type { WebSocketMessage } from '../index.js';
import { WebSocketStream } from '../index.js';
import { parseCommand, str, UsageError } from './args.js';
import type { Stdio } from './connect.js';
import { ExitCode } from './exit-codes.js';
import { DEMO_HELP } from './help.js';

const MiB = 1024 * 1024;
/** Bytes per message. */
const MESSAGE_SIZE = 64 * 1024;
/** Pace of the slow consumer, bytes per second. */
const SLOW_RATE = 32 * MiB;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  'slow-mb': { type: 'string' },
  'fast-mb': { type: 'string' },
} as const;

/** What one phase measured. */
interface PhaseResult {
  name: string;
  bytes: number;
  messages: number;
  seconds: number;
  peakHeld: number;
  peakSend: number;
  peakReceive: number;
  minRss: number;
  peakRss: number;
  intact: boolean;
}

/** Counters of the receiving side, fed by the readable's queuing strategy and the consumer. */
class ReceiveCounters {
  /** Bytes in the readable's queue (a message handed straight to a waiting read never enters it). */
  queued = 0;
  consumed = 0;
  holding = 0;
  messages = 0;
  connection: WebSocketConnection | null = null;

  /** Bytes held on the receiving side right now. */
  held(): number {
    const partial = this.connection?.stats.bufferedBytes ?? 0;
    return this.queued + partial + this.holding;
  }
}

function byteLength(message: WebSocketMessage): number {
  return typeof message === 'string' ? Buffer.byteLength(message) : message.byteLength;
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

function kib(bytes: number): string {
  return bytes < MiB ? `${Math.round(bytes / 1024)} KiB` : mib(bytes);
}

function parseMb(value: string | undefined, fallback: number, option: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`${option}: "${value}" is not a positive number of MiB`);
  return n;
}

/** Runs the demo; resolves with 0 when every byte arrived intact. */
export async function demoCommand(argv: string[], stdio: Stdio): Promise<number> {
  const parsed = parseCommand(argv, OPTIONS, DEMO_HELP, stdio.stdout, 0);
  if (parsed === null) return ExitCode.OK;
  const { values } = parsed;
  const slowMb = parseMb(str(values, 'slow-mb'), 256, '--slow-mb');
  const fastMb = parseMb(str(values, 'fast-mb'), 512, '--fast-mb');
  const out = stdio.stdout;
  // The reader of the output went away (`| head`): nothing more can be shown. Stop quietly,
  // as connect does on EPIPE, rather than die of an unhandled 'error' with a stack trace.
  out.on('error', () => process.exit(ExitCode.OK));
  const live = out.isTTY === true;
  const print = (line: string): void => {
    out.write(`${line}\n`);
  };

  let counters = new ReceiveCounters();
  let consumerRate = 0; // bytes per second; 0 is full speed
  const server = await serve(
    {
      host: '127.0.0.1',
      port: 0,
      // The default count strategy (one message), with a size function that counts the bytes queued.
      readableStrategy: {
        highWaterMark: 1,
        size: (message: WebSocketMessage) => {
          counters.queued += byteLength(message);
          return 1;
        },
      },
    },
    async (connection) => {
      const c = counters;
      c.connection = connection;
      const rate = consumerRate;
      const { readable } = await connection.opened;
      const reader = readable.getReader();
      const start = performance.now();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const size = byteLength(value);
        // The queue is first in, first out, and a read is served straight only when it is empty.
        if (c.queued > 0) c.queued -= size;
        c.consumed += size;
        c.messages++;
        if (rate > 0) {
          // "Process" the message at the consumer's pace, holding it meanwhile.
          c.holding = size;
          const due = (c.consumed / rate) * 1000 - (performance.now() - start);
          if (due > 1) await sleep(due);
          c.holding = 0;
        }
      }
    },
  );

  print(
    `wsstream demo: server on ${server.url}, client in this process, ${MESSAGE_SIZE / 1024} KiB messages of random bytes (uncompressed)`,
  );
  print(`RSS at start: ${mib(process.memoryUsage.rss())}`);
  print('');

  const runPhase = async (name: string, totalMb: number, rate: number): Promise<PhaseResult> => {
    counters = new ReceiveCounters();
    consumerRate = rate;
    const c = counters;
    const total = totalMb * MiB;
    // Random bytes: with data that compresses, permessage-deflate would carry hundreds of
    // MiB in the kernel's buffers as a few KiB, and the sender would finish before the
    // consumer started. Compression is off for the same reason: random data does not shrink.
    const payload = randomBytes(MESSAGE_SIZE);
    let produced = 0;
    const source = new Readable({
      highWaterMark: MESSAGE_SIZE,
      read() {
        if (produced >= total) {
          this.push(null);
          return;
        }
        produced += MESSAGE_SIZE;
        this.push(payload);
      },
    });
    const ws = new WebSocketStream(server.url, { perMessageDeflate: false });
    const duplex = toDuplex(ws, { stringsAs: 'binary' });
    duplex.resume(); // nothing comes back; 'close' needs the readable side consumed

    const start = performance.now();
    let peakHeld = 0;
    let peakRss = 0;
    let minRss = Infinity;
    let peakSend = 0;
    let peakReceive = 0;
    let lastPrint = 0;
    const sample = (final: boolean): void => {
      const now = performance.now();
      const seconds = (now - start) / 1000;
      const sent = produced - source.readableLength - duplex.writableLength;
      const heldSend = source.readableLength + duplex.writableLength;
      const heldReceive = c.held();
      const held = heldSend + heldReceive;
      const rss = process.memoryUsage.rss();
      peakHeld = Math.max(peakHeld, held);
      peakRss = Math.max(peakRss, rss);
      minRss = Math.min(minRss, rss);
      peakSend = Math.max(peakSend, heldSend);
      peakReceive = Math.max(peakReceive, heldReceive);
      const line =
        `${name.padEnd(4)} sent ${mib(sent).padStart(9)}  read ${mib(c.consumed).padStart(9)}  ` +
        `${String(Math.round(c.messages / Math.max(seconds, 0.001))).padStart(4)} msg/s  ` +
        `held ${kib(held).padStart(7)}  RSS ${mib(rss)}`;
      if (live) {
        out.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
      } else if (final || now - lastPrint >= 1000) {
        lastPrint = now;
        print(line);
      }
    };
    const timer = setInterval(() => sample(false), 200);
    try {
      await pipeline(source, duplex);
      await ws.closed;
      // The server's reader sees the end right after the Close; wait for it to finish counting.
      while (c.consumed < total && performance.now() - start < 60_000) await sleep(5);
    } finally {
      clearInterval(timer);
    }
    sample(true);
    const seconds = (performance.now() - start) / 1000;
    return {
      name,
      bytes: c.consumed,
      messages: c.messages,
      seconds,
      peakHeld,
      peakSend,
      peakReceive,
      minRss,
      peakRss,
      intact: c.consumed === total && c.messages === total / MESSAGE_SIZE,
    };
  };

  const results: PhaseResult[] = [];
  try {
    print(
      `1. ${slowMb} MiB through a consumer that reads ${SLOW_RATE / MiB} MiB/s: the sender is held back`,
    );
    results.push(await runPhase('slow', slowMb, SLOW_RATE));
    print('');
    print(`2. ${fastMb} MiB through a consumer at full speed`);
    results.push(await runPhase('fast', fastMb, 0));
  } finally {
    await server.close();
  }

  print('');
  print('Summary');
  print(
    '  phase       data     time     throughput  msg/s  peak held (send + receive)   RSS during phase',
  );
  for (const r of results) {
    print(
      `  ${r.name.padEnd(5)} ${mib(r.bytes).padStart(10)} ${`${r.seconds.toFixed(1)} s`.padStart(7)} ` +
        `${`${mib(r.bytes / r.seconds)}/s`.padStart(14)} ${String(Math.round(r.messages / r.seconds)).padStart(6)}  ` +
        `${`${kib(r.peakHeld)} (${kib(r.peakSend)} + ${kib(r.peakReceive)})`.padEnd(27)} ` +
        `${mib(r.minRss)} - ${mib(r.peakRss)}`,
    );
  }
  const intact = results.every((r) => r.intact);
  const peakHeld = Math.max(...results.map((r) => r.peakHeld));
  print('');
  print(
    intact
      ? `Every byte arrived. User space never held more than ${kib(peakHeld)}: the rest waited in TCP, ` +
          "and the slow consumer set the sender's pace."
      : 'Some data did not arrive: this is a bug.',
  );
  return intact ? ExitCode.OK : ExitCode.ERROR;
}
