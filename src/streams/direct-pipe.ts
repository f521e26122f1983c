/**
 * `readable.pipeTo(writable)` between two wsstream streams (an echo server,
 * a relay between two connections), without the streams in between.
 *
 * The readable's pipeTo() is the runtime's own in every other case. When the
 * destination is a wsstream writable and both streams count messages (the
 * default strategies), a direct pipe takes both locks, as the streams' pipe
 * would, and then moves each message from the source's inbox straight to
 * the destination's sender, in the I/O callback that parsed it: no read
 * request, no write promise, no pull() per message. Backpressure is the
 * streams' pipe's with the default high-water mark: the next message is sent
 * only once the previous one was handed to the operating system (or joined
 * the turn's batch), and the source stops reading from its socket meanwhile.
 *
 * A direct pipe only ever moves messages, and closes its destination when
 * its source ends in the one plain case below. At the first sign of
 * anything else (the source closing with messages still to deliver,
 * erroring or failing; the destination closed, errored or refusing a
 * message; the signal aborted), and before that change reaches either
 * stream, it releases its locks and hands over to the runtime's pipeTo()
 * with the same streams and options, whose promise then becomes this
 * pipe's. Every message taken from the source has already been given to the
 * destination by then, so the runtime's pipe starts exactly where a pipe
 * running all along would stand, and every close, error, abort and cancel
 * follows the Streams standard as implemented by the runtime.
 *
 * The plain case is the end of every echo: the peer's Close ends the source
 * with nothing left to deliver, no write in flight, the destination
 * writable, no signal and no preventClose. The standard's pipe then only
 * propagates the close forward (ReadableStreamPipeTo, "closing must be
 * propagated forward"): it closes the destination with error propagation
 * and then releases both locks, and so does the direct pipe, through the
 * public API, without starting the runtime's pipe for that last step.
 */
import type { ReceiveFlow, WebSocketMessage } from './receive-flow.js';
import type { Sender } from './sender.js';

type PipeTo = (
  this: ReadableStream<WebSocketMessage>,
  destination: WritableStream<WebSocketMessage>,
  options?: unknown,
) => Promise<void>;

/** The runtime's own pipeTo(). */
const standardPipeTo = Object.getOwnPropertyDescriptor(ReadableStream.prototype, 'pipeTo')!
  .value as PipeTo;

function runtimePipeTo(
  readable: ReadableStream<WebSocketMessage>,
  destination: WritableStream<WebSocketMessage>,
  options: unknown,
): Promise<void> {
  return Reflect.apply(standardPipeTo, readable, [destination, options]);
}

/**
 * The flow of a readable that offers a direct pipe, and the sender of a
 * writable that takes one, each in a property of the stream under a symbol
 * of ours. Not in WeakMaps: each entry would be an ephemeron, which V8's
 * garbage collector revisits in every collection while its stream lives,
 * a cost that grows with the connections open.
 */
const FLOW = Symbol('wsstream.flow');
const SENDER = Symbol('wsstream.sender');
type FlowReadable = ReadableStream<WebSocketMessage> & { [FLOW]?: ReceiveFlow };
type SenderWritable = WritableStream<unknown> & { [SENDER]?: Sender };

/** Options of pipeTo(), read once. */
interface PipeOptions {
  readonly preventAbort: boolean;
  readonly preventCancel: boolean;
  readonly preventClose: boolean;
  readonly signal: AbortSignal | undefined;
}

/** pipeTo() with no options: one object for every pipe (each keeps its options for its life). */
const NO_OPTIONS: PipeOptions = Object.freeze({
  preventAbort: false,
  preventCancel: false,
  preventClose: false,
  signal: undefined,
});

/** Gives `readable` (the flow's own) a pipeTo() that takes the direct path to a wsstream writable. */
export function offerDirectPipe(
  readable: ReadableStream<WebSocketMessage>,
  flow: ReceiveFlow,
): void {
  Object.defineProperty(readable, 'pipeTo', PIPE_TO);
  Object.defineProperty(readable, FLOW, { value: flow });
}

/** The readables' own pipeTo, as a method of theirs would be (one descriptor for all). */
const PIPE_TO: PropertyDescriptor = Object.freeze({
  value: pipeTo,
  writable: true,
  configurable: true,
  enumerable: false,
});

/** Lets a direct pipe write to `writable` (the sender's own). */
export function offerDirectWrites(writable: WritableStream<unknown>, sender: Sender): void {
  Object.defineProperty(writable, SENDER, { value: sender });
}

/**
 * Reads pipeTo()'s options as WebIDL reads a dictionary (each member once,
 * in lexicographic order), so the direct pipe and the runtime's pipe that
 * may take over from it see the same values. Null: not a dictionary (the
 * runtime's pipeTo() refuses it).
 */
function readOptions(options: unknown): PipeOptions | null {
  if (options === undefined || options === null) return NO_OPTIONS;
  if (typeof options !== 'object' && typeof options !== 'function') return null;
  const o = options as StreamPipeOptions;
  return {
    preventAbort: Boolean(o.preventAbort),
    preventCancel: Boolean(o.preventCancel),
    preventClose: Boolean(o.preventClose),
    signal: o.signal,
  };
}

