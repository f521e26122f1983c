/**
 * The byte transport a session runs on: a thin seam so the WHATWG layer knows
 * nothing of Node sockets (Deno and Bun adapters implement the same shape).
 */

/**
 * What the transport reports, as methods of one object (the session itself):
 * the transport calls them on it, never as detached functions, so a
 * connection needs no closure per handler. The names are the session's own
 * and distinct from the rest of its API.
 */
export interface TransportHandlers {
  /** Bytes arrived. The transport may reuse `chunk` after the call returns. */
  onData(chunk: Uint8Array): void;
  /** The peer closed its sending side (TCP FIN). */
  onEnd(): void;
  /** The transport is fully closed; nothing more will be reported. */
  onClose(): void;
  /** An error; `onClose` follows. */
  onError(error: Error): void;
  /**
   * For transports that can choose where each read goes (Node's `onread`):
   * asked after every read, before the next. A buffer: read straight into it
   * (at most its length), then report with {@link inPlace} instead of
   * {@link onData}. A number: read at most that many bytes into the
   * transport's own buffer. Transports that cannot choose never ask.
   */
  nextRead?(): Uint8Array | number;
  /** `n` bytes were read into the buffer the last {@link nextRead} returned. */
  inPlace?(n: number): void;
}

export interface Transport {
  /** Installs the handlers. Reading stays paused until {@link Transport.resume}. */
  attach(handlers: TransportHandlers): void;
  /**
   * Writes `chunks` in order; `callback` runs once they were all handed to the
   * operating system, or with an error if that can no longer happen, and the
   * callbacks of a transport's writes run in the order of the writes. Returns
   * true when they were all handed to the operating system before returning
   * (`callback` then runs without an error, possibly before `write` returns);
   * anything else means "not yet".
   *
   * With `batch`, the chunks may instead join the batch of the current turn
   * of the event loop: every chunk written so in one turn is handed to the
   * operating system in one system call at the end of the turn, before any
   * I/O or timer is processed. The transport then returns 'batched' (and
   * `callback` runs once the batch was handed over). It does so only while
   * nothing it was given earlier is still waiting for the operating system
   * and the batch stays within a bound of its own, so what a batched write
   * leaves in user space is bounded too; it may also keep large writes out
   * of batches (the Node transport batches writes of at most 16 KiB).
   */
  write(
    chunks: Uint8Array[],
    callback: (error?: Error | null) => void,
    batch?: boolean,
  ): boolean | 'batched' | void;
  /** Stops reading: the kernel's receive window then fills and the peer's writes block. */
  pause(): void;
  /** Resumes reading. */
  resume(): void;
  /** Half-closes: FIN after pending writes. */
  end(): void;
  /** Closes now, dropping pending writes. */
  destroy(): void;
  /**
   * Whether the connection ended while bytes given to {@link Transport.write}
   * still waited for the operating system. node:net calls the callback of a
   * write cut short so without an error; a transport on it says so here, and
   * a callback without an error that runs once this is true is a failure.
   */
  readonly cutShort?: boolean;
  /** Bytes accepted by {@link Transport.write} but not yet handed to the operating system. */
  readonly bufferedAmount: number;
  /** Bytes read from the operating system so far. */
  readonly bytesRead: number;
  /** Of {@link bytesRead}, those not yet handed to the handlers (read ahead while paused). */
  readonly undelivered?: number;
}
