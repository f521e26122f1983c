/**
 * `wsstream/server`: accept WebSocket connections with the same streams API as the client.
 */
export {
  upgrade,
  WebSocketConnection,
  DEFAULT_SERVER_HANDSHAKE_TIMEOUT,
  type UpgradeOptions,
  type Refusal,
  type WebSocketMessage,
  type WebSocketOpenInfo,
} from './node/server.js';
export {
  serve,
  DEFAULT_SHUTDOWN_TIMEOUT,
  type ServeOptions,
  type TlsServerOptions,
  type WebSocketServer,
} from './node/serve.js';
export { WebSocketError, type WebSocketCloseInfo } from './streams/websocket-error.js';
export type { WebSocketStats } from './streams/statistics.js';
export { DIAGNOSTICS_CHANNELS } from './node/diagnostics.js';
export type { DiagnosticsMessages } from './streams/diagnostics.js';
export { DEFAULT_CLOSE_TIMEOUT, DEFAULT_MAX_PENDING_PONGS } from './streams/session.js';
export { MessageSizeQueuingStrategy, messageSize } from './streams/message-size-strategy.js';
export { DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_FRAGMENTS } from './core/connection.js';
export { DEFAULT_MAX_HEADER_SIZE, DEFAULT_MAX_HEADER_COUNT } from './core/handshake/index.js';
