/**
 * Queuing strategies: the one that counts messages by their size in bytes
 * (extension), and the guard that keeps a user's strategy from throwing out
 * of an I/O callback.
 */
import { utf8Length } from '../core/close.js';

/**
 * The size of a message in bytes: the UTF-8 length of a string (what a text
 * message carries on the wire), the byte length of an ArrayBuffer or a view.
 * Anything else is sent as the text of `String(chunk)` and counts as that
 * (0 if the conversion throws: the write itself then rejects).
 */
export function messageSize(chunk: unknown): number {
  if (typeof chunk === 'string') return utf8Length(chunk);
  if (chunk instanceof ArrayBuffer || ArrayBuffer.isView(chunk)) return chunk.byteLength;
  if (typeof SharedArrayBuffer !== 'undefined' && chunk instanceof SharedArrayBuffer)
    return chunk.byteLength;
  try {
    return utf8Length(String(chunk));
  } catch {
    return 0;
  }
}

/**
 * A queuing strategy that counts each message by its size in bytes, text and
 * binary alike (extension): `ByteLengthQueuingStrategy` counts only binary
 * chunks, and a text message (a string, which has no `byteLength`) makes the
 * stream throw. Use it to bound a readable's read-ahead in bytes rather than
 * in messages:
 *
 * ```ts
 * new WebSocketStream(url, {
 *   readableStrategy: new MessageSizeQueuingStrategy({ highWaterMark: 1 << 20 }),
 * });
 * ```
 *
 * The queue takes messages while it holds fewer than `highWaterMark` bytes,
 * so it holds at most `highWaterMark` bytes plus one message. For writables
 * it counts a chunk by the bytes it sends.
 */
export class MessageSizeQueuingStrategy implements QueuingStrategy<unknown> {
  readonly #highWaterMark: number;

  /** @param init `highWaterMark`: bytes (required, a number; NaN and negative numbers are refused by the streams). */
  constructor(init: { highWaterMark: number }) {
    if (init === null || typeof init !== 'object')
      throw new TypeError('MessageSizeQueuingStrategy needs an object with a highWaterMark');
    if (init.highWaterMark === undefined)
      throw new TypeError('MessageSizeQueuingStrategy: highWaterMark is required');
    this.#highWaterMark = Number(init.highWaterMark);
  }

  /** The high-water mark, in bytes. */
  get highWaterMark(): number {
    return this.#highWaterMark;
  }

  /** {@link messageSize}: a function that uses no `this`, as the streams call it on its own. */
  get size(): (chunk: unknown) => number {
    return messageSize;
  }
}

Object.defineProperty(MessageSizeQueuingStrategy.prototype, Symbol.toStringTag, {
  value: 'MessageSizeQueuingStrategy',
  configurable: true,
});

/**
 * The `size` of every CountQueuingStrategy (one shared function that returns
 * 1 and cannot throw), or undefined where the runtime has no CountQueuingStrategy.
 */
const countSize: ((chunk: unknown) => number) | undefined =
  typeof CountQueuingStrategy === 'function'
    ? (new CountQueuingStrategy({ highWaterMark: 1 }).size as (chunk: unknown) => number)
    : undefined;

/** Whether a strategy {@link guardStrategy} returned counts chunks (calls no size() of the application's). */
export function countsChunks<T>(strategy: QueuingStrategy<T>): boolean {
  return strategy.size === undefined || strategy.size === countSize;
}

/**
 * A value a user's function threw or returned, as text for a message; never
 * throws itself (a null-prototype object has no toString, an error's
 * `message` can be a getter that throws).
 */
function describeThrown(value: unknown): string {
  try {
    return value instanceof Error ? String(value.message) : String(value);
  } catch {
    return typeof value === 'object' ? 'an object that cannot be shown as text' : typeof value;
  }
}

/**
 * A user's queuing strategy made safe for I/O paths: its `size()` is called
 * inside a try, and a throw or a size the streams would refuse (not a
 * non-negative finite number) is reported to `onError` once (with the
 * error and a sentence saying what happened), instead of
 * being thrown out of the socket's data callback by `enqueue()`. The failing
 * chunk then counts 0. The high-water mark is read once, here (a getter that
 * throws, or a value that is not a non-negative number, throws now).
 */
export function guardStrategy<T>(
  strategy: QueuingStrategy<T>,
  what: string,
  onError: (cause: unknown, message: string) => void,
): QueuingStrategy<T> {
  const highWaterMark = strategy.highWaterMark === undefined ? 1 : Number(strategy.highWaterMark);
  if (Number.isNaN(highWaterMark) || highWaterMark < 0)
    throw new RangeError(`${what}: highWaterMark must be a non-negative number`);
  const userSize = strategy.size;
  // Counting needs no guard: with the runtime's own count function (one
  // function shared by every stream) the streams make no function of their
  // own for this stream either, as they do for a strategy without size().
  if (userSize === undefined || userSize === null || userSize === countSize)
    return countSize === undefined ? { highWaterMark } : { highWaterMark, size: countSize };
  if (typeof userSize !== 'function') throw new TypeError(`${what}: size must be a function`);
  let failed = false;
  return {
    highWaterMark,
    size(chunk: T): number {
      if (failed) return 0;
      let size: unknown;
      try {
        size = Reflect.apply(userSize, undefined, [chunk]);
      } catch (error) {
        failed = true;
        onError(error, `${what}.size() threw: ${describeThrown(error)}`);
        return 0;
      }
      if (typeof size !== 'number' || !(size >= 0) || size === Infinity) {
        failed = true;
        const message = `${what}.size() returned ${describeThrown(size)} for a ${typeof chunk === 'string' ? 'text' : 'binary'} message, not a non-negative finite number`;
        onError(new RangeError(message), message);
        return 0;
      }
      return size;
    },
  };
}
