/**
 * `connect --reconnect`: the client reconnects with capped exponential
 * backoff and jitter (`wsstream/reconnecting`) and says on stderr what it
 * does. Lines typed or piped while disconnected wait (stdin is not read past
 * the pipe's buffer) and are sent once connected again.
 */
import type { Writable } from 'node:stream';
import type { WebSocketStreamOptions } from '../index.js';
import { ReconnectingWebSocketStream, type ReconnectEvent } from '../reconnecting.js';
import { describeClose } from './exit-codes.js';
import { writeDiagnostic } from './escape.js';

function line(event: ReconnectEvent): string | null {
  switch (event.type) {
    case 'open':
      return event.attempt === 0 ? null : `connected again to ${event.url}`;
    case 'close':
      return event.error === undefined
        ? describeClose({ closeCode: event.closeCode, reason: event.reason })
        : `connection failed: ${event.error instanceof Error ? event.error.message : 'unknown error'} (code ${event.closeCode})`;
    case 'retry':
      return `reconnecting in ${event.delay} ms (attempt ${event.attempt})`;
    case 'give-up':
      return `giving up after ${event.attempts} failed attempts`;
  }
}

/** Opens the reconnecting client of `connect --reconnect`, logging to `stderr`. */
export function openReconnecting(
  url: string,
  options: WebSocketStreamOptions,
  stderr: Writable,
): ReconnectingWebSocketStream {
  return new ReconnectingWebSocketStream(url, {
    ...options,
    onEvent: (event) => {
      const text = line(event);
      if (text !== null) writeDiagnostic(stderr, text);
    },
  });
}
