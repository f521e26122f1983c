/**
 * The bound both brokers put on what they published and their transport has
 * not taken yet (the IPC channel to the cluster primary, the Redis server).
 */
import { HubError, HubErrorCode } from './broker.js';
import { encodeEnvelope } from './envelope.js';
import type { HubMessage } from './message.js';

/**
 * A broker's `maxPendingBytes`, checked: `fallback` when not given, else a
 * positive finite number of bytes. Throws a RangeError naming the option
 * otherwise: 0 or a negative bound would refuse every publish but the first
 * alone, and NaN or Infinity would turn the bound (and the memory limit it
 * gives) off without a word.
 */
export function checkMaxPendingBytes(value: number | undefined, fallback: number): number {
  const max = value ?? fallback;
  if (typeof max !== 'number' || !(max > 0) || !Number.isFinite(max))
    throw new RangeError(`maxPendingBytes must be a positive number of bytes, not ${String(max)}`);
  return max;
}

/**
 * Bytes published and not yet acknowledged, bounded by `max`. A publish
 * that would go past the bound is refused with `BROKER_BACKLOG`, unless
 * nothing is pending: a message larger than the bound still goes, alone.
 * Stops a publisher faster than the transport from growing memory without limit.
 */
export class PublishBacklog {
  /** The broker, for the error messages ("the Redis broker"). */
  readonly #broker: string;
  readonly #max: number;
  /** Where the bytes wait, for the error message ("waiting in the IPC channel to the primary"). */
  readonly #where: string;
  #pending = 0;

  constructor(broker: string, max: number, where: string) {
    this.#broker = broker;
    this.#max = max;
    this.#where = where;
  }

  /**
   * Takes a publish: the envelope to send (its `byteLength` now counts in the
   * backlog until {@link release}), or why the broker refuses it. Refused
   * before anything is encoded when the broker is `closed` (CLOSED) or its
   * transport is down (`unavailable`, BROKER_UNAVAILABLE); refused with
   * BROKER_BACKLOG when it would go past the bound.
   */
  admit(
    closed: boolean,
    unavailable: string | null,
    nodeId: Buffer,
    message: HubMessage,
  ): Buffer | HubError {
    if (closed) return new HubError(HubErrorCode.CLOSED, `${this.#broker} is closed`);
    if (unavailable !== null) return new HubError(HubErrorCode.BROKER_UNAVAILABLE, unavailable);
    const envelope = encodeEnvelope(nodeId, message);
    const size = envelope.byteLength;
    if (this.#pending > 0 && this.#pending + size > this.#max) {
      return new HubError(HubErrorCode.BROKER_BACKLOG, `over ${this.#max} bytes ${this.#where}`);
    }
    this.#pending += size;
    return envelope;
  }

  /** The transport took (or dropped) `size` bytes admitted before. */
  release(size: number): void {
    this.#pending -= size;
  }
}
