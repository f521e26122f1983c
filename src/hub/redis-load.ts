/**
 * What both Redis brokers (`redis.ts`, `redis-cluster.ts`) share: loading the
 * optional `redis` peer dependency, the default bound, and error text.
 */

/** Default of `maxPendingBytes` of both Redis brokers: 8 MiB. */
export const DEFAULT_MAX_PENDING_BYTES = 8 * 1024 * 1024;

/** The two factories of node-redis the brokers call; each broker types what they return. */
export interface RedisModule {
  createClient(options: object): unknown;
  createCluster(options: object): unknown;
}

/** node-redis, or a clear error when the `redis` package is not installed. */
export async function loadRedis(): Promise<RedisModule> {
  // A variable specifier keeps bundlers from resolving the optional peer dependency up front.
  // @redis/client is the part of `redis` this needs, and loads in two thirds of the time.
  const names = ['@redis/client', 'redis'];
  try {
    return (await import(names[0]!)) as RedisModule;
  } catch {
    // Not resolvable on its own (a strict node_modules layout): through `redis` then.
  }
  try {
    return (await import(names[1]!)) as RedisModule;
  } catch (error) {
    throw new Error(
      'wsstream/hub/redis needs the "redis" package (node-redis 5 or later): npm install redis',
      { cause: error },
    );
  }
}

/** An error as one line for a broker event: its code (ECONNREFUSED, ...) and message. */
export function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code)
      ? `${code} ${error.message}`
      : error.message;
  }
  return String(error);
}
