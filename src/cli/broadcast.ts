/**
 * `serve --broadcast`: every message is relayed to every other client of the
 * same request path (the topic: `/room/a` and `/room/b` are separate rooms),
 * through a `wsstream/hub` Hub — in this process, and with a broker
 * (`--redis`, or the cluster primary under `--workers`) in every process
 * that joined.
 *
 * A relay must not let one slow client make the server buffer without limit
 * (uWebSockets.js users learned this, and also that dropping in silence
 * hurts): the hub bounds each client's queue by `maxQueue` bytes and applies
 * the policy — `close` (default) closes that client with 4008 and a reason
 * naming the bound; `drop` skips the message for that client only, counts
 * it, and the count is logged when the client leaves. Senders are never
 * slowed down by a slow receiver; they are slowed down by the broker when it
 * has more than PUBLISH_WINDOW of their messages unacknowledged.
 */
import { HubError, type BrokerEvent, type HubBroker } from '../hub/index.js';
import { Hub } from '../hub/index.js';
import type { HubConnection, SlowPolicy } from '../hub/index.js';
import type { WebSocketConnection } from '../server.js';

export {
  DEFAULT_MAX_QUEUE,
  SLOW_CONSUMER_CLOSE_CODE as SLOW_CLIENT_CLOSE_CODE,
} from '../hub/index.js';
export type { SlowPolicy } from '../hub/index.js';

/** Messages of one sender the broker may have unacknowledged before its next one is read. */
const PUBLISH_WINDOW = 64;

export class Broadcast {
  readonly #hub: Hub;
  readonly #names = new Map<HubConnection, string>();
  readonly #log: (line: string) => void;
  /** Messages that reached this process's clients only, since the last broker log line. */
  #unpublished = 0;
  #lastError = '';

  constructor(o: {
    maxQueue: number;
    slow: SlowPolicy;
    log: (line: string) => void;
    broker?: HubBroker;
  }) {
    this.#log = o.log;
    this.#hub = new Hub({
      maxQueue: o.maxQueue,
      slow: o.slow,
      ...(o.broker !== undefined ? { broker: o.broker } : {}),
      onSlow: (c, queued) =>
        this.#log(`closing ${this.#name(c)}: too slow (${queued} bytes queued)`),
      onLeave: (c, dropped) => {
        if (dropped > 0) this.#log(`dropped ${dropped} messages for ${this.#name(c)}`);
        this.#names.delete(c);
      },
      onBrokerEvent: (event) => this.#brokerEvent(event),
    });
  }

  /** The topics with clients in this process. */
  get topics(): string[] {
    return this.#hub.topics;
  }

  add(connection: WebSocketConnection): void {
    // The path of the connection's URL, whatever the request target looked like
    // (an unparseable absolute-form target has none: '/').
    const topic = new URL(connection.url).pathname;
    this.#names.set(
      connection,
      `${connection.remoteAddress ?? '?'}:${connection.request.socket.remotePort ?? '?'}`,
    );
    this.#hub.subscribe(connection, topic);
    void this.#relay(connection, topic);
  }

  /** Leaves the broker (the connections are closed by the server). */
  close(): Promise<void> {
    return this.#hub.close();
  }

  async #relay(connection: WebSocketConnection, topic: string): Promise<void> {
    let reader: ReadableStreamDefaultReader<string | Uint8Array>;
    try {
      reader = (await connection.opened).readable.getReader();
    } catch {
      return;
    }
    const window: Promise<void>[] = [];
    for (;;) {
      let next: ReadableStreamReadResult<string | Uint8Array>;
      try {
        next = await reader.read();
      } catch {
        return; // The connection failed; its outcome is logged by the server's handler.
      }
      if (next.done) return;
      let published: Promise<void>;
      try {
        published = this.#hub.publish(topic, next.value, { except: connection });
      } catch {
        return; // The hub was closed: the server is shutting down.
      }
      window.push(published.catch((error: unknown) => this.#notPublished(error)));
      if (window.length >= PUBLISH_WINDOW) await window.shift();
    }
  }

  #notPublished(error: unknown): void {
    this.#unpublished++;
    const text = error instanceof Error ? error.message : String(error);
    if (!(error instanceof HubError) || text !== this.#lastError) {
      this.#lastError = text;
      this.#log(`not relayed to other processes: ${text}`);
    }
  }

  #brokerEvent(event: BrokerEvent): void {
    if (event.type === 'connected' && this.#unpublished > 0) {
      this.#log(
        `${this.#unpublished} messages reached this process's clients only while the broker was away`,
      );
      this.#unpublished = 0;
      this.#lastError = '';
    }
    this.#log(event.message);
  }

  #name(c: HubConnection): string {
    return this.#names.get(c) ?? '?';
  }
}
