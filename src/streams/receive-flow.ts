/**
 * The receiving half of a session: the readable stream, the inbox of messages
 * parsed but not yet asked for, and the decision to pause or resume reading.
 *
 * Backpressure: reading is paused whenever the readable has no demand
 * (desiredSize <= 0) or messages wait in the inbox, and resumed by the
 * readable's pull(). The flow knows nothing of sockets or of the protocol:
 * it calls {@link ReceiveFlowHooks.pause} and {@link ReceiveFlowHooks.resume}
 * (python-websockets' message assembler takes the same two callbacks).
 */
import { rememberPlain } from './bytes.js';
import { offerDirectPipe, type DirectPipe } from './direct-pipe.js';

/** A received message: a string for text, a fresh Uint8Array for binary. */
export type WebSocketMessage = string | Uint8Array;

/**
 * Once we started closing, messages the readable has not asked for yet are
 * kept up to this many bytes (UTF-16 units for text) held at once: 1 MiB.
 * The first message past it is discarded, and so is every one after it, so
 * what the reader gets is an unbroken run of what the peer sent. A reader
 * that is a step behind loses nothing the peer sent before it saw our Close,
 * while an application that stopped reading cannot make us hold more than
 * this as we read on to find the peer's Close.
 */
export const CLOSING_HOLD_LIMIT = 1 << 20;

/**
 * Once this many delivered messages sit at the front of the inbox array and
 * they are more than half of it, the array is compacted: 1024.
 */
const COMPACT_AFTER = 1024;

/** What the flow asks of the session around it. */
export interface ReceiveFlowHooks {
  /** Stop reading input (the transport's pause). */
  pause(): void;
  /** Read input again (the transport's resume). */
  resume(): void;
  /** The application cancelled the readable with `reason`. */
  cancel(reason: unknown): void;
  /** Whether the protocol still wants input (false once the peer's Close arrived or the connection failed). */
  receiving(): boolean;
  /** Whether input read earlier was held back (the core's inflate budget) and waits to be processed. */
  heldInput(): boolean;
  /** Processes the input held back, before any new input is read. */
  takeHeldInput(): void;
}

export class ReceiveFlow {
  readonly readable: ReadableStream<WebSocketMessage>;
  readonly #hooks: ReceiveFlowHooks;
  #controller!: ReadableStreamDefaultController<WebSocketMessage>;

  /** Reading is paused (a transport starts paused). */
  #paused = true;
  /** Pauses and resumes so far. */
  #pauseChanges = 0;
  /** Input has ended for good (the transport closed): pause and resume do nothing. */
  #inputClosed = false;
  /** The readable was closed, errored or cancelled: messages are discarded. */
  #readableDone = false;
  /** A microtask will decide whether to pause reading (see {@link afterInput}). */
  #pauseCheckPending = false;
  #pauseCheckFn: (() => void) | null = null;
  /** Messages handed to the readable so far, and their number when the pending check was (re)scheduled. */
  #delivered = 0;
  #deliveredAtCheck = 0;
  /**
   * Messages parsed but not yet enqueued: the readable only ever gets what it
   * asks for (desiredSize > 0). A read chunk can hold thousands of tiny
   * messages, and the stream's own queue dequeues in linear time, so putting
   * them all in it would cost quadratic CPU (a peer sending 1-byte messages
   * could burn seconds per 64 KiB read).
   */
  #inbox: WebSocketMessage[] = [];
  #inboxHead = 0;
  /** No more messages will come: close the readable once the inbox is empty. */
  #closeWhenDrained = false;
  #delivering = false;
  /** Nothing more is delivered: the connection is being failed. */
  #halted = false;
  /** Ends the pull() kept pending while reading flows (see the readable's pull). */
  #endPull: (() => void) | null = null;
  /**
   * pull() was called and no message was enqueued since: the stream wants
   * one whatever its desiredSize says (with a high-water mark of 0 it calls
   * pull() for a waiting read while desiredSize is 0).
   */
  #pullOwed = false;
  /** We started the closing handshake: read on regardless of demand, to find the peer's Close. */
  #readingOn = false;
  /** Bytes of messages kept since then beyond what the readable asked for (see CLOSING_HOLD_LIMIT). */
  #heldWhileClosing = 0;
  /** A message was discarded at that bound: so is every later one, so no message is missing in the middle. */
  #discarding = false;
  /** Input stopped at a violation: called whenever the reader takes messages (see {@link watchDrain}). */
  #onDrain: (() => void) | null = null;
  readonly #highWaterMark: number;
  /** The direct pipe this flow hands its messages to instead of the readable, while there is one. */
  #pipe: DirectPipe | null = null;

