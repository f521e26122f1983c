/**
 * Capped exponential backoff with jitter, as the reconnecting client and
 * the Redis broker use it: attempt 0 waits 50-100% of `first`, each further
 * attempt doubles it, up to `max` milliseconds. The jitter spreads the
 * reconnects of many clients (all dropped at once by a draining server)
 * over time instead of bringing them back in one burst.
 */
export function backoffDelay(attempt: number, first: number, max: number): number {
  const base = Math.min(max, first * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + (Math.random() * base) / 2);
}
