/** Shared by the tests that check no promise is left rejected with no handler. */
import assert from 'node:assert/strict';

/**
 * Runs `body` and fails if a promise was rejected with no handler meanwhile
 * (Node reports those after the microtasks of a macrotask, so it waits one
 * short timer after `body` before looking).
 */
export async function withoutUnhandledRejections(body: () => Promise<void>): Promise<void> {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    await body();
    await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  assert.deepEqual(unhandled, []);
}
