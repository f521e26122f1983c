/**
 * The options of `serve` that take `--broadcast` beyond one process:
 * `--redis URL` (a Redis broker), `--redis-cluster URL,...` (Redis Cluster
 * sharded pub/sub) and `--workers N` (node:cluster).
 */
import cluster from 'node:cluster';
import type { HubBroker } from '../hub/index.js';
import { clusterBroker } from '../hub/index.js';
import { redisBroker, redisClusterBroker } from '../hub/redis.js';
import { flag, str, UsageError } from './args.js';
import { MAX_WORKERS, runPrimary } from './hub-workers.js';

/**
 * In the primary of `--workers N`: runs the workers until a signal and
 * resolves with the exit code. Otherwise (no `--workers`, or in a worker):
 * resolves with null, and the caller serves.
 */
export async function hubWorkers(
  values: Record<string, unknown>,
  log: (line: string) => void,
): Promise<number | null> {
  const redis = str(values, 'redis');
  if (redis !== undefined) {
    if (!flag(values, 'broadcast')) throw new UsageError('--redis applies to --broadcast');
    if (!/^rediss?:\/\//.test(redis) || !URL.canParse(redis))
      throw new UsageError(`--redis: "${redis}" is not a redis:// or rediss:// URL`);
  }
  const nodes = clusterNodes(values);
  if (nodes !== undefined) {
    if (!flag(values, 'broadcast')) throw new UsageError('--redis-cluster applies to --broadcast');
    if (redis !== undefined) throw new UsageError('--redis and --redis-cluster exclude each other');
  }
  const text = str(values, 'workers');
  if (text === undefined || cluster.isWorker) return null;
  const workers = Number(text);
  if (!/^\d+$/.test(text) || workers < 1 || workers > MAX_WORKERS)
    throw new UsageError(`--workers: "${text}" is not a number from 1 to ${MAX_WORKERS}`);
  const relay = flag(values, 'broadcast') && redis === undefined && nodes === undefined;
  return runPrimary({ workers, relay, log });
}

/**
 * The broker `--broadcast` uses here: Redis with `--redis`, Redis Cluster
 * sharded pub/sub with `--redis-cluster`, the cluster primary in a
 * `--workers` worker, else none.
 */
export async function hubBroker(values: Record<string, unknown>): Promise<HubBroker | null> {
  if (!flag(values, 'broadcast')) return null;
  const url = str(values, 'redis');
  if (url !== undefined) return redisBroker({ url });
  const rootNodes = clusterNodes(values);
  if (rootNodes !== undefined) return redisClusterBroker({ rootNodes });
  if (cluster.isWorker && str(values, 'workers') !== undefined) return clusterBroker();
  return null;
}

/** The URLs of `--redis-cluster URL[,URL...]`, checked; undefined without the option. */
function clusterNodes(values: Record<string, unknown>): string[] | undefined {
  const text = str(values, 'redis-cluster');
  if (text === undefined) return undefined;
  const urls = text.split(',').map((u) => u.trim());
  for (const url of urls) {
    if (!/^rediss?:\/\/[^/]/.test(url) || !URL.canParse(url))
      throw new UsageError(`--redis-cluster: "${url}" is not a redis:// or rediss:// URL`);
  }
  return urls;
}
