/**
 * The order implementations run in. Whatever a place in a run costs (a
 * machine warming up or settling after the previous process, the page cache,
 * a neighbour's burst) should fall on every implementation alike, so that the
 * medians compare the code rather than the place.
 *
 * The first n runs rotate the list by one place each (every implementation
 * first once); the next n take the same rotations reversed, so that over 2n
 * runs every implementation also runs before each other one as often as
 * after it. Then the cycle repeats. Two implementations (a build against its
 * baseline) are balanced after every even number of runs: AB, BA, BA, AB.
 */
export function rotated<T>(list: readonly T[], run: number): T[] {
  const n = list.length;
  if (n === 0) return [];
  const step = (run - 1) % (2 * n);
  const k = step % n;
  const order = [...list.slice(k), ...list.slice(0, k)];
  return step < n ? order : order.reverse();
}

/**
 * The number of runs that gives `n` implementations a balanced order: `runs`
 * itself when each one is first equally often, or the next such number.
 */
export function balancedRuns(runs: number, n: number): number {
  if (n <= 1 || runs % n === 0) return runs;
  return runs + (n - (runs % n));
}
