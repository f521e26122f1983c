/**
 * `import 'wsstream/global'` in browsers (the `browser` condition): installs
 * the polyfill's WebSocketStream and WebSocketError on globalThis where the
 * browser has no WebSocketStream of its own; a browser that has one keeps it.
 */
import { WebSocketError, WebSocketStream } from './browser.js';

const g = globalThis as Record<string, unknown>;
if (typeof g.WebSocketStream !== 'function') {
  for (const [name, value] of [
    ['WebSocketStream', WebSocketStream],
    ['WebSocketError', WebSocketError],
  ] as const) {
    Object.defineProperty(g, name, {
      value,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
}
