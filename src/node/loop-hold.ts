/**
 * Keeps the event loop alive for connections whose reading is paused.
 *
 * A connection keeps its process alive through its pending read: Node's
 * socket handle while it reads, Deno's pending `read()` op. Paused by
 * backpressure, it has neither, and a program that only awaits `closed` (or a
 * timer-free handler) would exit with its connection open, which a connection
 * that reads does not let happen. One shared timer, referenced while any
 * connection is held here, keeps the loop alive instead (ref and unref are
 * flags: no timer is made per pause).
 */
import { setInterval } from 'node:timers';

const held = new Set<object>();
let timer: ReturnType<typeof setInterval> | null = null;
const noop = (): void => {};

/** `connection` is paused: the loop stays alive until {@link letLoopGo}. */
export function holdLoop(connection: object): void {
  if (held.has(connection)) return;
  held.add(connection);
  if (held.size === 1) (timer ??= setInterval(noop, 0x7fffffff)).ref();
}

/** `connection` reads again, or is closed. */
export function letLoopGo(connection: object): void {
  if (held.delete(connection) && held.size === 0) timer?.unref();
}

/** How many connections hold the loop now. */
export function loopHolds(): number {
  return held.size;
}
