/**
 * What both Redis brokers (`redis.ts` on plain pub/sub, `redis-cluster.ts` on
 * sharded pub/sub) do alike once connected: one listener per subscribed
 * topic, the envelope both ways (a process ignores its own messages), the
 * `maxPendingBytes` bound and fail-fast `publish()`, and the broker events.
 * How they connect, subscribe and publish is theirs.
 */
import { checkMaxPendingBytes, PublishBacklog } from './backlog.js';
import {
  HubError,
  HubErrorCode,
  type BrokerEvent,
  type BrokerEvents,
  type HubBroker,
} from './broker.js';
import { decodeEnvelope, newNodeId } from './envelope.js';
import { backoffDelay } from '../reconnect/backoff.js';
import type { HubMessage } from './message.js';
import { DEFAULT_MAX_PENDING_BYTES, describe } from './redis-load.js';
import { readMilliseconds } from '../streams/session-options.js';

/** Options both Redis brokers take, besides where Redis is. */
export interface RedisPubSubOptions {
  /** Prefix of the channel names; default `'wsstream:'` (topic `/room/a` is channel `wsstream:/room/a`). */
  channelPrefix?: string;
  /**
   * Bytes published but not yet acknowledged by Redis; default 8 MiB, a
   * positive finite number (RangeError otherwise). A publish past it rejects
   * with `BROKER_BACKLOG`. Stops a publisher faster than Redis (or a Redis
   * node that stalls) from growing this process's memory without bound.
   */
  maxPendingBytes?: number;
  /**
   * Milliseconds a publish waits for Redis to acknowledge it; default 5000.
   * Past it the publish rejects with `BROKER_UNAVAILABLE` (a Redis that
   * stalls with its connection open acknowledges nothing); the message may
   * still be delivered later, and its bytes count against `maxPendingBytes`
   * until Redis answers or the connection ends.
   */
  publishTimeout?: number;
  /** First reconnect delay in milliseconds; default 100. Each failed attempt doubles it. */
  reconnectDelay?: number;
  /** Longest reconnect delay in milliseconds; default 5000. Delays are jittered (50-100% of the value). */
  maxReconnectDelay?: number;
}

/** A node-redis subscription listener in buffer mode. */
export type Listener = (message: Buffer, channel: Buffer) => void;

