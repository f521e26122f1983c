/**
 * The Transport of a session over a node:net or node:tls socket.
 */
import type { Socket } from 'node:net';
import { setAllocator, setFrameAllocator } from '../core/allocate.js';
import type { Transport, TransportHandlers } from '../streams/transport.js';
import { holdLoop, letLoopGo } from './loop-hold.js';

/**
 * Below this many bytes a plain `new Uint8Array` is the cheaper allocation
 * (V8 allocates tiny arrays on its heap; the zero fill costs nothing at this
 * size): 4 KiB.
 */
const SMALL_ALLOCATION = 4096;

/** What a write queued only for its callback carries. */
const NOTHING = Buffer.alloc(0);

// Message and frame buffers are written in full before use: skip the zero fill
// (see bench/RESULTS.md, "Measurements behind the code"). A plain Uint8Array
// over the Buffer's own memory.
setAllocator((size) => {
  if (size < SMALL_ALLOCATION) return new Uint8Array(size);
  const buffer = Buffer.allocUnsafeSlow(size);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, size);
});
// Frames only go to sockets: as Buffers (and slices of them), a socket takes
// them without wrapping each one in a new Buffer first.
setFrameAllocator((size) => Buffer.allocUnsafeSlow(size));

/**
 * Size of the read buffer shared by the TCP sockets this module reads with
 * `onread`: 1 MiB. One read can bring up to this many bytes, so a paused
 * session may hold up to one read's worth of messages beyond its readable's
 * high-water mark.
 */
export const READ_BUFFER_SIZE = 1 << 20;

/**
 * One buffer for every socket of the process: reads are synchronous and every
 * consumer copies what it keeps before returning (the core's `receiveData`
 * contract), so the buffer is free again as soon as a read was delivered.
 */
let sharedReadBuffer: Uint8Array | undefined;

/** Who reads a relay now: the opening handshake (`onData` only), then the session. */
export type RelayReader = Pick<TransportHandlers, 'onData' | 'nextRead' | 'inPlace'>;

/**
 * Delivers the bytes of a socket created with net.connect's `onread` option
 * (see {@link ReadRelay.onread}) to whoever reads the socket now: the opening
 * handshake, then the session. Chunks are views of the shared read buffer,
 * valid only during the call; bytes that arrive while nobody reads are copied
 * and kept until a handler is installed. A session may also have a read go
 * straight into a buffer of its own (the rest of a large frame's payload),
 * which spares copying those bytes out of the shared buffer.
 */
export class ReadRelay {
  #reader: RelayReader | null = null;
  #pending: Uint8Array[] = [];
  /** The reader, if it places reads itself (has `nextRead` and `inPlace`). */
  #placement: RelayReader | null = null;
  /** The buffer of the session's own that the next read goes into, if any. */
  #target: Uint8Array | null = null;
  /**
   * Bytes this relay was handed. Counted here because Bun leaves
   * `socket.bytesRead` at 0 for sockets that read with `onread` (Bun 1.4).
   */
  bytesRead = 0;

  /** The `onread` option for net.connect: where each read goes, and a callback that hands it on. */
  get onread(): {
    buffer: () => Uint8Array;
    callback: (n: number, buf: Uint8Array) => boolean;
  } {
    return {
      // Called once at the start, then after every callback, for the next read.
      buffer: () => this.#nextBuffer(),
      callback: (n, buf) => {
        this.bytesRead += n;
        if (buf === this.#target && this.#target !== null) {
          this.#target = null;
          this.#placement!.inPlace!(n);
          return true;
        }
        const chunk = buf.subarray(0, n);
        // A copy (not slice(): a runtime that hands back a Buffer would make it a view).
        if (this.#reader === null) this.#pending.push(new Uint8Array(chunk));
        else this.#reader.onData(chunk);
        return true;
      },
    };
  }

  #nextBuffer(): Uint8Array {
    sharedReadBuffer ??= new Uint8Array(READ_BUFFER_SIZE);
    this.#target = null;
    const want = this.#placement?.nextRead?.() ?? READ_BUFFER_SIZE;
    if (typeof want !== 'number') {
      if (want.length === 0) return sharedReadBuffer;
      this.#target = want;
      return want;
    }
    return want >= READ_BUFFER_SIZE ? sharedReadBuffer : sharedReadBuffer.subarray(0, want);
  }

