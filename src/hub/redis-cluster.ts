/**
 * `redisClusterBroker()` (exported by `wsstream/hub/redis`): a hub broker on
 * Redis 7 sharded pub/sub in a Redis Cluster. `SPUBLISH` delivers a message
 * only within the shard (master and its replicas) that owns the channel's
 * hash slot, where plain `PUBLISH` in a cluster is broadcast to every node
 * over the cluster bus; so pub/sub capacity grows with the shards.
 *
 * - The same contract as `redisBroker()`: one channel per topic
 *   (`channelPrefix` + topic), subscribed once per process while the topic
 *   has local subscribers; the envelope of `envelope.ts`; a process ignores
 *   its own messages; `publish()` never queues while disconnected
 *   (`BROKER_UNAVAILABLE` at once) and is bounded by `maxPendingBytes`.
 * - Two node-redis cluster clients (`createCluster`): a publisher (one
 *   connection per master, no offline queue) and a subscriber (only the
 *   connections `SSUBSCRIBE` needs: one per master that owns a subscribed
 *   channel).
 * - Connecting: node-redis gives up on a cluster whose root nodes are all
 *   unreachable at `connect()`; this broker retries that with capped,
 *   jittered backoff, so a process starts while the cluster is down and joins
 *   when it comes up. After that, node-redis reconnects each node connection
 *   (with the same backoff), restores its sharded subscriptions, follows
 *   `MOVED` redirections and slot migrations (it re-subscribes a moved
 *   channel on its new owner), and reloads the slot map when a node stays
 *   unreachable (failover to a replica).
 * - A subscription that fails, the broker's own or one node-redis makes
 *   after a topology change, is reported and made again with backoff while
 *   the topic has local subscribers; node-redis's are never left as
 *   unhandled rejections.
 */
import type { HubBroker } from './broker.js';
import type { HubMessage } from './message.js';
import { backoffDelay } from '../reconnect/backoff.js';
import { describe, loadRedis, type RedisModule } from './redis-load.js';
import { RedisPubSubBroker, type Listener, type RedisPubSubOptions } from './redis-pubsub.js';

/** Options of {@link redisClusterBroker}. */
/**
 * Longest a closing broker waits for node connections already under way to
 * settle before destroying the cluster: 1 s.
 */
const CLOSE_SETTLE_MS = 1000;

export interface RedisClusterBrokerOptions extends RedisPubSubOptions {
  /**
   * Some nodes of the cluster, `redis://[user:password@]host:port` or
   * `rediss://` (TLS); required, at least one (a TypeError otherwise). The
   * broker loads the others from them (`CLUSTER SLOTS`), trying them in turn;
   * give several so that one being down does not matter. The user, password
   * and TLS of the first URL apply to every node of the cluster.
   */
  rootNodes: readonly string[];
}

/** The part of node-redis's cluster client this broker uses. */
interface ClusterClient {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  connect(): Promise<unknown>;
  sPublish(channel: string, message: Buffer): Promise<number>;
  sSubscribe(channel: string, listener: Listener, bufferMode: true): Promise<void>;
  sUnsubscribe(channel: string, listener: Listener, bufferMode: true): Promise<void>;
  destroy(): void;
}

/**
 * Creates a broker for a `Hub` on Redis Cluster sharded pub/sub
 * (`new Hub({ broker: await redisClusterBroker({ rootNodes: ['redis://10.0.0.5:7000'] }) })`).
 * Needs Redis 7 or later (`SSUBSCRIBE`, `SPUBLISH`) and the `redis` package.
 * Resolves once the package is loaded and the connections are started,
 * without waiting for the cluster: the hub serves its local subscribers
 * meanwhile. Rejects when the `redis` package is not installed or an option
 * is invalid.
 */
export async function redisClusterBroker(options: RedisClusterBrokerOptions): Promise<HubBroker> {
  const rootNodes = checkRootNodes(options?.rootNodes);
  const redis = await loadRedis();
  return new RedisClusterBroker(redis, options, rootNodes);
}

function checkRootNodes(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0)
    throw new TypeError('redisClusterBroker: rootNodes must list at least one redis:// URL');
  for (const url of value) {
    let ok = typeof url === 'string' && /^rediss?:\/\/[^/]/.test(url);
    // Each one in full (a port past 65535, a space in the host), not only the first.
    if (ok) {
      try {
        const parsed = new URL(url as string);
        ok = parsed.hostname !== '';
      } catch {
        ok = false;
      }
    }
    if (!ok)
      throw new TypeError(
        `redisClusterBroker: "${String(url)}" is not a redis:// or rediss:// URL`,
      );
  }
  return [...(value as string[])];
}

