/**
 * `import 'wsstream/global'` installs WebSocketStream and WebSocketError on
 * globalThis where the runtime does not provide them.
 */
import { WebSocketError, WebSocketStream } from './index.js';

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
