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

/**
 * The subscription of one topic's channel. At most one (S)SUBSCRIBE or
 * (S)UNSUBSCRIBE of a channel is under way at a time; what the topic wants
 * when it settles decides the next one. Commands sent while another was
 * pending could be run by Redis in an order that leaves a channel with local
 * subscribers unsubscribed (node-redis registers a listener only when its
 * SUBSCRIBE is answered), and while Redis is away each join and leave would
 * queue one more command: now a topic holds at most one.
 */
interface TopicState {
  /** Hands what arrives to the hub while the topic wants it; kept while the state lives. */
  readonly listener: Listener;
  /** The topic has local subscribers. */
  wanted: boolean;
  /** node-redis may hold the listener: a SUBSCRIBE was sent and no UNSUBSCRIBE since. */
  held: boolean;
  /** A SUBSCRIBE failed, or node-redis lost the subscription: unsubscribe, then subscribe again. */
  renew: boolean;
  /** A command of this channel is under way. */
  busy: boolean;
  /** Failed attempts since the last subscription that succeeded (the backoff step). */
  attempt: number;
  /** The wait before the next attempt after a failure. */
  retry: ReturnType<typeof setTimeout> | null;
}

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
  /**
   * The topics with local subscribers, and those whose channel is still to
   * be unsubscribed (or whose command is under way).
   */
  readonly #topics = new Map<string, TopicState>();
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

  abstract publish(topic: string, message: HubMessage): Promise<void>;
  abstract close(): Promise<void>;

  /** Whether (un)subscriptions can be sent now; {@link pumpAll} is called once they can. */
  protected abstract get canSend(): boolean;

  subscribe(topic: string): void {
    if (this.closed) return;
    let state = this.#topics.get(topic);
    if (state === undefined) {
      state = this.#newTopic(topic);
      this.#topics.set(topic, state);
    } else if (state.wanted) return;
    state.wanted = true;
    this.#pump(topic, state);
  }

  unsubscribe(topic: string): void {
    const state = this.#topics.get(topic);
    if (state === undefined || !state.wanted) return;
    state.wanted = false;
    // A subscription waiting for another attempt is not made: its channel is unsubscribed.
    clearTimeout(state.retry ?? undefined);
    state.retry = null;
    this.#pump(topic, state);
  }

  /**
   * A topic's state, with its listener: it hands what arrives to the hub
   * while the topic has local subscribers and this is its state. node-redis
   * may still hold the listener of a state that was dropped (an UNSUBSCRIBE
   * that failed, a subscription restored on reconnect): that one delivers
   * nothing, so no message arrives twice.
   */
  #newTopic(topic: string): TopicState {
    const state: TopicState = {
      listener: (data) => {
        if (state.wanted && this.#topics.get(topic) === state) this.#receive(topic, data);
      },
      wanted: false,
      held: false,
      renew: false,
      busy: false,
      attempt: 0,
      retry: null,
    };
    return state;
  }

  /** Sends what every topic needs (the connection is ready: {@link canSend} turned true). */
  protected pumpAll(): void {
    for (const [topic, state] of this.#topics) this.#pump(topic, state);
  }

  /**
   * Sends the next command `topic` needs, unless one is under way, a retry
   * waits or nothing can be sent now; forgets the topic once nothing is
   * wanted or held.
   */
  #pump(topic: string, state: TopicState): void {
    if (this.closed || state.busy || state.retry !== null) return;
    if (!state.wanted && !state.held) {
      this.#topics.delete(topic);
      return;
    }
    if (!this.canSend || (state.wanted && state.held && !state.renew)) return;
    const channel = this.prefix + topic;
    state.busy = true;
    if (state.held) {
      // Leaving, or clearing what node-redis keeps of a failed subscription before the next attempt.
      const leaving = !state.wanted;
      const settled = (): void => {
        state.busy = false;
        state.held = false;
        state.renew = false;
        this.#pump(topic, state);
      };
      settledOf(() => this.sendUnsubscribe(channel, state.listener)).then(
        settled,
        (error: unknown) => {
          // Before another attempt the failure does not matter: the subscribe says what is wrong.
          if (leaving && !this.closed) this.failed('unsubscribe', topic, error);
          settled();
        },
      );
      return;
    }
    state.held = true;
    settledOf(() => this.sendSubscribe(channel, state.listener)).then(
      () => {
        state.busy = false;
        state.attempt = 0;
        this.#pump(topic, state);
      },
      (error: unknown) => {
        state.busy = false;
        if (this.closed) return;
        this.failed('subscribe', topic, error);
        state.renew = true;
        if (state.wanted) this.#retryLater(topic, state);
        else this.#pump(topic, state);
      },
    );
  }

  /**
   * Subscribes `topic` again after a backoff (the reconnect delays), for as
   * long as it has local subscribers: a subscription is never given up on
   * in silence. It first unsubscribes: node-redis keeps the listeners of a
   * channel it failed to move to another cluster node as if they were
   * subscribed, and a subscribe would then send nothing (elsewhere this is
   * one UNSUBSCRIBE of a channel not subscribed).
   */
  #retryLater(topic: string, state: TopicState): void {
    if (state.retry !== null) return;
    state.retry = setTimeout(
      () => {
        state.retry = null;
        this.#pump(topic, state);
      },
      backoffDelay(state.attempt++, this.#retryFirst, this.#retryMax),
    );
  }

  /** node-redis lost the subscription of `topic`: it is made again after a backoff, if still wanted. */
  protected renewSubscription(topic: string): void {
    const state = this.#topics.get(topic);
    if (this.closed || state === undefined || !state.wanted) return;
    state.renew = true;
    if (!state.busy) this.#retryLater(topic, state);
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

  /** Forgets every topic and cancels the attempts that wait (at close). */
  protected forgetTopics(): void {
    for (const state of this.#topics.values()) clearTimeout(state.retry ?? undefined);
    this.#topics.clear();
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
