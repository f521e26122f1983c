/**
 * `wsstream/hub/redis`: a hub broker on Redis pub/sub, for fan-out between
 * processes and machines. Needs the `redis` package (node-redis 5 or later),
 * an optional peer dependency loaded only when {@link redisBroker} is called.
 *
 * - One Redis channel per topic (`channelPrefix` + topic), subscribed once per
 *   process while the topic has local subscribers, never once per connection.
 * - Two Redis connections per process: one subscribed, one publishing (a
 *   subscribed Redis connection cannot publish).
 * - Messages travel in the envelope of `envelope.ts` (kind, node id,
 *   payload): text stays text, binary stays binary, and a process ignores its
 *   own messages when Redis hands them back.
 * - Redis unreachable or restarting: `publish()` rejects at once with a
 *   `HubError` `BROKER_UNAVAILABLE` (it never queues while disconnected, so
 *   memory stays bounded and publishers are not held up); local subscribers
 *   got the message regardless. Both connections reconnect with capped
 *   exponential backoff and jitter; subscriptions are restored on reconnect.
 *   Messages published elsewhere while this process was disconnected are not
 *   replayed (Redis pub/sub is at-most-once).
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
import type { HubMessage } from './message.js';
import { backoffDelay } from '../reconnect/backoff.js';
import { DEFAULT_MAX_PENDING_BYTES, describe, loadRedis, type RedisModule } from './redis-load.js';

export { DEFAULT_MAX_PENDING_BYTES } from './redis-load.js';
export { redisClusterBroker, type RedisClusterBrokerOptions } from './redis-cluster.js';

/** Options of {@link redisBroker}. */
export interface RedisBrokerOptions {
  /** The Redis server: `redis://[user:password@]host:port[/db]` or `rediss://`; default `redis://127.0.0.1:6379`. */
  url?: string;
  /** Prefix of the Redis channel names; default `'wsstream:'` (topic `/room/a` is channel `wsstream:/room/a`). */
  channelPrefix?: string;
  /**
   * Bytes published but not yet acknowledged by Redis; default 8 MiB, a
   * positive finite number (RangeError otherwise). A publish past it rejects
   * with `BROKER_BACKLOG`. Stops a publisher faster
   * than Redis (or a Redis that stalls) from growing this process's memory
   * without bound.
   */
  maxPendingBytes?: number;
  /** First reconnect delay in milliseconds; default 100. Each failed attempt doubles it. */
  reconnectDelay?: number;
  /** Longest reconnect delay in milliseconds; default 5000. Delays are jittered (50-100% of the value). */
  maxReconnectDelay?: number;
}

/** The part of node-redis's client this broker uses. */
interface RedisClient {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  connect(): Promise<unknown>;
  publish(channel: string, message: Buffer): Promise<number>;
  subscribe(channel: string, listener: Listener, bufferMode: true): Promise<void>;
  unsubscribe(channel: string, listener: Listener, bufferMode: true): Promise<void>;
  readonly isReady: boolean;
  destroy?(): void;
  disconnect?(): Promise<void>;
}
type Listener = (message: Buffer, channel: Buffer) => void;
/**
 * Creates a Redis broker for a `Hub` (`new Hub({ broker: await redisBroker({ url }) })`).
 * Resolves once the `redis` package is loaded and the connections are
 * started, without waiting for Redis: a hub starts and serves its local
 * subscribers while Redis is down, and joins when Redis comes up. Rejects
 * with a clear error when the `redis` package is not installed.
 */
export async function redisBroker(options: RedisBrokerOptions = {}): Promise<HubBroker> {
  const redis = await loadRedis();
  return new RedisBroker(redis, options);
}

class RedisBroker implements HubBroker {
  readonly #nodeId = newNodeId();
  readonly #prefix: string;
  readonly #backlog: PublishBacklog;
  readonly #pub: RedisClient;
  readonly #sub: RedisClient;
  readonly #listeners = new Map<string, Listener>();
  #events: BrokerEvents | null = null;
  #closed = false;

