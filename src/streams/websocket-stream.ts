/**
 * WebSocketStream, as specified by whatwg/websockets#48 and its
 * web-platform-tests, with the documented extensions of WebSocketStreamOptions.
 */
import { CloseCode } from '../core/close.js';
import { Connection } from '../core/connection.js';
import { resolveDeflateOption } from '../core/extensions/deflate-negotiation.js';
import { isToken, validateUserHeaders } from '../core/handshake/index.js';
import { getConnector, HandshakeAbort } from './connector.js';
import { basicAuthOfUrl } from './url-credentials.js';
import { readDictionary } from './dictionary.js';
import type { WebSocketStats } from './statistics.js';
import {
  DEFAULT_HANDSHAKE_TIMEOUT,
  headerPairs,
  type HeadersInput,
  type WebSocketStreamOptions,
} from './options.js';
import { readProxyOption, readSocketPath } from './proxy-option.js';
import { ConnectionLifecycle, type WebSocketOpenInfo } from './lifecycle.js';
import { Session } from './session.js';
import { readMilliseconds, readSessionOptions } from './session-options.js';
import {
  createWebSocketError,
  readCloseInfo,
  toUSVString,
  validateCloseInfo,
  type WebSocketCloseInfo,
} from './websocket-error.js';

export type { WebSocketOpenInfo };

/**
 * Parses and converts a WebSocket URL (the WHATWG WebSocket "URL parsing"
 * steps): http becomes ws, https becomes wss, other schemes and any fragment
 * are a SyntaxError.
 */
export function parseWebSocketUrl(input: string | URL, base?: string | URL): URL {
  let url: URL;
  try {
    url = new URL(String(input), base);
  } catch {
    throw new DOMException(`Invalid URL: ${String(input)}`, 'SyntaxError');
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new DOMException(
      `The URL's scheme must be ws, wss, http or https, not ${url.protocol.slice(0, -1)}`,
      'SyntaxError',
    );
  }
  if (url.hash !== '' || url.href.endsWith('#')) {
    throw new DOMException('A WebSocket URL cannot contain a fragment', 'SyntaxError');
  }
  return url;
}

/**
 * The `protocols` member as WebIDL converts it (`sequence<USVString>`): a
 * TypeError for anything that is not a sequence, before any other step of
 * the constructor.
 */
export function convertProtocols(protocols: unknown): string[] {
  if (protocols === undefined) return [];
  if (typeof protocols !== 'object' || protocols === null || !(Symbol.iterator in protocols)) {
    throw new TypeError('protocols must be a sequence of strings');
  }
  const list: string[] = [];
  for (const p of protocols as Iterable<unknown>) list.push(toUSVString(String(p)));
  return list;
}

/** The constructor's own check of the converted protocols, after the URL's: a SyntaxError for a bad or repeated one. */
export function checkProtocols(list: string[]): string[] {
  for (let i = 0; i < list.length; i++) {
    const s = list[i]!;
    if (!isToken(s))
      throw new DOMException(
        `Invalid subprotocol ${JSON.stringify(s)}: not an HTTP token`,
        'SyntaxError',
      );
    if (list.indexOf(s) !== i)
      throw new DOMException(`Duplicate subprotocol ${JSON.stringify(s)}`, 'SyntaxError');
  }
  return list;
}

/** The `signal` member as WebIDL converts it: an AbortSignal or nothing (a TypeError otherwise). */
export function readSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
  return signal;
}

function readHeaders(headers: HeadersInput | undefined): Array<[string, string]> {
  if (headers === undefined) return [];
  return validateUserHeaders(headerPairs(headers));
}

export class WebSocketStream {
  readonly #url: string;
  readonly #life = new ConnectionLifecycle();
  readonly #handshake = new HandshakeAbort();

