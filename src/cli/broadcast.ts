/**
 * `serve --broadcast`: every message is relayed to every other client.
 *
 * A relay must not let one slow client make the server buffer without limit
 * (uWebSockets.js users learned this, and also that dropping in silence
 * hurts). Each client's outgoing queue is its Duplex's buffer, bounded by
 * `maxQueue` bytes: a message that would take a non-empty queue past the
 * bound is not queued, and the policy decides the rest — `close` (default)
 * closes that client with 4008 and a reason naming the bound; `drop` skips
 * the message for that client only, counts it, and reports the count when the
 * client leaves. Senders are never slowed down by a slow receiver. Memory is
 * at most clients × (maxQueue + one message).
 */
import type { WebSocketConnection } from '../node/server.js';
import { toDuplex, type WebSocketDuplex } from '../node/duplex.js';
import { messageSize } from '../streams/message-size-strategy.js';

/** Default of `--max-queue`: 1 MiB queued per client. */
export const DEFAULT_MAX_QUEUE = 1024 * 1024;

/** Close code for a client closed as too slow (application range; no IANA code fits). */
export const SLOW_CLIENT_CLOSE_CODE = 4008;

/** What happens to a client whose queue is full. */
export type SlowPolicy = 'close' | 'drop';

interface Client {
  readonly connection: WebSocketConnection;
  readonly duplex: WebSocketDuplex;
  readonly name: string;
  dropped: number;
  closing: boolean;
}

export class Broadcast {
  readonly #clients = new Set<Client>();
  readonly #maxQueue: number;
  readonly #slow: SlowPolicy;
  readonly #log: (line: string) => void;

  constructor(o: { maxQueue: number; slow: SlowPolicy; log: (line: string) => void }) {
    this.#maxQueue = o.maxQueue;
    this.#slow = o.slow;
    this.#log = o.log;
  }

  /** The clients currently relayed to. */
  get size(): number {
    return this.#clients.size;
  }

  add(connection: WebSocketConnection): void {
    const duplex = toDuplex(connection, { highWaterMark: this.#maxQueue });
    const client: Client = {
      connection,
      duplex,
      name: `${connection.remoteAddress ?? '?'}:${connection.request.socket.remotePort ?? '?'}`,
      dropped: 0,
      closing: false,
    };
    this.#clients.add(client);
    duplex.on('error', () => {});
    duplex.on('data', (message: string | Buffer) => this.#relay(client, message));
    const leave = (): void => {
      this.#clients.delete(client);
      if (client.dropped > 0) this.#log(`dropped ${client.dropped} messages for ${client.name}`);
    };
    connection.closed.then(leave, leave);
  }

  #relay(from: Client, message: string | Buffer): void {
    const size = messageSize(message);
    for (const to of this.#clients) {
      if (to === from || to.closing) continue;
      const queued = to.duplex.writableLength;
      if (queued > 0 && queued + size > this.#maxQueue) {
        if (this.#slow === 'drop') {
          to.dropped++;
          continue;
        }
        to.closing = true;
        this.#log(`closing ${to.name}: too slow (${queued} bytes queued)`);
        to.connection.close({
          closeCode: SLOW_CLIENT_CLOSE_CODE,
          reason: `too slow: over ${this.#maxQueue} bytes queued`,
        });
        continue;
      }
      to.duplex.write(message);
    }
  }
}
