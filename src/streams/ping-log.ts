/**
 * The Pings and Pongs of one connection: the round-trip time of the last
 * Ping answered, and the `ping`/`pong` diagnostics events.
 */
import { observing, publish, type ObservedConnection } from './diagnostics.js';

/** The payload before the first Ping: shared, never written or handed out. */
const NO_PING = new Uint8Array(0);

/**
 * Times the outstanding Ping and publishes every Ping and Pong sent or
 * received. Publishing costs one check when nobody listens.
 */
export class PingLog {
  /** The public connection named in diagnostics events (set when it opens). */
  observed: ObservedConnection;
  /** When the outstanding Ping was sent (performance.now()), or -1 when none is outstanding. */
  #sentAt = -1;
  /** The payload of the outstanding Ping: only a Pong with the same one answers it. */
  #sentPayload: Uint8Array = NO_PING;
  #lastRtt: number | null = null;

  constructor(observed: ObservedConnection) {
    this.observed = observed;
  }

  /** Milliseconds between the last timed Ping and the Pong after it; null before the first. */
  get lastRtt(): number | null {
    return this.#lastRtt;
  }

  /** A Ping was sent: starts the clock unless a Ping is outstanding already. */
  pingSent(payload: Uint8Array): void {
    if (this.#sentAt < 0) {
      this.#sentAt = performance.now();
      this.#sentPayload = payload.slice();
    }
    if (observing('ping')) {
      publish('ping', { connection: this.observed, direction: 'sent', payload });
    }
  }

  /** A Ping came from the peer. */
  pingReceived(payload: Uint8Array): void {
    if (observing('ping')) {
      publish('ping', { connection: this.observed, direction: 'received', payload });
    }
  }

  /** A Pong answering the peer's Ping was queued. */
  pongSent(payload: Uint8Array): void {
    if (observing('pong')) {
      publish('pong', { connection: this.observed, direction: 'sent', payload });
    }
  }

  /**
   * A Pong came from the peer: stops the clock of the outstanding Ping if it
   * answers it (RFC 6455 lets a peer send unsolicited Pongs as heartbeats).
   */
  pongReceived(payload: Uint8Array): void {
    if (this.#sentAt >= 0 && sameBytes(payload, this.#sentPayload)) {
      this.#lastRtt = performance.now() - this.#sentAt;
      this.#sentAt = -1;
    }
    if (observing('pong')) {
      publish('pong', { connection: this.observed, direction: 'received', payload });
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
