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

/** @internal One connection's queue, owned by the Hub. */
export class Subscriber {
  readonly connection: HubConnection;
  readonly topics = new Set<string>();
  /** Messages skipped under the `drop` policy. */
  dropped = 0;
  /** Bytes given to the writable (or waiting for it to open) whose write has not resolved. */
  queued = 0;
  /** Closed as too slow, closed, or failed: no more messages. */
  gone = false;
  #writer: WritableStreamDefaultWriter<unknown> | null = null;
  /** Messages offered before the connection opened. */
  #early: HubMessage[] | null = [];
  /** Sizes of the writes not yet resolved, oldest first (writes resolve in order). */
  readonly #sizes: number[] = [];
  #head = 0;
  #left = false;
  readonly #maxQueue: number;
  readonly #slow: SlowPolicy;
  readonly #onGone: (s: Subscriber) => void;
  /** The connection's previous subscription, while writes of its are still queued. */
  #earlier: Subscriber | null;

  constructor(
    connection: HubConnection,
    o: {
      maxQueue: number;
      slow: SlowPolicy;
      onGone: (s: Subscriber) => void;
      earlier?: Subscriber | undefined;
    },
  ) {
    this.connection = connection;
    this.#maxQueue = o.maxQueue;
    this.#slow = o.slow;
    this.#onGone = o.onGone;
    this.#earlier = o.earlier ?? null;
    connection.opened.then(
      ({ writable }) => this.#open(writable),
      () => this.#leave(),
    );
    connection.closed.then(
      () => this.#leave(),
      () => this.#leave(),
    );
  }

  /**
   * Bytes queued for the connection: this subscription's, and those of an
   * earlier one (left and subscribed again) whose writes have not resolved
   * yet. The queue the policy bounds.
   */
  get pending(): number {
    const earlier = this.#earlier;
    if (earlier === null) return this.queued;
    const before = earlier.pending;
    if (before > 0) return this.queued + before;
    this.#earlier = null;
    return this.queued;
  }

  /**
   * Queues `message` unless the queue is non-empty and the message would take
   * it past `maxQueue`; then applies the policy. A message larger than
   * `maxQueue` is still sent to a subscriber whose queue is empty, so no size
   * of message is undeliverable.
   */
  offer(message: HubMessage, size = messageSize(message)): Offer {
    if (this.gone) return Offer.GONE;
    const pending = this.pending;
    if (pending > 0 && pending + size > this.#maxQueue) {
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
    if (this.#writer === null) this.#early?.push(message);
    else this.#write(message, size);
    return Offer.QUEUED;
  }

  /** Gives the writable back (the hub no longer holds its writer). */
  release(): void {
    // Messages still waiting for the connection to open are dropped.
    if (this.#early !== null) this.queued = 0;
    this.#early = null;
    const writer = this.#writer;
    this.#writer = null;
    // Writes already handed over still go out; only the lock is released.
    writer?.releaseLock();
  }

  #open(writable: WritableStream<unknown>): void {
    const early = this.#early;
    if (early === null || this.gone) return;
    this.#early = null;
    try {
      this.#writer = writable.getWriter();
    } catch {
      // Someone else holds the writer: this connection cannot be served by the hub.
      this.#leave();
      return;
    }
    // Failures show in each write's promise; this copy must not go unhandled.
    this.#writer.closed.catch(() => {});
    this.queued = 0;
    for (const message of early) {
      const size = messageSize(message);
      this.queued += size;
      this.#write(message, size);
    }
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
    this.#leave();
  };

  #leave(): void {
    if (this.#left) return;
    this.#left = true;
    this.gone = true;
    this.#early = null;
    this.#onGone(this);
  }
}
