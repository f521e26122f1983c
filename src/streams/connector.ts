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
  signal: AbortSignal;
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
