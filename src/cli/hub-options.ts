/**
 * The options of `serve` that take `--broadcast` beyond one process:
 * `--redis URL` (a Redis broker) and `--workers N` (node:cluster).
 */
import cluster from 'node:cluster';
import type { HubBroker } from '../hub/index.js';
import { clusterBroker } from '../hub/index.js';
import { redisBroker } from '../hub/redis.js';
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
    if (!/^rediss?:\/\//.test(redis))
      throw new UsageError(`--redis: "${redis}" is not a redis:// or rediss:// URL`);
  }
  const text = str(values, 'workers');
  if (text === undefined || cluster.isWorker) return null;
  const workers = Number(text);
  if (!/^\d+$/.test(text) || workers < 1 || workers > MAX_WORKERS)
    throw new UsageError(`--workers: "${text}" is not a number from 1 to ${MAX_WORKERS}`);
  return runPrimary({ workers, relay: flag(values, 'broadcast') && redis === undefined, log });
}

/** The broker `--broadcast` uses here: Redis with `--redis`, the cluster primary in a `--workers` worker, else none. */
export async function hubBroker(values: Record<string, unknown>): Promise<HubBroker | null> {
  if (!flag(values, 'broadcast')) return null;
  const url = str(values, 'redis');
  if (url !== undefined) return redisBroker({ url });
  if (cluster.isWorker && str(values, 'workers') !== undefined) return clusterBroker();
  return null;
}
