/**
 * A hub broker between node:cluster workers on one machine, with the cluster
 * primary as the relay: a worker sends each published message to the
 * primary over IPC, the primary sends it to every other worker, each worker
 * fans it out to its local subscribers. Nothing else to run on one machine;
 * for several machines, use `wsstream/hub/redis`.
 *
 * Messages travel in the envelope of `envelope.ts` (text stays text, binary
 * stays binary). The primary relays every message to every other worker
 * (workers without subscribers for the topic drop it): IPC is cheap next to
 * the WebSocket writes, and it keeps the primary stateless.
 *
 * Memory: a worker rejects a publish (`BROKER_BACKLOG`) while more than
 * `maxPendingBytes` it sent are still in its IPC channel; the primary skips a
 * worker whose channel holds more than that, and counts it.
 */
import cluster, { type Worker } from 'node:cluster';
import { checkMaxPendingBytes, PublishBacklog } from './backlog.js';
import { HubError, HubErrorCode, type BrokerEvents, type HubBroker } from './broker.js';
import { decodeEnvelope, newNodeId } from './envelope.js';
import type { HubMessage } from './message.js';
import { callHook } from '../streams/user-hook.js';

/** Default of `maxPendingBytes` of {@link clusterBroker} and {@link clusterRelay}: 8 MiB. */
export const DEFAULT_MAX_IPC_PENDING_BYTES = 8 * 1024 * 1024;

/** Options of {@link clusterRelay}. */
export interface ClusterRelayOptions {
  /**
   * Bytes relayed to one worker and still in its IPC channel; default 8 MiB
   * ({@link DEFAULT_MAX_IPC_PENDING_BYTES}), a positive finite number
   * (RangeError otherwise). A message that would go past it is skipped for
   * that worker and counted. Stops a worker that stalls (or an event loop
   * busy elsewhere) from growing the primary's memory without bound.
   */
  maxPendingBytes?: number;
  /** Called for each message skipped for a worker over `maxPendingBytes`. Errors it throws are ignored. */
  onSkip?: (worker: Worker) => void;
}

/** Options of {@link clusterBroker}. */
export interface ClusterBrokerOptions {
  /**
   * Bytes this worker published and its IPC channel to the primary has not
   * taken yet; default 8 MiB ({@link DEFAULT_MAX_IPC_PENDING_BYTES}), a
   * positive finite number (RangeError otherwise). A publish past it rejects
   * with `BROKER_BACKLOG`. Stops a publisher faster than the primary from
   * growing the worker's memory without bound.
   */
  maxPendingBytes?: number;
}

/** The IPC message between workers and the primary. */
interface Relayed {
  readonly wsstreamHub: 1;
  readonly topic: string;
  readonly data: Uint8Array;
}

function isRelayed(m: unknown): m is Relayed {
  return (
    typeof m === 'object' &&
    m !== null &&
    (m as Relayed).wsstreamHub === 1 &&
    typeof (m as Relayed).topic === 'string' &&
    (m as Relayed).data instanceof Uint8Array
  );
}

/**
 * The primary's side: relays hub messages between the workers. Call it in
 * the primary before forking, with `cluster.setupPrimary({ serialization:
 * 'advanced' })` so that bytes cross IPC as bytes. Returns a function that
 * stops relaying and reports how many messages were skipped for workers
 * whose IPC channel was over `maxPendingBytes`. Throws a RangeError for a
 * `maxPendingBytes` that is not a positive finite number.
 */