  /**
   * @param url a ws:, wss:, http: or https: URL without a fragment
   * @param options `protocols` and `signal` (standard) and the extensions of {@link WebSocketStreamOptions};
   *   `undefined` and `null` mean none, any other value that is not an object is a TypeError
   */
  constructor(url: string | URL, options?: WebSocketStreamOptions | null) {
    // WebIDL: `url` is a required argument; `undefined` given explicitly is
    // converted to the string "undefined" (a SyntaxError below), as in browsers.

    if (arguments.length === 0) {
      throw new TypeError(
        "Failed to construct 'WebSocketStream': 1 argument required, but only 0 present",
      );
    }
    // The arguments are converted (TypeError) before the URL is parsed (SyntaxError).
    options = readDictionary<WebSocketStreamOptions>(options, 'WebSocketStream options');
    const offered = convertProtocols(options.protocols);
    const signal = readSignal(options.signal);
    const parsed = parseWebSocketUrl(url);
    this.#url = parsed.href;
    this.#life.describe(this, 'client');
    const protocols = checkProtocols(offered);
    const headers = readHeaders(options.headers);
    // Credentials in the URL, unless the application sends its own Authorization.
    const auth = basicAuthOfUrl(parsed);
    if (auth !== null && !headers.some(([name]) => name.toLowerCase() === 'authorization'))
      headers.push(['Authorization', auth]);
    const handshakeTimeout = readMilliseconds(
      options.handshakeTimeout,
      'handshakeTimeout',
      DEFAULT_HANDSHAKE_TIMEOUT,
    );
    // Bad limits or timeouts fail now, not after connecting; the session
    // uses the values read now.
    const sessionOptions = readSessionOptions(options);
    const perMessageDeflate = resolveDeflateOption(sessionOptions.perMessageDeflate);
    const limits = {
      maxMessageSize: sessionOptions.maxMessageSize,
      maxFragments: sessionOptions.maxFragments,
      fragmentSize: sessionOptions.fragmentSize,
    };
    const proxy = readProxyOption(options.proxy);
    const socketPath = readSocketPath(options.socketPath);
    if (socketPath !== undefined && proxy.kind === 'url')
      throw new TypeError('socketPath and proxy cannot be used together');

    const life = this.#life;
    if (signal?.aborted === true) {
      life.fail(signal.reason);
      return;
    }
    const onAbort = (): void => {
      if (life.state === 'connecting') this.#handshake.abort(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    const connector = getConnector();
    connector({
      url: parsed,
      protocols,
      headers,
      tls: options.tls,
      handshakeTimeout,
      proxy,
      socketPath,
      signal: this.#handshake,
      perMessageDeflate,
    }).then(
      ({ transport, protocol, extensions, extension, rest }) => {
        signal?.removeEventListener('abort', onAbort);
        if (life.state !== 'connecting' || this.#handshake.aborted) {
          transport.destroy();
          life.fail(this.#handshake.reason);
          return;
        }
        let session: Session;
        try {
          session = new Session(
            new Connection({ role: 'client', ...limits, extension }),
            transport,
            sessionOptions,
            rest,
            life,
          );
        } catch (error) {
          // A strategy the session cannot use (its highWaterMark getter throws): fail, never throw here.
          transport.destroy();
          life.fail(error);
          return;
        }
        life.open(session, protocol, extensions);
      },
      (error: unknown) => {
        signal?.removeEventListener('abort', onAbort);
        life.fail(this.#handshake.aborted ? this.#handshake.reason : error);
      },
    );
  }

  /** The URL, serialized after conversion (http: → ws:, https: → wss:). */
  get url(): string {
    return this.#url;
  }

  /**
   * A snapshot of the connection's counters (extension): messages and bytes in
   * and out, socket bytes, what wsstream holds, the last ping's round trip.
   * Zeros before the connection opened.
   */
  get stats(): WebSocketStats {
    return this.#life.stats();
  }

  /** Fulfils with the streams once the handshake succeeded; rejects with a WebSocketError if it failed. */
  get opened(): Promise<WebSocketOpenInfo> {
    return this.#life.opened;
  }

  /** Fulfils with `{closeCode, reason}` after a clean close; rejects with a WebSocketError otherwise. */
  get closed(): Promise<Required<WebSocketCloseInfo>> {
    return this.#life.closed;
  }

  /**
   * Starts the closing handshake. `closeCode` must be 1000 or 3000-4999
   * (InvalidAccessError), `reason` at most 123 UTF-8 bytes (SyntaxError); a
   * reason alone sends 1000, nothing sends a Close with no body. During the
   * handshake the attempt is failed instead. Later calls do nothing.
   */
  close(closeInfo?: WebSocketCloseInfo): void {
    const { code: rawCode, reason } = readCloseInfo(closeInfo);
    const code = validateCloseInfo(rawCode, reason);
    if (this.#life.state === 'connecting') {
      // The attempt fails through the connector, as an abort does (and is observed as one).
      this.#handshake.abort(
        createWebSocketError(
          'The WebSocket was closed before the handshake completed',
          CloseCode.ABNORMAL_CLOSURE,
        ),
      );
      return;
    }
    this.#life.session?.close(code, reason);
  }
}

Object.defineProperty(WebSocketStream.prototype, Symbol.toStringTag, {
  value: 'WebSocketStream',
  configurable: true,
});
