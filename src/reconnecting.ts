/**
 * `wsstream/reconnecting`: a client connection that reconnects with capped
 * exponential backoff and jitter, and whose writable waits while
 * disconnected.
 */
// The WebSocketStream connector for Node is installed by the package's entry point.
import './index.js';

export {
  reconnecting,
  ReconnectingWebSocketStream,
  DEFAULT_RECONNECT_DELAY,
  DEFAULT_MAX_RECONNECT_DELAY,
  DEFAULT_MIN_UPTIME,
  FINAL_CLOSE_CODES,
  type ReconnectingOptions,
  type ReconnectEvent,
} from './reconnect/reconnecting.js';
export { backoffDelay } from './reconnect/backoff.js';