/** What `send` returns, or a rejection with what it threw. */
function settledOf(send: () => Promise<void>): Promise<void> {
  try {
    return send();
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

export abstract class RedisPubSubBroker implements HubBroker {
  protected readonly prefix: string;
  /** The listener of each topic with local subscribers. */
  protected readonly listeners = new Map<string, Listener>();
  protected closed = false;
  readonly #nodeId = newNodeId();
  readonly #backlog: PublishBacklog;
  /** See {@link RedisPubSubOptions.publishTimeout}. */
  readonly #publishTimeout: number;
  /** How events name this broker (`redis`, `redis cluster`). */
  readonly #label: string;
  /** How publish errors name Redis (`Redis`, `Redis Cluster`). */
  readonly #system: string;
  #events: BrokerEvents | null = null;
  /** The backoff of subscriptions made again after a failure (the reconnect delays). */
  readonly #retryFirst: number;
  readonly #retryMax: number;
  /** Timers of subscriptions waiting for their next attempt, by topic. */
  readonly #retries = new Map<string, ReturnType<typeof setTimeout>>();

  /**
   * `label` names the broker in events, `system` Redis in publish errors;
   * `name` and `acknowledger` the broker and who acknowledges in `BROKER_BACKLOG` errors.
   */
  constructor(
    o: RedisPubSubOptions,
    names: { label: string; system: string; name: string; acknowledger: string },
  ) {
    const { label, system, name, acknowledger } = names;
    this.prefix = o.channelPrefix ?? 'wsstream:';
    // Positive: 0 doubles to 0, and the broker would reconnect in a tight loop while Redis is away.
    this.#publishTimeout = readMilliseconds(o.publishTimeout, 'publishTimeout', 5000);
    this.#retryFirst = readMilliseconds(o.reconnectDelay, 'reconnectDelay', 100);
    this.#retryMax = readMilliseconds(o.maxReconnectDelay, 'maxReconnectDelay', 5000);
    this.#label = label;
    this.#system = system;
    const maxPending = checkMaxPendingBytes(o.maxPendingBytes, DEFAULT_MAX_PENDING_BYTES);
    this.#backlog = new PublishBacklog(
      name,
      maxPending,
      `published and not yet acknowledged by ${acknowledger}`,
    );
  }

  attach(events: BrokerEvents): void {
    if (this.#events !== null) throw new Error('this broker is already attached to a hub');
    this.#events = events;
  }

  abstract subscribe(topic: string): void;
  abstract unsubscribe(topic: string): void;
  abstract publish(topic: string, message: HubMessage): Promise<void>;
  abstract close(): Promise<void>;

  /**
   * The listener for a new topic: hands what arrives on it to the hub while
   * it is the topic's listener. node-redis may still hold one that was
   * replaced (an UNSUBSCRIBE sent while the SUBSCRIBE was pending sends
   * nothing, and one lost with the connection is restored on reconnect):
   * that one delivers nothing, so no message arrives twice.
   */
  protected listenerFor(topic: string): Listener {
    const listener: Listener = (data) => {
      if (this.listeners.get(topic) === listener) this.#receive(topic, data);
    };
    return listener;
  }

  /**
   * Publishes `message` on `topic` through `send` (PUBLISH, SPUBLISH), or
   * rejects at once with `BROKER_UNAVAILABLE` (`unavailable` says why) or
   * `BROKER_BACKLOG`; a failed send rejects with `BROKER_UNAVAILABLE`.
   */
  protected publishWith(
    topic: string,
    message: HubMessage,
    unavailable: string | null,
    send: (channel: string, envelope: Buffer) => Promise<unknown>,
  ): Promise<void> {
    const envelope = this.#backlog.admit(this.closed, unavailable, this.#nodeId, message);
    if (envelope instanceof HubError) return Promise.reject(envelope);
    const size = envelope.byteLength;
    const sent = send(this.prefix + topic, envelope);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new HubError(
            HubErrorCode.BROKER_UNAVAILABLE,
            `${this.#system} did not acknowledge the publish within ${this.#publishTimeout} ms (it may still be delivered)`,
          ),
        );
      }, this.#publishTimeout);
      sent.then(
        () => {
          clearTimeout(timer);
          this.#backlog.release(size);
          resolve();
        },
        (error: unknown) => {
          clearTimeout(timer);
          this.#backlog.release(size);
          // Redis away, CLUSTERDOWN, too many redirections: the message is not carried.
          reject(
            new HubError(
              HubErrorCode.BROKER_UNAVAILABLE,
              `${this.#system} publish failed: ${describe(error)}`,
              { cause: error },
            ),
          );
        },
      );
    });
  }

  /** Sends the subscription of `channel` (SUBSCRIBE, SSUBSCRIBE). */
  protected abstract sendSubscribe(channel: string, listener: Listener): Promise<void>;
  /** Ends the subscription of `channel` for `listener` (UNSUBSCRIBE, SUNSUBSCRIBE). */
  protected abstract sendUnsubscribe(channel: string, listener: Listener): Promise<void>;

  /**
   * Subscribes `topic`'s channel. A failure is reported, and the channel is
   * subscribed again after a backoff (the reconnect delays) for as long as
   * the topic has local subscribers: a subscription is never given up on in
   * silence.
   */
  protected subscribeTopic(topic: string, listener: Listener, attempt = 0): void {
    const channel = this.prefix + topic;
    settledOf(() => this.sendSubscribe(channel, listener)).then(
      () => {
        // The topic's last subscriber left while this was under way: node-redis
        // sent no UNSUBSCRIBE for it then, so it is sent now.
        if (!this.closed && this.listeners.get(topic) !== listener) {
          this.sendUnsubscribe(channel, listener).catch((error: unknown) =>
            this.failed('unsubscribe', topic, error),
          );
        }
      },
      (error: unknown) => {
        this.failed('subscribe', topic, error);
        this.retrySubscription(topic, listener, attempt);
      },
    );
  }

  /**
   * Makes the subscription of `topic` again after a backoff, if the topic
   * still has `listener` by then (one attempt waits per topic). It first
   * unsubscribes: node-redis keeps the listeners of a channel it failed to
   * move to another cluster node as if they were subscribed, and a
   * subscribe would then send nothing (elsewhere this is one UNSUBSCRIBE of
   * a channel not subscribed).
   */
  protected retrySubscription(topic: string, listener: Listener, attempt: number): void {
    if (this.closed || this.listeners.get(topic) !== listener || this.#retries.has(topic)) return;
    const still = (): boolean => !this.closed && this.listeners.get(topic) === listener;
    const timer = setTimeout(
      () => {
        this.#retries.delete(topic);
        if (!still()) return;
        void settledOf(() => this.sendUnsubscribe(this.prefix + topic, listener))
          .catch(() => {
            // Nothing to clear, or Redis is away: the subscribe below says which.
          })
          .then(() => {
            if (still()) this.subscribeTopic(topic, listener, attempt + 1);
          });
      },
      backoffDelay(attempt, this.#retryFirst, this.#retryMax),
    );
    this.#retries.set(topic, timer);
  }

  /**
   * Cancels the attempt that waits for `topic` (its last local subscriber
   * left): a later subscription of the topic gets attempts of its own.
   */
  protected cancelRetry(topic: string): void {
    clearTimeout(this.#retries.get(topic));
    this.#retries.delete(topic);
  }

  /** Cancels the subscriptions waiting for another attempt (at close). */
  protected stopRetries(): void {
    for (const timer of this.#retries.values()) clearTimeout(timer);
    this.#retries.clear();
  }

  /** Reports a failed (un)subscription of `topic`. */
  protected failed(what: 'subscribe' | 'unsubscribe', topic: string, error: unknown): void {
    this.emit({
      type: 'error',
      message: `${this.#label}: ${what} ${topic}: ${describe(error)}`,
      error,
    });
  }

  protected emit(event: BrokerEvent): void {
    if (this.closed && event.type !== 'disconnected') return;
    try {
      this.#events?.event?.(event);
    } catch {
      // A logging hook must not break the client's event handling.
    }
  }

  #receive(topic: string, data: Buffer): void {
    const envelope = decodeEnvelope(data);
    if (envelope === null) {
      this.emit({
        type: 'error',
        message: `${this.#label}: ignored a message on ${topic} that is not a wsstream envelope`,
      });
      return;
    }
    // Our own message, back from Redis: the local subscribers already have it.
    if (envelope.nodeId.equals(this.#nodeId)) return;
    this.#events?.message(topic, envelope.message);
  }
}