  /**
   * `counting`: whether `strategy` counts messages (no size() of the
   * application's), which lets the readable's pipeTo() to another
   * connection's writable take the direct path (see direct-pipe.ts).
   */
  constructor(
    strategy: QueuingStrategy<WebSocketMessage>,
    counting: boolean,
    hooks: ReceiveFlowHooks,
  ) {
    this.#hooks = hooks;
    this.#highWaterMark = strategy.highWaterMark ?? 1;
    // The flow is the readable's underlying source itself (start, pull,
    // cancel below): no source object and no closures per connection.
    this.readable = new ReadableStream<WebSocketMessage>(this, strategy);
    if (counting) offerDirectPipe(this.readable, this);
  }

  /** @internal The readable's underlying source: keeps its controller. */
  start(controller: ReadableStreamDefaultController<WebSocketMessage>): void {
    this.#controller = controller;
  }

  /** @internal The readable's underlying source: the reader wants more. */
  pull(): Promise<void> | undefined {
    // A direct pipe reads nothing from the readable: it asks for messages itself.
    if (this.#pipe !== null) return;
    this.#pullOwed = true;
    this.#deliver();
    if (this.#onDrain !== null) {
      // Input is held back at a violation: never resume, and tell the session.
      this.#onDrain();
      return;
    }
    if (this.#inboxHead === this.#inbox.length) this.resume();
    // While reading flows and nothing waits in the inbox, pull() has
    // nothing to do: it stays pending, so the stream stops calling it
    // twice per message (each call costs a promise and a microtask). It
    // ends as soon as a demand signal is needed again: when reading
    // pauses or messages are left waiting (#releasePull).
    if (this.#paused || this.#readableDone || this.#inboxHead < this.#inbox.length) return;
    return new Promise<void>((resolve) => {
      this.#endPull = resolve;
    });
  }

  /** @internal The readable's underlying source: the application cancelled the readable. */
  cancel(reason: unknown): void {
    this.#pipe?.handOver();
    this.#discard();
    this.#hooks.cancel(reason);
  }

  /** Whether reading is paused by backpressure. */
  get paused(): boolean {
    return this.#paused;
  }

  /** How many times reading was paused or resumed (the keepalive's evidence that reading ran throughout). */
  get pauseChanges(): number {
    return this.#pauseChanges;
  }

  /** Messages handed to the readable so far. */
  get messagesDelivered(): number {
    return this.#delivered;
  }

  /** Messages parsed and waiting in the inbox for the readable to ask for them. */
  get messagesWaiting(): number {
    return this.#inbox.length - this.#inboxHead;
  }

  /** Whether the readable still takes messages (not closed, errored or cancelled, and not ending). */
  get accepting(): boolean {
    return !this.#readableDone && !this.#closeWhenDrained;
  }

  /**
   * Whether a direct pipe may take this flow's messages now: the readable
   * is readable with an empty queue, and no close, violation or failure
   * is under way.
   */
  get acceptsPipe(): boolean {
    return (
      this.#pipe === null &&
      !this.#readableDone &&
      !this.#closeWhenDrained &&
      !this.#readingOn &&
      !this.#halted &&
      !this.#delivering &&
      this.#onDrain === null &&
      this.#controller.desiredSize === this.#highWaterMark
    );
  }

  /** Hands the messages to `pipe` from now on (until {@link endPipe}), starting with those waiting. */
  startPipe(pipe: DirectPipe): void {
    this.#pipe = pipe;
    // The readable is not read while the pipe runs: a pull() kept pending
    // would only hold a promise and its reaction for the connection's life.
    this.#releasePull();
    this.pipeDrained();
  }

  /** The direct pipe handed over to the streams' own pipe: messages go to the readable again. */
  endPipe(): void {
    this.#pipe = null;
  }

  /** The direct pipe's destination has room again: hand it what waits, and read on once nothing does. */
  pipeDrained(): void {
    this.#deliver();
    const pipe = this.#pipe;
    if (pipe !== null && this.#inboxHead === this.#inbox.length && pipe.room) this.resume();
  }

  /**
   * A message arrived. Once we are closing, we read on to find the peer's
   * Close: beyond what the readable asks for, a bounded amount is kept and
   * the rest discarded.
   */
  push(message: WebSocketMessage): void {
    if (this.#readableDone || this.#closeWhenDrained || this.#discarding) return;
    if (this.#readingOn && (this.#inboxHead < this.#inbox.length || this.#desiredSize() <= 0)) {
      const size = message.length;
      if (this.#heldWhileClosing + size > CLOSING_HOLD_LIMIT) {
        this.#discarding = true;
        return;
      }
      this.#heldWhileClosing += size;
    }
    this.#inbox.push(message);
  }

  /**
   * After a batch of input was processed: hands the readable what it asks
   * for, and pauses reading if it wants no more.
   */
  afterInput(): void {
    this.#deliver();
    if (!this.#wantsPause()) return;
    if (this.#pauseCheckPending) {
      // Another read before the check ran (a transport handing out chunks it
      // had buffered, in a row): no more of them.
      this.#pauseCheckPending = false;
      this.#pause();
      return;
    }
    // Decide once the reader's current turn is over: no read can happen
    // before a microtask runs, so the bound on what we hold stays the same,
    // and a reader that empties the queue in this turn costs no pause and
    // resume of the transport.
    this.#pauseCheckPending = true;
    this.#deliveredAtCheck = this.#delivered;
    queueMicrotask(this.#pauseCheckCallback());
  }

  /**
   * Whether messages are read on regardless of demand: we are closing, or
   * the readable is done and discards them.
   */
  get readsOn(): boolean {
    return this.#readingOn || this.#readableDone;
  }

  /** Input is held back: pause reading now, until the readable asks again. */
  holdInput(): void {
    if (this.readsOn) return;
    this.#pauseCheckPending = false;
    this.#pause();
    // The readable's pull() does not run under a direct pipe: the pipe asks
    // again itself, once this turn's microtasks ran (or when its destination drains).
    if (this.#pipe !== null) {
      queueMicrotask(() => {
        if (this.#pipe?.room === true) this.pipeDrained();
      });
    }
  }

  /** We are closing: read on regardless of demand (bounded by CLOSING_HOLD_LIMIT). */
  readOn(): void {
    this.#pipe?.handOver();
    this.#readingOn = true;
    this.resume();
  }

  /** No more messages will come: the readable closes once the messages already received were read. */
  endWhenDrained(): void {
    const pipe = this.#pipe;
    // With nothing left to deliver the readable closes right here, so a
    // direct pipe may close its destination itself; otherwise it hands over.
    if (pipe !== null && !(this.#inboxHead === this.#inbox.length && pipe.closeWithSource()))
      pipe.handOver();
    if (this.#readableDone) return;
    this.#closeWhenDrained = true;
    this.#deliver();
  }

  /**
   * An unclean close: errors the readable with `error` and drops the inbox,
   * unless the readable is already ending (after the peer's Close, the
   * messages before it stay readable) and delivery was not halted.
   */
  error(error: unknown): void {
    this.#pipe?.handOver();
    if (this.#readableDone || (this.#closeWhenDrained && !this.#halted)) return;
    this.#discard();
    this.#controller.error(error);
  }

  /**
   * Whether every message received so far was read: nothing waits in the
   * inbox and the readable's queue is empty (or the readable is done).
   */
  get drained(): boolean {
    if (this.#readableDone) return true;
    return this.#inboxHead === this.#inbox.length && this.#desiredSize() >= this.#highWaterMark;
  }

  /**
   * Input stopped for good at a protocol violation: from now on reading is
   * never resumed by demand, and `onDrain` is called each time the reader
   * takes messages, so the session can tell when {@link drained} holds.
   */
  watchDrain(onDrain: () => void): void {
    this.#pipe?.handOver();
    this.#onDrain = onDrain;
    this.#releasePull();
  }

  /** Whether the flow is inside its own enqueue() (where the readable's size() runs). */
  get delivering(): boolean {
    return this.#delivering;
  }

  /** Stops delivering: the connection is about to be failed. */
  halt(): void {
    this.#pipe?.handOver();
    this.#halted = true;
  }

  /** Input ended for good: pausing and resuming do nothing from now on. */
  inputClosed(): void {
    this.#pipe?.handOver();
    this.#inputClosed = true;
  }

  /** Reads input again (if it was paused). */
  resume(): void {
    if (!this.#paused || this.#inputClosed) return;
    if (this.#hooks.heldInput()) {
      // Input held back comes first, without waiting for more socket data;
      // reading stays paused while some is still held or there is no demand.
      this.#hooks.takeHeldInput();
      if (!this.#paused || this.#inputClosed) return;
      if (
        !this.readsOn &&
        this.#hooks.receiving() &&
        (this.#hooks.heldInput() || this.#inboxHead < this.#inbox.length || !this.#room())
      )
        return;
    }
    this.#paused = false;
    this.#pauseChanges++;
    this.#hooks.resume();
  }

  #desiredSize(): number {
    return this.#controller.desiredSize ?? 0;
  }

  /** Whether the consumer takes a message now: the readable's demand, or the direct pipe's room. */
  #room(): boolean {
    const pipe = this.#pipe;
    return pipe === null ? this.#pullOwed || this.#desiredSize() > 0 : pipe.room;
  }

  #discard(): void {
    this.#readableDone = true;
    this.#inbox = [];
    this.#inboxHead = 0;
  }

  /** Whether reading should stop: messages are waiting, or the readable has no room. */
  #wantsPause(): boolean {
    return (
      !this.#paused &&
      !this.#readingOn &&
      this.#hooks.receiving() &&
      !this.#readableDone &&
      (this.#inboxHead < this.#inbox.length || !this.#room())
    );
  }

  /** The pause check as a callback, made the first time one is needed (an echo never needs one). */
  #pauseCheckCallback(): () => void {
    return (this.#pauseCheckFn ??= () => this.#pauseCheck());
  }

  #pauseCheck(): void {
    if (!this.#pauseCheckPending) return;
    if (!this.#wantsPause()) {
      this.#pauseCheckPending = false;
      return;
    }
    if (this.#delivered !== this.#deliveredAtCheck) {
      // The reader is taking messages: look again after its next step.
      this.#deliveredAtCheck = this.#delivered;
      queueMicrotask(this.#pauseCheckCallback());
      return;
    }
    this.#pauseCheckPending = false;
    this.#pause();
  }

  /** Ends a pending pull(): the next read that finds room calls pull() again. */
  #releasePull(): void {
    const end = this.#endPull;
    if (end === null) return;
    this.#endPull = null;
    end();
  }

  #pause(): void {
    this.#releasePull();
    if (this.#paused || this.#inputClosed) return;
    this.#paused = true;
    this.#pauseChanges++;
    this.#hooks.pause();
  }

  /**
   * Sends messages from the inbox straight to the direct pipe's destination
   * while it has room. The pipe may hand over meanwhile (a send refused):
   * what is left then goes to the readable, for the streams' own pipe.
   */
  #deliverToPipe(): void {
    if (this.#readableDone || this.#delivering || this.#halted) return;
    this.#delivering = true;
    for (;;) {
      const pipe = this.#pipe;
      if (pipe === null || this.#inboxHead === this.#inbox.length || !pipe.room) break;
      if (!pipe.send(this.#inbox[this.#inboxHead]!)) break;
      this.#inbox[this.#inboxHead++] = '';
      this.#delivered++;
    }
    this.#delivering = false;
    if (this.#pipe === null) {
      // Handed over: what is left goes to the readable, for the runtime's pipe.
      this.#deliver();
      return;
    }
    // The inbox's upkeep, as in #deliver() (which the readable's every
    // message takes, and which stays free of the direct path's checks).
    if (this.#inboxHead === this.#inbox.length) {
      if (this.#inbox.length > 0) {
        this.#inbox = [];
        this.#inboxHead = 0;
      }
    } else if (this.#inboxHead > COMPACT_AFTER && this.#inboxHead * 2 > this.#inbox.length) {
      this.#inbox = this.#inbox.slice(this.#inboxHead);
      this.#inboxHead = 0;
    }
  }

  /** Moves messages from the inbox to the readable (or the direct pipe) while it asks for more. */
  #deliver(): void {
    // enqueue() may call pull() synchronously, which delivers too: one loop at a time.
    if (this.#pipe !== null) {
      this.#deliverToPipe();
      return;
    }
    if (this.#readableDone || this.#delivering || this.#halted) return;
    this.#delivering = true;
    while (
      !this.#halted &&
      this.#inboxHead < this.#inbox.length &&
      (this.#pullOwed || this.#desiredSize() > 0)
    ) {
      const message = this.#inbox[this.#inboxHead]!;
      this.#inbox[this.#inboxHead++] = '';
      this.#delivered++;
      if (typeof message !== 'string') rememberPlain(message);
      // What the reader takes is no longer held: a reader that keeps up while
      // we close loses nothing.
      if (this.#readingOn && this.#heldWhileClosing > 0) {
        this.#heldWhileClosing = Math.max(0, this.#heldWhileClosing - message.length);
      }
      this.#pullOwed = false;
      this.#controller.enqueue(message);
    }
    this.#delivering = false;
    if (this.#halted) return;
    if (this.#inboxHead < this.#inbox.length) this.#releasePull();
    if (this.#inboxHead === this.#inbox.length) {
      if (this.#inbox.length > 0) {
        this.#inbox = [];
        this.#inboxHead = 0;
      }
      if (this.#closeWhenDrained) {
        this.#readableDone = true;
        this.#controller.close();
      }
    } else if (this.#inboxHead > COMPACT_AFTER && this.#inboxHead * 2 > this.#inbox.length) {
      this.#inbox = this.#inbox.slice(this.#inboxHead);
      this.#inboxHead = 0;
    }
  }
}
