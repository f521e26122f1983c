/**
 * Helpers of the hub tests: a hub connection that records what it is given,
 * a `ws` client that records what it receives, and polling until a
 * condition holds.
 */
import { once } from 'node:events';
import WebSocket, { type RawData } from 'ws';
import type { HubConnection } from '../../src/hub/index.js';

/** A connection whose writable records what it is given (the hub only writes to it). */
export function recorder(): HubConnection & { got: Array<string | Uint8Array> } {
  const got: Array<string | Uint8Array> = [];
  return {
    got,
    opened: Promise.resolve({
      writable: new WritableStream<unknown>({
        write(chunk) {
          got.push(typeof chunk === 'string' ? chunk : new Uint8Array(chunk as Uint8Array));
        },
      }),
    }),
    closed: new Promise(() => {}),
    close() {},
  };
}

/** Waits until `check` holds (polled every 20 ms); throws naming `what` after `ms`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 15_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A `ws` client named `name` and what it received, in order, with each message's type. */
export interface WsClient {
  name: string;
  ws: WebSocket;
  got: Array<{ text: string; binary: boolean }>;
}

/** Opens a `ws` client to `url` that records every message. */
export async function wsClient(url: string, name = ''): Promise<WsClient> {
  const ws = new WebSocket(url);
  const got: WsClient['got'] = [];
  ws.on('message', (data: RawData, binary: boolean) =>
    got.push({ text: (data as Buffer).toString(), binary }),
  );
  ws.on('error', () => {});
  await once(ws, 'open');
  return { name, ws, got };
}

/** How many sockets this process has open to any of `ports` (Redis servers, cluster nodes). */
export function socketsTo(ports: readonly number[]): number {
  return (process as unknown as { _getActiveHandles(): unknown[] })
    ._getActiveHandles()
    .filter(
      (h) =>
        h !== null &&
        typeof h === 'object' &&
        ports.includes((h as { remotePort?: number }).remotePort ?? -1),
    ).length;
}
