/**
 * `import 'wsstream/global'` installs WebSocketStream and WebSocketError on
 * globalThis where the runtime does not provide them.
 */
import { WebSocketError, WebSocketStream } from './index.js';

declare global {
  // The globals this module installs, for TypeScript (`var` declares a global binding).
  /** WebSocketStream, installed by `wsstream/global` when the runtime has none. */
  var WebSocketStream: typeof import('./index.js').WebSocketStream;
  /** WebSocketError, installed by `wsstream/global` when the runtime has none. */
  var WebSocketError: typeof import('./index.js').WebSocketError;
}

const g = globalThis as Record<string, unknown>;
for (const [name, value] of [
  ['WebSocketStream', WebSocketStream],
  ['WebSocketError', WebSocketError],
] as const) {
  if (!(name in g)) {
    Object.defineProperty(g, name, {
      value,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
}
