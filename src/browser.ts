/**
 * wsstream in browsers (the `browser` condition of the package's exports):
 * the browser's own WebSocketStream and WebSocketError where it has them,
 * otherwise the polyfill over the classic WebSocket, with send backpressure
 * from `bufferedAmount` (docs/browser.md). Imports no node:* module.
 */
import {
  WebSocketError as PolyfillWebSocketError,
  WebSocketStream as PolyfillWebSocketStream,
} from './browser/websocket-stream-polyfill.js';

const g = globalThis as { WebSocketStream?: unknown; WebSocketError?: unknown };
/** Whether the browser has its own WebSocketStream (and with it WebSocketError). */
const native = typeof g.WebSocketStream === 'function' && typeof g.WebSocketError === 'function';

/** The browser's WebSocketStream, or the polyfill where it has none. */
export const WebSocketStream = (
  native ? g.WebSocketStream : PolyfillWebSocketStream
) as typeof PolyfillWebSocketStream;
/** The browser's WebSocketError (its streams reject with it), or the polyfill's. */
export const WebSocketError = (
  native ? g.WebSocketError : PolyfillWebSocketError
) as typeof PolyfillWebSocketError;
/** Whether {@link WebSocketStream} is the browser's own (false: the polyfill). */
export const isNativeWebSocketStream = native;

export {
  DEFAULT_SEND_HIGH_WATER_MARK,
  DEFAULT_SEND_LOW_WATER_MARK,
  type BrowserWebSocketStreamOptions,
} from './browser/websocket-stream-polyfill.js';
export type { WebSocketCloseInfo } from './streams/websocket-error.js';
export type { WebSocketOpenInfo } from './streams/lifecycle.js';