  /** Installs the reader (null: keep copies of what arrives until the next one is installed). */
  setReader(reader: RelayReader | null): void {
    this.#reader = reader;
    this.#placement =
      reader !== null && reader.inPlace !== undefined && reader.nextRead !== undefined
        ? reader
        : null;
    if (reader === null) return;
    const pending = this.#pending;
    this.#pending = [];
    for (const chunk of pending) reader.onData(chunk);
  }
}

/**
 * Most bytes of frames one turn's batch of writes may hold: 64 KiB (see
 * `batchWrites`). A write that would take the batch past it waits for the
 * operating system, as writes do without batching; so does every write while
 * an earlier batch still waits for the kernel to take it. This is the most a
 * resolved `write()` may leave in user space.
 */
export const BATCH_LIMIT = 64 * 1024;

/**
 * Largest write (a message's frames) that joins a batch: 16 KiB. Larger ones
 * wait for the operating system as without batching: their system call costs
 * little next to their bytes, and a resolved write of them means "the kernel
 * has it", exactly.
 */
export const BATCH_WRITE_MAX = 16 * 1024;

/** The transports whose batch the next tick hands to the kernel. */
let batchesDue: SocketTransport[] = [];
/** Counts the turns in which something was written (see {@link endTurn}). */
let turn = 0;
let endOfTurnScheduled = false;

/** Ends a turn: flushes every batch of it, in the order they were started. */
function endTurn(): void {
  endOfTurnScheduled = false;
  turn++;
  const due = batchesDue;
  batchesDue = [];
  for (let i = 0; i < due.length; i++) SocketTransport.flushBatch(due[i]!);
}

/** One tick ends the turn for every socket (thousands of connections schedule one, not one each). */
function scheduleEndOfTurn(): void {
  if (endOfTurnScheduled) return;
  endOfTurnScheduled = true;
  process.nextTick(endTurn);
}

/**
 * The handlers of the session each socket carries, in a property of the
 * socket under a symbol of ours (as ws keeps its WebSocket on the socket).
 * Not in a WeakMap: every entry of a weak collection is an ephemeron, which
 * V8's garbage collector must revisit in each collection while its key is
 * alive; with thousands of connections open that cost more than anything
 * else a connection keeps. The property is added to every socket a
 * session takes, in the same place, so all of them share one hidden class.
 * `null` until attached: the socket is taken, with no handlers yet.
 */
const HANDLERS = Symbol('wsstream.handlers');
type SessionSocket = Socket & { [HANDLERS]?: TransportHandlers | null };

/**
 * Marks `socket` as taken by a session, before the opening handshake: false
 * if it was taken before (two sessions would both answer and both read its
 * frames).
 */
export function takeSocket(socket: object): boolean {
  const s = socket as SessionSocket;
  if (s[HANDLERS] !== undefined) return false;
  s[HANDLERS] = null;
  return true;
}

function handlersOf(socket: Socket): TransportHandlers {
  return (socket as SessionSocket)[HANDLERS]!;
}

// The socket's listeners, one of each for every socket (`this` is the socket).
function onSocketData(this: Socket, chunk: Uint8Array): void {
  handlersOf(this).onData(chunk);
}
function onSocketEnd(this: Socket): void {
  handlersOf(this).onEnd();
}
function onSocketError(this: Socket, error: Error): void {
  noteCutShort(this);
  handlersOf(this).onError(error);
}

/**
 * Sockets destroyed (by us, or by node:net for an error) while bytes written
 * to them still waited for the operating system. node:net then calls the
 * callback of the write in flight without an error (stream_base_commons:
 * a destroyed stream's completed write request reports success), although
 * its bytes never left.
 */
const cutShortSockets = new WeakSet<Socket>();
function noteCutShort(socket: Socket): void {
  if (socket.writableLength > 0) cutShortSockets.add(socket);
}
function onSocketClose(this: Socket): void {
  letLoopGo(this);
  handlersOf(this).onClose();
}

export class SocketTransport implements Transport {
  readonly socket: Socket;
  readonly #relay: ReadRelay | undefined;
  #attached = false;
  /** The socket is corked for this turn's batch; it is uncorked on the next tick. */
  #batching = false;
  #batchBytes = 0;
  /** The turn of this socket's last unbatched small write. */
  #directTurn = -1;
  /** A TCP socket, not TLS. */
  readonly #plain: boolean;

  /**
   * `socket` must be paused; the session resumes it when the readable wants
   * data. `relay` is given when the socket reads with `onread` (its bytes do
   * not come as 'data' events).
   */
  constructor(socket: Socket, relay?: ReadRelay) {
    this.socket = socket;
    this.#relay = relay;
    this.#plain = (socket as { encrypted?: boolean }).encrypted !== true;
  }