  constructor(redis: RedisModule, o: RedisBrokerOptions) {
    this.#prefix = o.channelPrefix ?? 'wsstream:';
    const maxPending = checkMaxPendingBytes(o.maxPendingBytes, DEFAULT_MAX_PENDING_BYTES);
    this.#backlog = new PublishBacklog(
      'the Redis broker',
      maxPending,
      'published and not yet acknowledged by Redis',
    );
    const first = o.reconnectDelay ?? 100;
    const max = o.maxReconnectDelay ?? 5000;
    const make = (role: string, offline: boolean): RedisClient => {
      const client = redis.createClient({
        url: o.url ?? 'redis://127.0.0.1:6379',
        // While Redis is away, publishes fail at once instead of piling up in memory.
        disableOfflineQueue: !offline,
        socket: {
          connectTimeout: 5000,
          reconnectStrategy: (retries: number, cause: unknown) => {
            const delay = backoffDelay(retries, first, max);
            this.#emit({
              type: 'reconnecting',
              message: `redis ${role}: ${describe(cause)}; retrying in ${delay} ms`,
              delay,
              error: cause,
            });
            return delay;
          },
        },
      }) as RedisClient;
      // Without an 'error' listener node-redis's errors would be thrown as unhandled 'error' events.
      client.on('error', () => {});
      client.on('ready', () =>
        this.#emit({ type: 'connected', message: `redis ${role}: connected` }),
      );
      client.on('end', () =>
        this.#emit({ type: 'disconnected', message: `redis ${role}: closed` }),
      );
      client.connect().catch((error: unknown) => {
        if (!this.#closed)
          this.#emit({ type: 'error', message: `redis ${role}: ${describe(error)}`, error });
      });
      return client;
    };
    this.#pub = make('publisher', false);
    // The subscriber's offline queue holds SUBSCRIBE commands only (one per topic), restored on reconnect anyway.
    this.#sub = make('subscriber', true);
  }

  attach(events: BrokerEvents): void {
    if (this.#events !== null) throw new Error('this broker is already attached to a hub');
    this.#events = events;
  }

  subscribe(topic: string): void {
    if (this.#closed || this.#listeners.has(topic)) return;
    const listener: Listener = (data) => this.#receive(topic, data);
    this.#listeners.set(topic, listener);
    this.#sub.subscribe(this.#prefix + topic, listener, true).catch((error: unknown) => {
      this.#emit({
        type: 'error',
        message: `redis: subscribe ${topic}: ${describe(error)}`,
        error,
      });
    });
  }

  unsubscribe(topic: string): void {
    const listener = this.#listeners.get(topic);
    if (listener === undefined) return;
    this.#listeners.delete(topic);
    if (this.#closed) return;
    this.#sub.unsubscribe(this.#prefix + topic, listener, true).catch((error: unknown) => {
      this.#emit({
        type: 'error',
        message: `redis: unsubscribe ${topic}: ${describe(error)}`,
        error,
      });
    });
  }

  publish(topic: string, message: HubMessage): Promise<void> {
    const unavailable = this.#pub.isReady
      ? null
      : "Redis is not connected: the message reached this process's subscribers only";
    const envelope = this.#backlog.admit(this.#closed, unavailable, this.#nodeId, message);
    if (envelope instanceof HubError) return Promise.reject(envelope);
    const size = envelope.byteLength;
    return this.#pub.publish(this.#prefix + topic, envelope).then(
      () => {
        this.#backlog.release(size);
      },
      (error: unknown) => {
        this.#backlog.release(size);
        throw new HubError(
          HubErrorCode.BROKER_UNAVAILABLE,
          `Redis publish failed: ${describe(error)}`,
          {
            cause: error,
          },
        );
      },
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    for (const client of [this.#pub, this.#sub]) {
      try {
        if (client.destroy !== undefined) client.destroy();
        else await client.disconnect?.();
      } catch {
        // Already closed.
      }
    }
  }

  #receive(topic: string, data: Buffer): void {
    const envelope = decodeEnvelope(data);
    if (envelope === null) {
      this.#emit({
        type: 'error',
        message: `redis: ignored a message on ${topic} that is not a wsstream envelope`,
      });
      return;
    }
    // Our own message, back from Redis: the local subscribers already have it.
    if (envelope.nodeId.equals(this.#nodeId)) return;
    this.#events?.message(topic, envelope.message);
  }

  #emit(event: BrokerEvent): void {
    if (this.#closed && event.type !== 'disconnected') return;
    try {
      this.#events?.event?.(event);
    } catch {
      // A logging hook must not break the client's event handling.
    }
  }
}
