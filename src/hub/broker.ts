/**
 * The seam between a hub and other processes: a broker carries published
 * messages to the other hubs that have subscribers for the topic. The hub
 * itself always delivers to its own subscribers at once; a broker never
 * hands a hub back its own messages.
 */
import type { HubMessage } from './message.js';

/** What a broker tells its hub. */
export interface BrokerEvents {
  /** A message published on another node, for the local subscribers of `topic`. */
  message(topic: string, message: HubMessage): void;
  /** Something worth a log line: connected, lost, reconnecting, a failed subscription. */
  event?(event: BrokerEvent): void;
}

/** A state change or failure of a broker, for logs and metrics. */
export interface BrokerEvent {
  readonly type: 'connected' | 'disconnected' | 'reconnecting' | 'error';
  /** Human-readable details. */
  readonly message: string;
  /** For `reconnecting`: milliseconds until the next attempt. */
  readonly delay?: number;
  readonly error?: unknown;
}

/**
 * A transport between hubs (Redis pub/sub, the cluster primary, ...). The
 * hub calls `subscribe(topic)` when a topic gets its first local subscriber
 * and `unsubscribe(topic)` when it loses its last one, so a broker holds one
 * subscription per topic per process, never one per connection.
 */
export interface HubBroker {
  /** Called once by the hub that uses this broker. */
  attach(events: BrokerEvents): void;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  /**
   * Sends `message` to the other nodes. Resolves once the broker accepted it;
   * rejects with a {@link HubError} when it cannot (unreachable, over its
   * bound), never waits without bound.
   */
  publish(topic: string, message: HubMessage): Promise<void>;
  /** Leaves every topic and disconnects. */
  close(): Promise<void>;
}

/** Stable codes of {@link HubError}. */
export const HubErrorCode = {
  /** The broker is not connected (Redis unreachable or restarting): the message reached local subscribers only. */
  BROKER_UNAVAILABLE: 'BROKER_UNAVAILABLE',
  /** The broker holds more unacknowledged bytes than its bound: the publisher is faster than the broker. */
  BROKER_BACKLOG: 'BROKER_BACKLOG',
  /** The hub or broker was closed. */
  CLOSED: 'CLOSED',
} as const;
export type HubErrorCode = (typeof HubErrorCode)[keyof typeof HubErrorCode];

/** A publish the broker could not carry to other nodes (local subscribers got it regardless). */
export class HubError extends Error {
  override name = 'HubError';
  readonly code: HubErrorCode;

  constructor(code: HubErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