  attach(handlers: TransportHandlers): void {
    if (this.#attached) throw new Error('Transport already attached');
    this.#attached = true;
    const socket = this.socket;
    // The listeners are shared by every socket and find its handlers on
    // it: no closure per connection.
    (socket as SessionSocket)[HANDLERS] = handlers;
    if (this.#relay !== undefined) this.#relay.setReader(handlers);
    else socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    if (socket.destroyed) queueMicrotask(() => handlers.onClose());
    // The socket arrives paused (the session starts reading when there is
    // room), and may stay so from the first byte on: held from here
    // (src/node/loop-hold.ts).
    else holdLoop(socket);
  }

  write(
    chunks: Uint8Array[],
    callback: (error?: Error | null) => void,
    batch = false,
  ): boolean | 'batched' {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) {
      callback(new Error('The socket is closed'));
      return false;
    }
    const n = chunks.length;
    if (batch) {
      let size = 0;
      for (let i = 0; i < n; i++) size += chunks[i]!.length;
      // Adaptive: the first small write of a turn goes to the kernel at once
      // (a lone message, as in a request/response exchange, waits for
      // nothing); the next small writes of the same turn join a batch, which
      // is started only when the kernel took everything written before. A
      // socket that has bytes pending, or a large message, gets the exact path.
      if (
        size <= BATCH_WRITE_MAX &&
        (this.#batching
          ? this.#batchBytes + size <= BATCH_LIMIT
          : socket.writableLength === 0 && this.#directTurn === turn)
      ) {
        if (!this.#batching) {
          this.#batching = true;
          socket.cork();
          // After the microtasks of this turn (where the writable hands over the
          // next chunks), before any I/O: one writev for the whole batch.
          scheduleEndOfTurn();
          batchesDue.push(this);
        }
        this.#batchBytes += size;
        for (let i = 0; i < n - 1; i++) socket.write(chunks[i]!);
        socket.write(chunks[n - 1]!, callback);
        return 'batched';
      }
      if (size <= BATCH_WRITE_MAX && !this.#batching) {
        this.#directTurn = turn;
        scheduleEndOfTurn();
      }
    }
    // An idle TCP socket (nothing buffered, not corked) usually hands the
    // bytes to the kernel during the call: the socket is then given no
    // callback, which spares it a tick and an object per write, and
    // `callback` runs here. TLS sockets always get the callback: the empty
    // write that stands in for it otherwise fails on Deno's node:tls (EPERM).
    const idle = this.#plain && socket.writableLength === 0 && !socket.writableCorked;
    const then = idle ? undefined : callback;
    if (n === 1) {
      socket.write(chunks[0]!, then);
    } else {
      // Several frames queued in one go leave in one writev.
      socket.cork();
      for (let i = 0; i < n - 1; i++) socket.write(chunks[i]!);
      socket.write(chunks[n - 1]!, then);
      socket.uncork();
    }
    // Nothing left in the socket's buffer: the kernel took every byte during
    // the call (a write that did not complete at once stays counted until it
    // does). A write the kernel refused at once (EPIPE, ECONNRESET) leaves
    // nothing buffered either, but the socket is errored (and destroyed only
    // on the next tick): the empty write below then carries the error.
    if (socket.writableLength === 0 && !socket.destroyed && socket.errored == null) {
      if (idle) callback();
      return true;
    }
    // Not all taken (or the socket failed): an empty write queued behind the
    // bytes calls back once they were handed over, or with the socket's error.
    if (idle) socket.write(NOTHING, callback);
    return false;
  }

  /** @internal Ends the turn's batch: one writev for everything corked since it started. */
  static flushBatch(transport: SocketTransport): void {
    transport.#batching = false;
    transport.#batchBytes = 0;
    transport.socket.uncork();
  }

  pause(): void {
    this.socket.pause();
    if (!this.socket.destroyed) holdLoop(this.socket);
  }

  resume(): void {
    this.socket.resume();
    letLoopGo(this.socket);
  }

  end(): void {
    if (!this.socket.writableEnded) this.socket.end();
  }

  destroy(): void {
    noteCutShort(this.socket);
    this.socket.destroy();
  }

  get cutShort(): boolean {
    return cutShortSockets.has(this.socket);
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  get bytesRead(): number {
    return this.#relay !== undefined ? this.#relay.bytesRead : this.socket.bytesRead;
  }

  get undelivered(): number {
    return this.#relay !== undefined ? 0 : this.socket.readableLength;
  }
}
