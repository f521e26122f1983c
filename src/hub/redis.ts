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
import type { HubBroker } from './broker.js';
import type { HubMessage } from './message.js';
import { backoffDelay } from '../reconnect/backoff.js';
import { describe, loadRedis, type RedisModule } from './redis-load.js';
import { RedisPubSubBroker, type Listener, type RedisPubSubOptions } from './redis-pubsub.js';

export { DEFAULT_MAX_PENDING_BYTES } from './redis-load.js';
export { redisClusterBroker, type RedisClusterBrokerOptions } from './redis-cluster.js';

/** Options of {@link redisBroker}. */
export interface RedisBrokerOptions extends RedisPubSubOptions {
  /** The Redis server: `redis://[user:password@]host:port[/db]` or `rediss://`; default `redis://127.0.0.1:6379`. */
  url?: string;
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

class RedisBroker extends RedisPubSubBroker {
  readonly #pub: RedisClient;
  readonly #sub: RedisClient;

  constructor(redis: RedisModule, o: RedisBrokerOptions) {
    super(o, {
      label: 'redis',
      system: 'Redis',
      name: 'the Redis broker',
      acknowledger: 'Redis',
    });
    const first = o.reconnectDelay ?? 100;
    const max = o.maxReconnectDelay ?? 5000;
    const make = (role: string, offline: boolean): RedisClient => {
      /** Whether the connection was ready: its loss is told as 'disconnected' first. */
      let up = false;
      const client = redis.createClient({
        url: o.url ?? 'redis://127.0.0.1:6379',
        // While Redis is away, publishes fail at once instead of piling up in memory.
        disableOfflineQueue: !offline,
        socket: {
          connectTimeout: 5000,
          reconnectStrategy: (retries: number, cause: unknown) => {
            const delay = backoffDelay(retries, first, max);
            if (up) {
              up = false;
              this.emit({
                type: 'disconnected',
                message: `redis ${role}: connection lost: ${describe(cause)}`,
                error: cause,
              });
            }
            this.emit({
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
      client.on('ready', () => {
        // Closed while connecting: node-redis may finish a connection it had under way
        // after destroy(); it must not outlive the broker (nor keep the process alive).
        if (this.closed) destroyClient(client);
        else {
          up = true;
          this.emit({ type: 'connected', message: `redis ${role}: connected` });
        }
      });
      client.on('end', () => this.emit({ type: 'disconnected', message: `redis ${role}: closed` }));
      client.connect().then(
        () => {
          if (this.closed) destroyClient(client);
        },
        (error: unknown) => {
          if (!this.closed)
            this.emit({ type: 'error', message: `redis ${role}: ${describe(error)}`, error });
        },
      );
      return client;
    };
    this.#pub = make('publisher', false);
    // (Un)subscriptions are sent while the subscriber is connected, at most one
    // per topic at a time; what changed while it was away is sent once it is
    // ready again (node-redis itself restores the channels it had).
    this.#sub = make('subscriber', true);
    this.#sub.on('ready', () => this.pumpAll());
  }

  protected get canSend(): boolean {
    return this.#sub.isReady;
  }

  protected sendSubscribe(channel: string, listener: Listener): Promise<void> {
    return this.#sub.subscribe(channel, listener, true);
  }

  protected sendUnsubscribe(channel: string, listener: Listener): Promise<void> {
    return this.#sub.unsubscribe(channel, listener, true);
  }

  publish(topic: string, message: HubMessage): Promise<void> {
    const unavailable = this.#pub.isReady
      ? null
      : "Redis is not connected: the message reached this process's subscribers only";
    return this.publishWith(topic, message, unavailable, (channel, envelope) =>
      this.#pub.publish(channel, envelope),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.forgetTopics();
    for (const client of [this.#pub, this.#sub]) {
      if (client.destroy !== undefined) destroyClient(client);
      else await client.disconnect?.().catch(() => {});
    }
  }
}

/** Closes `client` at once if it is open; one already closed is left as it is. */
function destroyClient(client: RedisClient): void {
  try {
    client.destroy?.();
  } catch {
    // Already closed.
  }
}