/** The readable's pipeTo(): the direct path where it applies, the runtime's otherwise. */
function pipeTo(
  this: ReadableStream<WebSocketMessage>,
  destination: WritableStream<WebSocketMessage>,
  options?: StreamPipeOptions,
): Promise<void> {
  // Anything may be given as the receiver (pipeTo.call(null, ...)) or the
  // destination (a revoked proxy, a proxy whose get trap throws): reading
  // our symbol must not throw where the runtime's pipeTo() rejects. A
  // property is also found through a proxy of the stream or an object
  // inheriting from it, which are not the stream (Bun's pipeTo() refuses
  // them): the direct pipe is only between the streams themselves.
  let flow: ReceiveFlow | undefined;
  let sender: Sender | undefined;
  try {
    flow = (this as FlowReadable)[FLOW];
    sender =
      typeof destination === 'object' && destination !== null
        ? (destination as SenderWritable)[SENDER]
        : undefined;
  } catch {
    flow = undefined;
  }
  if (
    flow === undefined ||
    sender === undefined ||
    flow.readable !== this ||
    sender.writable !== destination
  ) {
    return runtimePipeTo(this, destination, options);
  }
  let read: PipeOptions | null;
  try {
    read = readOptions(options);
  } catch (error) {
    // A getter of the options threw: pipeTo() rejects with what it threw.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    return Promise.reject(error);
  }
  if (
    read === null ||
    (read.signal !== undefined && !(read.signal instanceof AbortSignal)) ||
    read.signal?.aborted === true ||
    this.locked ||
    destination.locked ||
    !flow.acceptsPipe
  ) {
    return runtimePipeTo(this, destination, read ?? options);
  }
  const writer = destination.getWriter();
  if (!sender.acceptsPipe(writer)) {
    writer.releaseLock();
    return runtimePipeTo(this, destination, read);
  }
  return new DirectPipe(this, destination, writer, flow, sender, read).promise;
}

/** One direct pipe: holds both locks while messages go straight from `flow` to `sender`. */
export class DirectPipe {
  readonly promise: Promise<void>;
  readonly #readable: ReadableStream<WebSocketMessage>;
  readonly #writable: WritableStream<WebSocketMessage>;
  readonly #reader: ReadableStreamDefaultReader<WebSocketMessage>;
  readonly #writer: WritableStreamDefaultWriter<WebSocketMessage>;
  readonly #flow: ReceiveFlow;
  readonly #sender: Sender;
  readonly #options: PipeOptions;
  #settle!: (outcome: Promise<void>) => void;
  #active = true;

  constructor(
    readable: ReadableStream<WebSocketMessage>,
    writable: WritableStream<WebSocketMessage>,
    writer: WritableStreamDefaultWriter<WebSocketMessage>,
    flow: ReceiveFlow,
    sender: Sender,
    options: PipeOptions,
  ) {
    this.#readable = readable;
    this.#writable = writable;
    this.#writer = writer;
    this.#reader = readable.getReader();
    this.#flow = flow;
    this.#sender = sender;
    this.#options = options;
    this.promise = new Promise<void>((resolve) => {
      this.#settle = resolve;
    });
    options.signal?.addEventListener('abort', this);
    sender.startPipe(this);
    flow.startPipe(this);
  }

  /** Whether the destination takes the next message now. */
  get room(): boolean {
    return this.#active && this.#sender.directRoom;
  }

  /** Sends one message; false if it was not sent (the pipe handed over). */
  send(message: WebSocketMessage): boolean {
    return this.#sender.sendDirect(message);
  }

  /** The destination handed the last message to the operating system. */
  drained(): void {
    this.#flow.pipeDrained();
  }

  /** The signal's abort event. */
  handleEvent(): void {
    this.handOver();
  }

  /**
   * The source ends and its readable closes now, with every message
   * delivered. In the plain case (no signal, no preventClose, no write in
   * flight, the destination writable) stops moving messages and returns
   * true: once the readable has closed (a microtask later, as the streams'
   * pipe sees it close), closes the destination with error propagation and
   * then releases both locks. Otherwise returns false: the caller hands over.
   */
  closeWithSource(): boolean {
    const options = this.#options;
    if (
      !this.#active ||
      options.signal !== undefined ||
      options.preventClose ||
      !this.#sender.directRoom ||
      // Errored (or erroring): the runtime's pipe propagates the stored error.
      this.#writer.desiredSize === null
    )
      return false;
    this.#active = false;
    this.#flow.endPipe();
    this.#sender.endPipe();
    queueMicrotask(() => this.#closeDestination());
    return true;
  }

  /**
   * WritableStreamDefaultWriterCloseWithErrorPropagation, then the pipe's
   * finalize: the destination cannot have a close queued (it is locked by
   * this pipe) nor be closed; if it errored meanwhile (the connection
   * settled in the same turn), its stored error, which `writer.closed`
   * rejects with, rejects the pipe; else `writer.close()` decides it.
   */
  #closeDestination(): void {
    const writer = this.#writer;
    const action = writer.desiredSize === null ? writer.closed : writer.close();
    this.#settle(
      action.then(
        () => this.#release(),
        (error: unknown) => {
          this.#release();
          throw error;
        },
      ),
    );
  }

  #release(): void {
    this.#writer.releaseLock();
    this.#reader.releaseLock();
  }

  /**
   * Ends the direct path: releases both locks and hands over to the
   * runtime's pipeTo(), whose promise this pipe's promise follows.
   * Called before the change that made it necessary reaches either stream.
   */
  handOver(): void {
    if (!this.#active) return;
    this.#active = false;
    this.#flow.endPipe();
    this.#sender.endPipe();
    this.#options.signal?.removeEventListener('abort', this);
    this.#reader.releaseLock();
    this.#writer.releaseLock();
    this.#settle(runtimePipeTo(this.#readable, this.#writable, this.#options));
  }
}