/** The settings of the first root node URL that must reach every node: node-redis does not carry them over from `rootNodes`. */
function nodeDefaults(url: string): { username?: string; password?: string; tls: boolean } {
  const parsed = new URL(url);
  const out: { username?: string; password?: string; tls: boolean } = {
    tls: parsed.protocol === 'rediss:',
  };
  if (parsed.username !== '') out.username = decodeURIComponent(parsed.username);
  if (parsed.password !== '') out.password = decodeURIComponent(parsed.password);
  return out;
}

class RedisClusterBroker extends RedisPubSubBroker {
  readonly #pub: ClusterClient;
  readonly #sub: ClusterClient;
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Connections and subscriptions node-redis has under way. */
  readonly #inflight = new Set<Promise<unknown>>();
  /** The slot map is loaded: publishes and subscriptions can be routed. */
  #pubReady = false;
  #subReady = false;
  readonly #firstDelay: number;
  readonly #maxDelay: number;
  /** Set while the broker itself calls sSubscribe() (it handles the outcome). */
  #ownCall = false;

  constructor(redis: RedisModule, o: RedisClusterBrokerOptions, rootNodes: string[]) {
    super(o, {
      label: 'redis cluster',
      system: 'Redis Cluster',
      name: 'the Redis Cluster broker',
      acknowledger: 'the Redis Cluster',
    });
    const first = o.reconnectDelay ?? 100;
    const max = o.maxReconnectDelay ?? 5000;
    this.#firstDelay = first;
    this.#maxDelay = max;
    const { tls, ...credentials } = nodeDefaults(rootNodes[0]!);
    const make = (role: string, offline: boolean): ClusterClient => {
      /** Whether some node's connection was ready: a lost one is told as 'disconnected' first. */
      let up = false;
      const cluster = redis.createCluster({
        rootNodes: rootNodes.map((url) => ({ url })),
        // Settings of every connection to a node (node-redis takes none of them from rootNodes).
        defaults: {
          ...credentials,
          // While a node is away, publishes fail at once instead of piling up in memory.
          disableOfflineQueue: !offline,
          socket: {
            ...(tls ? { tls: true } : {}),
            connectTimeout: 5000,
            reconnectStrategy: (retries: number, cause: unknown) => {
              const delay = backoffDelay(retries, first, max);
              if (up && retries === 0) {
                this.emit({
                  type: 'disconnected',
                  message: `redis cluster ${role}: connection to a node lost: ${describe(cause)}`,
                  error: cause,
                });
              }
              this.emit({
                type: 'reconnecting',
                message: `redis cluster ${role}: ${describe(cause)}; retrying in ${delay} ms`,
                delay,
                error: cause,
              });
              return delay;
            },
          },
        },
        // The subscriber connects only to the masters of subscribed channels.
        minimizeConnections: offline,
      }) as ClusterClient;
      // Without these listeners node-redis's errors would be thrown as unhandled 'error' events;
      // the failures they report come back as 'reconnecting' events.
      cluster.on('error', () => {});
      cluster.on('node-error', () => {});
      cluster.on('node-ready', (node) => {
        up = true;
        this.emit({ type: 'connected', message: `redis cluster ${role}: ${address(node)} ready` });
      });
      cluster.on('node-disconnect', (node) =>
        this.emit({
          type: 'disconnected',
          message: `redis cluster ${role}: ${address(node)} closed`,
        }),
      );
      cluster.on('sharded-channel-moved-error', (error, channel) =>
        this.#lost(String(channel), 'moved and could not be subscribed again', error),
      );
      return cluster;
    };
    this.#pub = make('publisher', false);
    // The subscriber's offline queue holds SSUBSCRIBE commands only (one per topic).
    this.#sub = make('subscriber', true);
    this.#guardResubscribes(this.#sub);
    this.#connect('publisher', this.#pub, 0, () => {
      this.#pubReady = true;
    });
    this.#connect('subscriber', this.#sub, 0, () => {
      this.#subReady = true;
      this.pumpAll();
    });
  }

  /** `promise` is under way until it settles (see {@link close}). */
  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inflight.add(promise);
    const done = (): void => {
      this.#inflight.delete(promise);
    };
    promise.then(done, done);
    return promise;
  }

  /** Loads the slot map, retrying with backoff while no root node answers (node-redis does not). */
  #connect(role: string, cluster: ClusterClient, attempt: number, ready: () => void): void {
    this.#track(cluster.connect()).then(
      () => {
        // Closed while connecting: the connections made meanwhile must not outlive the broker.
        if (this.closed) {
          cluster.destroy();
          return;
        }
        this.emit({ type: 'connected', message: `redis cluster ${role}: slot map loaded` });
        ready();
      },
      (error: unknown) => {
        if (this.closed) return;
        const delay = backoffDelay(attempt, this.#firstDelay, this.#maxDelay);
        this.emit({
          type: 'reconnecting',
          message: `redis cluster ${role}: ${describe(error)}; retrying in ${delay} ms`,
          delay,
          error,
        });
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          if (!this.closed) this.#connect(role, cluster, attempt + 1, ready);
        }, delay);
        this.#timers.add(timer);
      },
    );
  }

  /** Before the slot map is loaded nothing can be routed: the ready callback subscribes then. */
  protected get canSend(): boolean {
    return this.#subReady;
  }

  publish(topic: string, message: HubMessage): Promise<void> {
    const unavailable = this.#pubReady
      ? null
      : "the Redis Cluster is not connected: the message reached this process's subscribers only";
    return this.publishWith(topic, message, unavailable, (channel, envelope) =>
      this.#pub.sPublish(channel, envelope),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.forgetTopics();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    // A node connection node-redis has under way when the cluster is destroyed is
    // finished afterwards and dropped from its maps, open and subscribed: let what is
    // under way settle first (briefly: a node that does not answer is given up).
    if (this.#inflight.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled(this.#inflight),
        new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_SETTLE_MS))),
      ]);
      clearTimeout(timer);
    }
    for (const cluster of [this.#pub, this.#sub]) {
      try {
        cluster.destroy();
      } catch {
        // Already closed.
      }
    }
  }

  protected sendSubscribe(channel: string, listener: Listener): Promise<void> {
    this.#ownCall = true;
    try {
      return this.#track(this.#sub.sSubscribe(channel, listener, true));
    } finally {
      this.#ownCall = false;
    }
  }

  protected sendUnsubscribe(channel: string, listener: Listener): Promise<void> {
    return this.#sub.sUnsubscribe(channel, listener, true);
  }

  /**
   * node-redis lost the subscription of `channel` while moving it to another
   * node: reported, and subscribed again with backoff if it is one of ours.
   */
  #lost(channel: string, what: string, error: unknown): void {
    this.emit({
      type: 'error',
      message: `redis cluster: ${channel} ${what}: ${describe(error)}`,
      error,
    });
    if (!channel.startsWith(this.prefix)) return;
    this.renewSubscription(channel.slice(this.prefix.length));
  }

  /**
   * After a topology change (a master gone from the slot map, a reconnected
   * node answering MOVED), node-redis subscribes the channels of the node it
   * left again by calling the cluster client's own sSubscribe() and drops
   * the promise; a failure there would be an unhandled rejection, which ends
   * a Node process. The client's sSubscribe (an instance property in
   * node-redis 5, on the instance behind the object createCluster()
   * returns) is wrapped so that those calls' failures are handled here:
   * reported, and the topic subscribed again. Without such a property the
   * broker's own calls still handle theirs.
   */
  #guardResubscribes(cluster: ClusterClient): void {
    const self = (cluster as { _self?: unknown })._self;
    const owner = typeof self === 'object' && self !== null ? self : cluster;
    if (!Object.hasOwn(owner, 'sSubscribe')) return;
    const target = owner as { sSubscribe: ClusterClient['sSubscribe'] };
    const original = target.sSubscribe;
    if (typeof original !== 'function') return;
    const handled = (): boolean => this.#ownCall;
    const lost = (channel: string, error: unknown): void =>
      this.#lost(channel, 'could not be subscribed again', error);
    target.sSubscribe = function (this: unknown, channel, listener, bufferMode) {
      const sent = Reflect.apply(original, this, [channel, listener, bufferMode]) as unknown;
      if (!handled() && sent instanceof Promise)
        sent.catch((error: unknown) => lost(String(channel), error));
      return sent as Promise<void>;
    };
  }
}

/** `host:port` of the node node-redis names in its node events. */
function address(node: unknown): string {
  const { host, port } = (node ?? {}) as { host?: unknown; port?: unknown };
  return `${String(host)}:${String(port)}`;
}
