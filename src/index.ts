/**
 * wsstream: the WebSocketStream API for Node.js.
 */
import { connectDeno, denoNamespace } from './deno/connect.js';
import { connectNode } from './node/connect.js';
import { setConnector } from './streams/connector.js';

// Deno: wss: over Deno's own TLS API, whose reads stop when asked (docs/runtimes.md).
setConnector(denoNamespace() !== undefined ? connectDeno : connectNode);

export { WebSocketStream, type WebSocketOpenInfo } from './streams/websocket-stream.js';
export { WebSocketError, type WebSocketCloseInfo } from './streams/websocket-error.js';
export type { WebSocketStreamOptions, TlsClientOptions, HeadersInput } from './streams/options.js';
export type { WebSocketMessage } from './streams/session.js';
export type { WebSocketStats } from './streams/statistics.js';
export { DIAGNOSTICS_CHANNELS } from './node/diagnostics.js';
export type { DiagnosticsMessages } from './streams/diagnostics.js';
export { DEFAULT_HANDSHAKE_TIMEOUT } from './streams/options.js';
export { ProxyError, MAX_PROXY_ANSWER_SIZE } from './node/proxy.js';
export { DEFAULT_CLOSE_TIMEOUT, DEFAULT_MAX_PENDING_PONGS } from './streams/session.js';
export { MessageSizeQueuingStrategy, messageSize } from './streams/message-size-strategy.js';
export { DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_FRAGMENTS } from './core/connection.js';
export {
  toDuplex,
  WebSocketDuplex,
  type WebSocketDuplexOptions,
  type DuplexSource,
  type WebSocketLike,
  DEFAULT_DUPLEX_HIGH_WATER_MARK,
  DEFAULT_DUPLEX_READABLE_HIGH_WATER_MARK,
} from './node/duplex.js';
