/**
 * The Transport of a session over a Deno connection (`Deno.TcpConn` or
 * `Deno.TlsConn`), read and written with Deno's own pull-based API.
 *
 * Why: Deno's `node:tls` sockets keep reading from TCP into memory after
 * `pause()` (Deno 2.9: a paused client took a 50 MiB flood in whole), so
 * receive backpressure never reached the kernel. Here nothing is read unless
 * the session asked for data: `read()` is called only while resumed, so the
 * kernel's receive window fills and the peer's writes block.
 */
import { holdLoop, letLoopGo } from '../node/loop-hold.js';
import type { Transport, TransportHandlers } from '../streams/transport.js';

/** The part of `Deno.Conn` this module uses. */
export interface DenoConn {
  read(buffer: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
}

/**
 * Size of each read: 64 KiB. A paused session may hold one read beyond its
 * readable's high-water mark, as with Node sockets.
 */
export const DENO_READ_SIZE = 64 * 1024;

export class DenoConnTransport implements Transport {
  readonly #conn: DenoConn;
  #handlers: TransportHandlers | null = null;
  #paused = true;
  #reading = false;
  #closed = false;
  #ending = false;
  #ended = false;
  /** Our FIN was sent. */
  #halfClosed = false;
  /** The peer's FIN was read. */
  #readEnded = false;
  /** Writes not yet taken by the kernel, in order. */
  #queue: Array<{ chunks: Uint8Array[]; callback: (error?: Error | null) => void }> = [];
  #writing = false;
  #buffered = 0;
  #bytesRead = 0;
  constructor(conn: DenoConn) {
    this.#conn = conn;
  }

  attach(handlers: TransportHandlers): void {
    if (this.#handlers !== null) throw new Error('Transport already attached');
    this.#handlers = handlers;
    // Paused, no read is pending, and a pending read is what keeps Deno
    // running: held until reading starts (src/node/loop-hold.ts).
    if (!this.#closed) holdLoop(this);
  }

  write(chunks: Uint8Array[], callback: (error?: Error | null) => void): boolean {
    if (this.#closed || this.#ending) {
      callback(new Error('The socket is closed'));
      return false;
    }
    for (const c of chunks) this.#buffered += c.length;
    this.#queue.push({ chunks, callback });
    if (!this.#writing) void this.#writeLoop();
    return false;
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    // Each item leaves the queue only once the kernel took all of it, so a
    // failure or a destroy() reports it with the rest.
    for (let item = this.#queue[0]; item !== undefined && !this.#closed; item = this.#queue[0]) {
      try {
        for (const chunk of item.chunks) {
          let offset = 0;
          while (offset < chunk.length) offset += await this.#conn.write(chunk.subarray(offset));
          if (this.#closed) break;
          this.#buffered -= chunk.length;
        }
      } catch (error) {
        this.#writing = false;
        this.#fail(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      // A destroy() while the last write was in flight already failed this
      // item (with the rest of the queue): its callback must not run twice.
      if (this.#closed) break;
      this.#queue.shift();
      item.callback();
    }
    this.#writing = false;
    if (this.#ending && !this.#ended && !this.#closed) await this.#closeWrite();
  }

  async #readLoop(): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    const buffer = new Uint8Array(DENO_READ_SIZE);
    try {
      while (!this.#paused && !this.#closed) {
        const n = await this.#conn.read(buffer);
        if (this.#closed) return;
        if (n === null) {
          this.#readEnded = true;
          this.#handlers!.onEnd();
          // As a Node socket without allowHalfOpen: the peer's FIN ends our side too.
          this.end();
          if (this.#halfClosed) this.destroy();
          return;
        }
        this.#bytesRead += n;
        this.#handlers!.onData(buffer.subarray(0, n));
      }
    } catch (error) {
      if (!this.#closed) this.#fail(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.#reading = false;
    }
  }

  pause(): void {
    this.#paused = true;
    if (!this.#closed) holdLoop(this);
  }

  resume(): void {
    this.#paused = false;
    letLoopGo(this);
    if (!this.#reading && !this.#closed) void this.#readLoop();
  }

  end(): void {
    if (this.#ending || this.#closed) return;
    this.#ending = true;
    if (!this.#writing) void this.#closeWrite();
  }

  async #closeWrite(): Promise<void> {
    this.#ended = true;
    try {
      await this.#conn.closeWrite();
    } catch {
      // Already closed by the peer: nothing left to half-close.
    }
    this.#halfClosed = true;
    // Both directions are done: the connection is over.
    if (this.#readEnded) this.destroy();
  }

  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    letLoopGo(this);
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    this.#flushQueue(new Error('The socket is closed'));
    queueMicrotask(() => this.#handlers?.onClose());
  }

  #fail(error: Error): void {
    if (this.#closed) return;
    this.#handlers?.onError(error);
    this.destroy();
  }

  #flushQueue(error: Error): void {
    const queue = this.#queue;
    this.#queue = [];
    this.#buffered = 0;
    for (const item of queue) item.callback(error);
  }

  get bufferedAmount(): number {
    return this.#buffered;
  }

  get bytesRead(): number {
    return this.#bytesRead;
  }
}