export function clusterRelay(options: ClusterRelayOptions = {}): () => number {
  const max = checkMaxPendingBytes(options.maxPendingBytes, DEFAULT_MAX_IPC_PENDING_BYTES);
  const pending = new Map<Worker, number>();
  let skipped = 0;
  let warned = false;
  const onMessage = (from: Worker, message: unknown): void => {
    if (!isRelayed(message)) {
      // A hub message whose bytes became something else on the way: the IPC
      // channel serializes as JSON. Said once, rather than relaying nothing in silence.
      if (!warned && (message as Partial<Relayed> | null)?.wsstreamHub === 1) {
        warned = true;
        process.emitWarning(
          "clusterRelay(): hub messages arrive with their bytes serialized as JSON and are not relayed; call cluster.setupPrimary({ serialization: 'advanced' }) before forking",
          'WsstreamHubWarning',
        );
      }
      return;
    }
    const size = message.data.byteLength;
    for (const to of Object.values(cluster.workers ?? {})) {
      if (to === undefined || to === from || !to.isConnected()) continue;
      const held = pending.get(to) ?? 0;
      if (held > 0 && held + size > max) {
        skipped++;
        // A logging hook must not stop the relay (a throw or a rejection is ignored).
        callHook(options.onSkip, to);
        continue;
      }
      pending.set(to, held + size);
      to.send(message, undefined, () => {
        const left = (pending.get(to) ?? size) - size;
        if (left > 0) pending.set(to, left);
        else pending.delete(to);
      });
    }
  };
  const onExit = (worker: Worker): void => {
    pending.delete(worker);
  };
  cluster.on('message', onMessage);
  cluster.on('exit', onExit);
  return () => {
    cluster.off('message', onMessage);
    cluster.off('exit', onExit);
    return skipped;
  };
}

/**
 * A worker's side: a broker that sends through the primary (which must run
 * {@link clusterRelay}). Throws a RangeError for a `maxPendingBytes` that is
 * not a positive finite number, and an Error when this process is not a
 * cluster worker.
 */
export function clusterBroker(options: ClusterBrokerOptions = {}): HubBroker {
  const max = checkMaxPendingBytes(options.maxPendingBytes, DEFAULT_MAX_IPC_PENDING_BYTES);
  if (!cluster.isWorker || process.send === undefined) {
    throw new Error('clusterBroker() works in a node:cluster worker (see clusterRelay())');
  }
  return new ClusterBroker(max);
}

class ClusterBroker implements HubBroker {
  readonly #nodeId = newNodeId();
  readonly #topics = new Set<string>();
  readonly #backlog: PublishBacklog;
  #events: BrokerEvents | null = null;
  #closed = false;

  constructor(max: number) {
    this.#backlog = new PublishBacklog(
      'the cluster broker',
      max,
      'waiting in the IPC channel to the primary',
    );
    process.on('message', this.#onMessage);
  }

  attach(events: BrokerEvents): void {
    if (this.#events !== null) throw new Error('this broker is already attached to a hub');
    this.#events = events;
  }

  subscribe(topic: string): void {
    this.#topics.add(topic);
  }

  unsubscribe(topic: string): void {
    this.#topics.delete(topic);
  }

  publish(topic: string, message: HubMessage): Promise<void> {
    const unavailable =
      process.connected !== true ? 'the IPC channel to the cluster primary is closed' : null;
    const data = this.#backlog.admit(this.#closed, unavailable, this.#nodeId, message);
    if (data instanceof HubError) return Promise.reject(data);
    const size = data.byteLength;
    const relayed: Relayed = { wsstreamHub: 1, topic, data };
    return new Promise<void>((resolve, reject) => {
      process.send!(relayed, undefined, {}, (error: Error | null) => {
        this.#backlog.release(size);
        if (error === null) resolve();
        else
          reject(
            new HubError(HubErrorCode.BROKER_UNAVAILABLE, `IPC send failed: ${error.message}`, {
              cause: error,
            }),
          );
      });
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    process.off('message', this.#onMessage);
  }

  readonly #onMessage = (message: unknown): void => {
    if (!isRelayed(message) || !this.#topics.has(message.topic)) return;
    const envelope = decodeEnvelope(message.data);
    if (envelope === null || envelope.nodeId.equals(this.#nodeId)) return;
    this.#events?.message(message.topic, envelope.message);
  };
}
