/**
 * Topics: connections subscribe to named topics, a message published to a
 * topic goes to every subscriber, in this process at once and, with a
 * broker, in the other processes that have subscribers for it.
 *
 * Each subscriber has a queue bounded in bytes (see Subscriber); a publisher
 * is never slowed down by a subscriber, and memory is at most subscribers ×
 * (maxQueue + one message). Messages from one publisher reach each
 * subscriber in the order they were published.
 */
import { callHook } from '../streams/user-hook.js';
import { HubError, HubErrorCode, type BrokerEvent, type HubBroker } from './broker.js';
import {
  copyBytes,
  messageSize,
  toHubMessage,
  type HubMessage,
  type HubMessageInput,
} from './message.js';
import {
  DEFAULT_MAX_QUEUE,
  Offer,
  Subscriber,
  type HubConnection,
  type SlowPolicy,
} from './subscriber.js';

/** Options of {@link Hub}. */
export interface HubOptions {
  /**
   * Bytes queued per subscriber (handed to its writable, not yet taken by the
   * operating system); default 1 MiB ({@link DEFAULT_MAX_QUEUE}). Stops a
   * subscriber that does not read (or reads slowly, on purpose or not) from
   * making the server buffer every message published while it lags.
   */
  maxQueue?: number;
  /**
   * What happens when a message would take a subscriber's non-empty queue
   * past `maxQueue`: `'close'` (default) closes that connection with 4008
   * and a reason naming the bound; `'drop'` skips the message for that
   * subscriber only and counts it ({@link Hub.dropped}).
   */
  slow?: SlowPolicy;
  /**
   * Carries messages to hubs in other processes (`redisBroker()` from
   * `wsstream/hub/redis`, `clusterBroker()`); default none: in-process only.
   */
  broker?: HubBroker;
  /** Called when a subscriber is closed as too slow (policy `close`). Errors it throws are ignored. */
  onSlow?: (connection: HubConnection, queuedBytes: number) => void;
  /** Called once when a connection left its last topic (closed, or unsubscribed), with its drop count. Errors it throws are ignored. */
  onLeave?: (connection: HubConnection, dropped: number) => void;
  /** Called for broker state changes (connected, disconnected, reconnecting, errors). Errors it throws are ignored. */
  onBrokerEvent?: (event: BrokerEvent) => void;
}

/** Options of {@link Hub.publish}. */
export interface PublishOptions {
  /** A subscriber that does not get this message (typically its sender). */
  except?: HubConnection;
}

/** Topics with subscribers, in-process, optionally joined to other processes by a broker. */
export class Hub {
  readonly #topics = new Map<string, Set<Subscriber>>();
  /** Connections with topics. */
  readonly #subscribers = new Map<HubConnection, Subscriber>();
  /**
   * Every connection subscribed at some time and not closed since, with or
   * without topics now: its queue outlives a subscription, so writes still
   * waiting in its writable count against the next one.
   */
  readonly #records = new WeakMap<HubConnection, Subscriber>();
  readonly #maxQueue: number;
  readonly #slow: SlowPolicy;
  readonly #broker: HubBroker | null;
  readonly #options: HubOptions;
  #closed = false;

