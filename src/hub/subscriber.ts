/**
 * One subscribed connection's outgoing queue: the hub's messages go to the
 * connection's writable in the order they were given, and the bytes handed
 * to it whose `write()` has not resolved yet are counted. That count is the
 * queue the slow-consumer policy bounds: a connection that does not read
 * makes its writes stop resolving (backpressure that reaches TCP), the count
 * grows, and at `maxQueue` the policy closes the connection or skips messages
 * for it. The publisher is never made to wait.
 */
import type { WebSocketCloseInfo } from '../streams/websocket-error.js';
import { messageSize, type HubMessage } from './message.js';

/**
 * What the hub subscribes: anything with the WebSocketStream shape, a client
 * `WebSocketStream` or a server `WebSocketConnection`. The hub takes the
 * writable's writer (`getWriter()`) while the connection has topics.
 */
export interface HubConnection {
  readonly opened: Promise<{ readonly writable: WritableStream<unknown> }>;
  readonly closed: Promise<unknown>;
  close(closeInfo?: WebSocketCloseInfo): void;
}

/** What happens to a subscriber whose queue is full: see {@link HubOptions.slow}. */
export type SlowPolicy = 'close' | 'drop';

/** Close code for a subscriber closed as too slow (application range; no IANA code fits). */
export const SLOW_CONSUMER_CLOSE_CODE = 4008;

/** Default of {@link HubOptions.maxQueue}: 1 MiB queued per subscriber. */
export const DEFAULT_MAX_QUEUE = 1024 * 1024;

/** The outcome of offering one message to a subscriber. */
export const Offer = { QUEUED: 0, DROPPED: 1, CLOSED: 2, GONE: 3 } as const;
export type Offer = (typeof Offer)[keyof typeof Offer];

/**
 * @internal One connection's queue, owned by the Hub: one for each connection,
 * from its first subscription until it closes, whatever it joins and leaves
 * meanwhile. Writes handed to the writable during a subscription that ended
 * can still be waiting in it; keeping the connection's one count means they
 * weigh against the next subscription's bound, and a connection that leaves
 * and joins again over and over costs nothing more than one that does not.
 */
export class Subscriber {
  readonly connection: HubConnection;
  /** The current subscription's topics (none between subscriptions). */
  readonly topics = new Set<string>();
  /** Messages skipped under the `drop` policy during the current subscription. */
  dropped = 0;
  /**
   * Bytes given to the writable (or waiting for it to open) whose write has
   * not resolved, of every subscription so far: the queue the policy bounds.
   */
  queued = 0;
  /** Closed as too slow, closed, or failed: no more messages, no more subscriptions. */
  gone = false;
  /** The connection closed or failed (or a write failed): the hub forgets this record. */
  ended = false;
  /** Known once the connection opened; each subscription takes a writer from it. */
  #writable: WritableStream<unknown> | null = null;
  /** The writer, held while subscribed to an open connection. */
  #writer: WritableStreamDefaultWriter<unknown> | null = null;
  /** Messages offered while subscribed to a connection that has not opened yet. */
  #early: HubMessage[] | null = null;
  /** Sizes of the writes not yet resolved, oldest first (writes resolve in order). */
  readonly #sizes: number[] = [];
  #head = 0;
  readonly #maxQueue: number;
  readonly #slow: SlowPolicy;
  readonly #onGone: (s: Subscriber) => void;

  /** `onGone` is called when the subscription cannot go on, or the connection ended. */
  constructor(
    connection: HubConnection,
    o: { maxQueue: number; slow: SlowPolicy; onGone: (s: Subscriber) => void },
  ) {
    this.connection = connection;
    this.#maxQueue = o.maxQueue;
    this.#slow = o.slow;
    this.#onGone = o.onGone;
    // Attached once for the connection's lifetime: a reaction per subscription
    // would stay until the connection closes, however many it had.
    connection.opened.then(
      ({ writable }) => this.#open(writable),
      () => this.#end(),
    );
    connection.closed.then(
      () => this.#end(),
      () => this.#end(),
    );
  }

  /**
   * Starts a subscription: takes the writer of an open connection, or holds
   * messages until it opens. False when another holder has the writer: the
   * hub cannot serve this connection now.
   */
  join(): boolean {
    this.dropped = 0;
    if (this.#writable === null) {
      this.#early = [];
      return true;
    }
    return this.#take(this.#writable);
  }

  /**
   * Queues `message` unless the queue is non-empty and the message would take
   * it past `maxQueue`; then applies the policy. A message larger than
   * `maxQueue` is still sent to a subscriber whose queue is empty, so no size
   * of message is undeliverable.
   */
  offer(message: HubMessage, size = messageSize(message)): Offer {
    if (this.gone) return Offer.GONE;
    const queued = this.queued;
    if (queued > 0 && queued + size > this.#maxQueue) {
      if (this.#slow === 'drop') {
        this.dropped++;
        return Offer.DROPPED;
      }
      this.gone = true;
      this.connection.close({
        closeCode: SLOW_CONSUMER_CLOSE_CODE,
        reason: `too slow: over ${this.#maxQueue} bytes queued`,
      });
      return Offer.CLOSED;
    }
    this.queued += size;
    if (this.#writer !== null) this.#write(message, size);
    else this.#early?.push(message);
    return Offer.QUEUED;
  }

  /** Ends the subscription: gives the writable back (the hub no longer holds its writer). */
  release(): void {
    if (this.#early !== null) {
      // Messages still waiting for the connection to open are dropped; nothing
      // was handed to the writable before it opened, so they were all the queue.
      this.queued = 0;
      this.#early = null;
    }
    const writer = this.#writer;
    this.#writer = null;
    // Writes already handed over still go out and are still counted; only the lock is released.
    writer?.releaseLock();
  }

  #take(writable: WritableStream<unknown>): boolean {
    try {
      this.#writer = writable.getWriter();
    } catch {
      // Someone else holds the writer.
      return false;
    }
    // Failures show in each write's promise; this copy must not go unhandled.
    this.#writer.closed.catch(() => {});
    return true;
  }

  #open(writable: WritableStream<unknown>): void {
    if (this.gone) return;
    this.#writable = writable;
    const early = this.#early;
    // Not subscribed now: the next subscription takes the writer.
    if (early === null) return;
    this.#early = null;
    if (!this.#take(writable)) {
      this.queued = 0;
      this.#onGone(this);
      return;
    }
    // Already counted in `queued` when offered.
    for (const message of early) this.#write(message, messageSize(message));
  }

  #write(message: HubMessage, size: number): void {
    this.#sizes.push(size);
    this.#writer!.write(message).then(this.#written, this.#failed);
  }

  readonly #written = (): void => {
    this.queued -= this.#sizes[this.#head++] ?? 0;
    if (this.#head > 1024 && this.#head * 2 > this.#sizes.length) {
      this.#sizes.splice(0, this.#head);
      this.#head = 0;
    }
  };

  readonly #failed = (): void => {
    this.#written();
    this.#end();
  };

  #end(): void {
    if (this.ended) return;
    this.ended = true;
    this.gone = true;
    this.#early = null;
    this.#onGone(this);
  }
}
