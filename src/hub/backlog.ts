/**
 * The bound both brokers put on what they published and their transport has
 * not taken yet (the IPC channel to the cluster primary, the Redis server).
 */
import { HubError, HubErrorCode } from './broker.js';

/**
 * Why a broker cannot take a publish at all right now, checked before the
 * message is encoded: `closed` (CLOSED, naming `broker`), or the reason its
 * transport is down (`unavailable`, BROKER_UNAVAILABLE). Null when it can.
 */
export function publishRefusal(
  broker: string,
  closed: boolean,
  unavailable: string | null,
): HubError | null {
  if (closed) return new HubError(HubErrorCode.CLOSED, `${broker} is closed`);
  if (unavailable !== null) return new HubError(HubErrorCode.BROKER_UNAVAILABLE, unavailable);
  return null;
}

/**
 * Bytes published and not yet acknowledged, bounded by `max`. A publish
 * that would go past the bound is refused with `BROKER_BACKLOG`, unless
 * nothing is pending: a message larger than the bound still goes, alone.
 * Stops a publisher faster than the transport from growing memory without limit.
 */
export class PublishBacklog {
  readonly #max: number;
  /** Where the bytes wait, for the error message ("waiting in the IPC channel to the primary"). */
  readonly #where: string;
  #pending = 0;

  constructor(max: number, where: string) {
    this.#max = max;
    this.#where = where;
  }

  /** Takes `size` bytes into the backlog; returns the refusal instead when over the bound. */
  admit(size: number): HubError | null {
    if (this.#pending > 0 && this.#pending + size > this.#max) {
      return new HubError(HubErrorCode.BROKER_BACKLOG, `over ${this.#max} bytes ${this.#where}`);
    }
    this.#pending += size;
    return null;
  }

  /** The transport took (or dropped) `size` bytes admitted before. */
  release(size: number): void {
    this.#pending -= size;
  }
}
