/**
 * A Transport the test drives by hand: it records every write and completes
 * them only when told to (or at once in `sync` mode), counts pauses and
 * resumes, and delivers the peer's bytes, FIN and close when the test says
 * so. With it, close and backpressure orderings are tested step by step,
 * without sockets or timing.
 */
import type { Role } from '../../src/core/connection.js';
import type { Transport, TransportHandlers } from '../../src/streams/transport.js';
import { parseChunks, type ParsedFrame } from '../core/helpers.js';

interface PendingWrite {
  chunks: Uint8Array[];
  callback: (error?: Error | null) => void;
}

export class FakeTransport implements Transport {
  handlers: TransportHandlers | null = null;
  /** How writes complete: 'sync' hands them to the "kernel" at once; 'manual' waits for {@link complete}. */
  mode: 'sync' | 'manual' = 'sync';
  /** Answer batched writes with 'batched' (as a socket transport with an empty buffer does). */
  acceptBatches = false;
  paused = true;
  pauses = 0;
  resumes = 0;
  ended = false;
  destroyed = false;
  closed = false;
  bytesRead = 0;
  /** Bytes the "kernel" took, in order. */
  readonly taken: Uint8Array[] = [];
  /** Writes waiting for {@link complete}, in order. */
  readonly pending: PendingWrite[] = [];

  attach(handlers: TransportHandlers): void {
    if (this.handlers !== null) throw new Error('Transport already attached');
    this.handlers = handlers;
  }

  write(
    chunks: Uint8Array[],
    callback: (error?: Error | null) => void,
    batch?: boolean,
  ): boolean | 'batched' {
    if (this.destroyed || this.ended) {
      callback(new Error('The socket is closed'));
      return false;
    }
    if (this.mode === 'sync' && this.pending.length === 0) {
      for (const c of chunks) this.taken.push(c.slice());
      queueMicrotask(() => callback());
      return true;
    }
    this.pending.push({ chunks: chunks.map((c) => c.slice()), callback });
    return batch === true && this.acceptBatches ? 'batched' : false;
  }

  /** The kernel takes the first `n` pending writes: their callbacks run, in order. */
  complete(n = this.pending.length): void {
    for (const w of this.pending.splice(0, n)) {
      for (const c of w.chunks) this.taken.push(c);
      w.callback();
    }
  }

  /** The pending writes fail (the connection was lost). */
  failPending(error: Error): void {
    for (const w of this.pending.splice(0)) w.callback(error);
  }

  pause(): void {
    this.paused = true;
    this.pauses++;
  }

  resume(): void {
    this.paused = false;
    this.resumes++;
  }

  end(): void {
    this.ended = true;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.failPending(new Error('The socket was destroyed'));
    this.close();
  }

  get bufferedAmount(): number {
    let n = 0;
    for (const w of this.pending) for (const c of w.chunks) n += c.length;
    return n;
  }

  // ---- the peer's side ----------------------------------------------------

  /** Bytes from the peer (whether or not reading is paused: the test decides). */
  receive(...chunks: Uint8Array[]): void {
    for (const c of chunks) {
      this.bytesRead += c.length;
      this.handlers!.onData(c);
    }
  }

  /** The peer's FIN. */
  peerEnd(): void {
    this.handlers!.onEnd();
  }

  /** The transport closed (after an error, if given). */
  close(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (error !== undefined) this.handlers!.onError(error);
    this.handlers!.onClose();
  }

  /** The frames the kernel took, parsed as the peer of `role` reads them. */
  frames(role: Role): ParsedFrame[] {
    const rec = parseChunks(this.taken, { expectMasked: role === 'client' });
    if (rec.error !== null) throw rec.error;
    return rec.frames;
  }
}

/** Lets queued microtasks and promise reactions run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise<void>((resolve) => setImmediate(resolve));
}
