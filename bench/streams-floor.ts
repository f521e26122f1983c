/**
 * The runtime's floor for any WebSocketStream: what its WHATWG streams cost
 * with no socket and no protocol at all. A message is enqueued into a
 * ReadableStream, read, and written to a WritableStream whose sink completes
 * at once (both with the count strategy of highWaterMark 1 that
 * WebSocketStream uses), in one stream pair and spread over 1,000 live pairs
 * (a server's connections); the heap a readable+writable pair holds once
 * piped into each other (a server echoing with the runtime's pipeTo) and
 * with a reader and a writer (streams in use: the least a connection whose
 * streams are read and written holds); and the time to make and lock a pair.
 *
 * Run by run.ts in its own process with --expose-gc (for the heap figure);
 * sends one `result` message over IPC, or prints when run by hand:
 *   node --expose-gc .tmp/bench-build/streams-floor.js
 */

export interface FloorResult {
  /** ns per message read and written, one stream pair. */
  onePair: number;
  /** ns per message read and written, round-robin over 1,000 stream pairs. */
  manyPairs: number;
  /** Heap bytes per readable+writable pair piped into each other. */
  pipedPairBytes: number;
  /** Heap bytes per readable+writable pair, each locked by a reader or writer (streams in use, no pipe). */
  lockedPairBytes: number;
  /** µs to make a readable+writable pair and lock both: opening a connection, in streams alone. */
  pairMicros: number;
}

const MANY = 1000;
const MESSAGES = 300_000;

interface Pair {
  controller: ReadableStreamDefaultController<Uint8Array>;
  reader: ReadableStreamDefaultReader<Uint8Array>;
  writer: WritableStreamDefaultWriter<Uint8Array>;
}

function makePair(): Pair {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const readable = new ReadableStream<Uint8Array>(
    {
      start: (c) => {
        controller = c;
      },
    },
    new CountQueuingStrategy({ highWaterMark: 1 }),
  );
  const writable = new WritableStream<Uint8Array>(
    { write: () => {} },
    new CountQueuingStrategy({ highWaterMark: 1 }),
  );
  return { controller, reader: readable.getReader(), writer: writable.getWriter() };
}

/** ns per message, the best of 3 rounds (the first ones warm the JIT up). */
async function perMessage(count: number): Promise<number> {
  const pairs = Array.from({ length: count }, makePair);
  const message = new Uint8Array(64);
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    for (let i = 0; i < MESSAGES; i++) {
      const p = pairs[i % count]!;
      p.controller.enqueue(message);
      const r = await p.reader.read();
      void p.writer.write(r.value);
    }
    best = Math.min(best, ((performance.now() - t0) / MESSAGES) * 1e6);
  }
  return best;
}

function pipedPair(): unknown[] {
  const readable = new ReadableStream({}, new CountQueuingStrategy({ highWaterMark: 1 }));
  const writable = new WritableStream({}, new CountQueuingStrategy({ highWaterMark: 1 }));
  return [readable, writable, readable.pipeTo(writable)];
}

/** Heap bytes per pair made by `make`, 1,000 of them held (NaN without --expose-gc). */
function heapPerPair(make: () => unknown): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return NaN;
  const keep: unknown[] = [];
  gc();
  const h0 = process.memoryUsage().heapUsed;
  for (let k = 0; k < MANY; k++) keep.push(make());
  gc();
  const bytes = (process.memoryUsage().heapUsed - h0) / MANY;
  keep.length = 0;
  return bytes;
}

/** µs per pair made and locked, the best of 3 rounds of 10,000. */
function pairMicros(): number {
  const n = 10_000;
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const keep: Pair[] = [];
    const t0 = performance.now();
    for (let i = 0; i < n; i++) keep.push(makePair());
    best = Math.min(best, ((performance.now() - t0) / n) * 1e3);
  }
  return best;
}

const result: FloorResult = {
  onePair: await perMessage(1),
  manyPairs: await perMessage(MANY),
  pipedPairBytes: heapPerPair(pipedPair),
  lockedPairBytes: heapPerPair(makePair),
  pairMicros: pairMicros(),
};
if (process.send !== undefined) {
  process.send({ type: 'result', result }, () => process.exit(0));
} else {
  console.log(`${process.version}`, result);
}
