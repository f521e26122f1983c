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
import { shownUrl, writeDiagnostic } from './escape.js';

function line(event: ReconnectEvent): string {
  switch (event.type) {
    case 'open':
      return `connected again to ${shownUrl(event.url)}`;
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

/**
 * Opens the reconnecting client of `connect --reconnect`, logging to
 * `stderr`. The first open is told by `connect` itself, and so is the last
 * close: a close is told here only when a retry or a give-up follows it.
 */
export function openReconnecting(
  url: string,
  options: WebSocketStreamOptions,
  stderr: Writable,
): ReconnectingWebSocketStream {
  let opens = 0;
  let closeLine: string | null = null;
  return new ReconnectingWebSocketStream(url, {
    ...options,
    onEvent: (event) => {
      if (event.type === 'close') {
        closeLine = line(event);
        return;
      }
      if (closeLine !== null) writeDiagnostic(stderr, closeLine);
      closeLine = null;
      if (event.type === 'open' && opens++ === 0) return;
      writeDiagnostic(stderr, line(event));
    },
  });
}
