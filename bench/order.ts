/**
 * The order implementations run in: rotated by one place each run, so that
 * whatever the position in a run costs (a machine warming up or settling
 * after the previous process, the page cache, a neighbour's burst) falls on
 * every implementation once in three runs instead of always on the first,
 * and the medians compare the code rather than the place.
 */
export function rotated<T>(list: readonly T[], run: number): T[] {
  if (list.length === 0) return [];
  const k = (run - 1) % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}
