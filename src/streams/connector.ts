/**
 * The seam between WebSocketStream and a runtime: a connector opens the
 * transport and performs the opening handshake.
 */
import type { MessageTransform } from '../core/extensions/extension.js';
import type { PerMessageDeflateOptions } from '../core/extensions/deflate-negotiation.js';
import type { TlsClientOptions } from './options.js';
import type { ProxySetting } from './proxy-option.js';
import type { Transport } from './transport.js';

export interface ConnectRequest {
  url: URL;
  protocols: string[];
  /** Validated extra request headers. */
  headers: Array<[string, string]>;
  tls: TlsClientOptions | undefined;
  handshakeTimeout: number;
  /** The checked `proxy` option. */
  proxy: ProxySetting;
  /** A Unix domain socket to connect to instead of the URL's host and port. */
  socketPath: string | undefined;
  /** Aborted when the application aborts or closes during the handshake. */
  signal: HandshakeAbort;
  /** permessage-deflate to offer (validated), or null for none. */
  perMessageDeflate: PerMessageDeflateOptions | null;
}

export interface ConnectResult {
  transport: Transport;
  protocol: string;
  extensions: string;
  /** The per-message transform of the agreed extension, built by the runtime (it brings zlib). */
  extension?: MessageTransform;
  /** Bytes that followed the handshake response (frames the server sent at once). */
  rest: Uint8Array;
}

/** Opens a connection; rejects with a WebSocketError (or the abort reason) on failure. */
export type Connector = (request: ConnectRequest) => Promise<ConnectResult>;

let defaultConnector: Connector | undefined;

/** Installs the connector WebSocketStream uses (the package entry point installs Node's). */
export function setConnector(connector: Connector): void {
  defaultConnector = connector;
}

export function getConnector(): Connector {
  if (defaultConnector === undefined)
    throw new Error('No WebSocket connector installed for this runtime');
  return defaultConnector;
}

/**
 * What a connector listens on to give up its attempt: aborted, with a reason,
 * when the application's signal aborts or it closes during the handshake. A
 * plain object rather than an AbortController: making one, and adding and
 * removing its listener, cost about 10 µs per connection on Node 20.
 */
export class HandshakeAbort {
  #aborted = false;
  #reason: unknown = undefined;
  #listener: ((reason: unknown) => void) | null = null;

  get aborted(): boolean {
    return this.#aborted;
  }

  /** Why it was aborted (undefined until then). */
  get reason(): unknown {
    return this.#reason;
  }

  /** Aborts with `reason` and calls the listener, once; later calls do nothing. */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    const listener = this.#listener;
    this.#listener = null;
    listener?.(reason);
  }

  /**
   * Calls `listener` when aborted (one listener at a time: the attempt's
   * current one); null removes it. It is not called for an abort that
   * already happened: check {@link aborted} first.
   */
  listen(listener: ((reason: unknown) => void) | null): void {
    this.#listener = listener;
  }
}
