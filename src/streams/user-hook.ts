/**
 * User-supplied functions called from I/O callbacks whose result is of no
 * use to the caller (loggers, counters, event listeners).
 */

const ignore = (): void => {};

/** Whether `value` is a promise or a promise-like object (its `then` read once). */
export function thenOf(value: unknown): ((this: unknown, ...args: unknown[]) => unknown) | null {
  if ((typeof value !== 'object' || value === null) && typeof value !== 'function') return null;
  const then = (value as { then?: unknown }).then;
  return typeof then === 'function'
    ? (then as (this: unknown, ...args: unknown[]) => unknown)
    : null;
}

/**
 * Calls `hook` with `args`, if there is one. What it throws is ignored, and
 * so is the rejection of a promise it returns (an `async` hook): neither may
 * break the caller, and a rejection nobody handles would end the process.
 */
export function callHook<A extends unknown[]>(
  hook: ((...args: A) => unknown) | undefined,
  ...args: A
): void {
  if (hook === undefined) return;
  try {
    const result = hook(...args);
    const then = thenOf(result);
    if (then !== null) then.call(result, undefined, ignore);
  } catch {
    // Ignored, as documented for every such hook.
  }
}