  constructor(options: HubOptions = {}) {
    const maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE;
    if (!(maxQueue > 0) || !Number.isFinite(maxQueue))
      throw new RangeError('maxQueue must be a positive number of bytes');
    const slow = options.slow ?? 'close';
    if (slow !== 'close' && slow !== 'drop') throw new TypeError("slow must be 'close' or 'drop'");
    this.#maxQueue = maxQueue;
    this.#slow = slow;
    this.#options = options;
    this.#broker = options.broker ?? null;
    this.#broker?.attach({
      message: (topic, message) => this.#deliver(topic, message, undefined),
      event: (event) => callHook(options.onBrokerEvent, event),
    });
  }

  /** Subscribes `connection` to `topic` (nothing happens if it already is). */
  subscribe(connection: HubConnection, topic: string): void {
    this.#check(topic);
    let s = this.#subscribers.get(connection);
    if (s === undefined) {
      s = this.#records.get(connection);
      if (s === undefined) {
        s = new Subscriber(connection, {
          maxQueue: this.#maxQueue,
          slow: this.#slow,
          onGone: (gone) => this.#gone(gone),
        });
        this.#records.set(connection, s);
      }
      // Closed as too slow and still closing: it takes no topic, as while subscribed.
      if (s.gone) return;
      if (!s.join()) {
        // Someone else holds the writer: the hub cannot serve this connection.
        callHook(this.#options.onLeave, connection, 0);
        return;
      }
      this.#subscribers.set(connection, s);
    }
    if (s.gone || s.topics.has(topic)) return;
    s.topics.add(topic);
    let set = this.#topics.get(topic);
    if (set === undefined) {
      set = new Set();
      this.#topics.set(topic, set);
      this.#broker?.subscribe(topic);
    }
    set.add(s);
  }

  /** Unsubscribes `connection` from `topic`, or from every topic when `topic` is omitted. */
  unsubscribe(connection: HubConnection, topic?: string): void {
    const s = this.#subscribers.get(connection);
    if (s === undefined) return;
    for (const t of topic === undefined ? [...s.topics] : [topic]) {
      if (s.topics.delete(t)) this.#leaveTopic(s, t);
    }
    if (s.topics.size === 0) this.#remove(s);
  }

  /**
   * Publishes `message` to `topic`: every local subscriber gets it before
   * this returns (queued, dropped or closed as too slow, by the policy), then
   * the broker carries it to the other nodes. The promise resolves once the
   * broker accepted it (at once without a broker) and rejects with a
   * {@link HubError} when the broker could not (Redis unreachable, or its
   * backlog bound reached); the local delivery happened either way. Binary
   * messages are copied once, so the caller may reuse its buffer at once.
   */
  publish(topic: string, message: HubMessageInput, options?: PublishOptions): Promise<void> {
    checkTopic(topic);
    // A closed hub answers through the promise, as the broker's failures do.
    if (this.#closed) return Promise.reject(new HubError(HubErrorCode.CLOSED, 'the hub is closed'));
    let m = toHubMessage(message);
    // One copy for all subscribers: the caller may reuse its buffer as soon as this returns.
    if (typeof m !== 'string') m = copyBytes(m);
    this.#deliver(topic, m, options?.except);
    if (this.#broker === null) return Promise.resolve();
    return this.#broker.publish(topic, m);
  }

  /** Sends `message` to one subscribed connection, through its queue (in order with topic messages). */
  send(connection: HubConnection, message: HubMessageInput): boolean {
    const s = this.#subscribers.get(connection);
    if (s === undefined) return false;
    const m = toHubMessage(message);
    const queued = s.queued;
    const offered = s.offer(typeof m === 'string' ? m : copyBytes(m));
    // Closed as too slow: told as for a topic message.
    if (offered === Offer.CLOSED) callHook(this.#options.onSlow, s.connection, queued);
    return offered === Offer.QUEUED;
  }

  /** The topics `connection` is subscribed to. */
  topicsOf(connection: HubConnection): string[] {
    return [...(this.#subscribers.get(connection)?.topics ?? [])];
  }

  /** Local subscribers of `topic`. */
  subscriberCount(topic: string): number {
    return this.#topics.get(topic)?.size ?? 0;
  }

  /** Topics with at least one local subscriber. */
  get topics(): string[] {
    return [...this.#topics.keys()];
  }

  /** Messages skipped for `connection` under the `drop` policy. */
  dropped(connection: HubConnection): number {
    return this.#subscribers.get(connection)?.dropped ?? 0;
  }

  /** Bytes queued for `connection` (handed to its writable, not yet sent). */
  queuedBytes(connection: HubConnection): number {
    return this.#subscribers.get(connection)?.queued ?? 0;
  }

  /** Unsubscribes everyone (connections stay open) and closes the broker. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of [...this.#subscribers.values()]) this.#remove(s);
    await this.#broker?.close();
  }

  #check(topic: string): void {
    checkTopic(topic);
    if (this.#closed) throw new HubError(HubErrorCode.CLOSED, 'the hub is closed');
  }

  #deliver(topic: string, message: HubMessage, except: HubConnection | undefined): void {
    const set = this.#topics.get(topic);
    if (set === undefined) return;
    const size = messageSize(message);
    for (const s of set) {
      if (s.connection === except) continue;
      const queued = s.queued;
      if (s.offer(message, size) === Offer.CLOSED)
        callHook(this.#options.onSlow, s.connection, queued);
    }
  }

  #leaveTopic(s: Subscriber, topic: string): void {
    const set = this.#topics.get(topic);
    if (set === undefined || !set.delete(s) || set.size > 0) return;
    this.#topics.delete(topic);
    this.#broker?.unsubscribe(topic);
  }

  /** The subscription cannot go on; when the connection ended, its record goes too. */
  #gone(s: Subscriber): void {
    this.#remove(s);
    if (s.ended && this.#records.get(s.connection) === s) this.#records.delete(s.connection);
  }

  #remove(s: Subscriber): void {
    if (this.#subscribers.get(s.connection) !== s) return;
    this.#subscribers.delete(s.connection);
    for (const t of s.topics) this.#leaveTopic(s, t);
    s.topics.clear();
    s.release();
    callHook(this.#options.onLeave, s.connection, s.dropped);
  }
}

/**
 * A topic is a string of well-formed Unicode: one with a lone surrogate has no
 * UTF-8 form, so a broker would carry it as another topic (U+FFFD in its place).
 */
function checkTopic(topic: unknown): void {
  if (typeof topic !== 'string') throw new TypeError('a topic is a string');
  if (!(topic as string & { isWellFormed(): boolean }).isWellFormed())
    throw new TypeError('a topic is well-formed Unicode: it has a lone surrogate');
}
