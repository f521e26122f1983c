/**
 * The decision flow of one server opening handshake, shared by the Node
 * adapter (`PendingHandshake`, src/node/server-handshake.ts) and Deno's
 * (`DenoPendingHandshake`, src/deno/server-handshake.ts): the core's
 * {@link ServerHandshake} checks the request, the application's
 * `authenticate` and `selectProtocol` run under the handshake deadline, and
 * the handshake is accepted or refused exactly once. The subclasses do only
 * the I/O: waiting on their connection, writing the answer, opening.
 */
import type { IncomingMessage } from 'node:http';
import { CloseCode } from '../core/close.js';
import { PerMessageDeflateServer } from '../core/extensions/deflate-handshake.js';
import { resolveDeflateOption } from '../core/extensions/deflate-negotiation.js';
import type { MessageTransform } from '../core/extensions/extension.js';
import { PerMessageDeflate } from '../core/extensions/permessage-deflate.js';
import {
  ServerHandshake,
  type ClientHandshake,
  type HandshakeResponse,
  type RequestLike,
  validateUserHeaders,
} from '../core/handshake/index.js';
import { headerPairs } from '../streams/options.js';
import { createWebSocketError, type WebSocketError } from '../streams/websocket-error.js';
import type { Refusal } from './server.js';
import type { HandshakeCallbacks, HandshakeOptions } from './server-handshake.js';
import { sha1Base64 } from './sha1.js';
import { nodeDeflateEngine } from './zlib-deflate.js';

/** Default of {@link UpgradeOptions.handshakeTimeout}: 10 s. */
export const DEFAULT_SERVER_HANDSHAKE_TIMEOUT = 10_000;

/** The result of the application's hooks. */
export type Verdict =
  | { accept: true; protocol: string | undefined }
  | { accept: false; refusal: Refusal; headers: Array<readonly [string, string]> };

/**
 * The core's decision for `options`, with permessage-deflate unless turned
 * off (the first acceptable offer is taken).
 */
export function createDecision(options: HandshakeOptions): {
  decision: ServerHandshake;
  deflate: PerMessageDeflateServer | null;
} {
  const resolved = resolveDeflateOption(options.perMessageDeflate);
  const deflate = resolved === null ? null : new PerMessageDeflateServer(resolved);
  const decision = new ServerHandshake({
    protocols: options.protocols,
    allowOrigins: options.allowOrigins,
    maxHeaderCount: options.maxHeaderCount,
    sha1Base64,
    extensions: deflate ?? undefined,
  });
  return { decision, deflate };
}

/** The extension a 101 agreed on (zlib from node:zlib, on Deno and Bun too), if any. */
export function agreedExtension(
  deflate: PerMessageDeflateServer | null,
): MessageTransform | undefined {
  const agreed = deflate?.agreed ?? null;
  return agreed === null
    ? undefined
    : new PerMessageDeflate('server', agreed, nodeDeflateEngine, deflate!.options);
}

/**
 * Runs the application's `authenticate` and `selectProtocol` for a valid
 * request: a refusal (false answers 401; a refusal object is checked), or the
 * protocol to select (undefined: the core picks from `protocols`). Throws or
 * rejects what the hooks throw, and a RangeError or TypeError for a bad
 * refusal: the caller answers those with 500.
 */
export async function runHooks(
  options: HandshakeOptions,
  request: IncomingMessage,
  offered: string[],
): Promise<Verdict> {
  const { authenticate, selectProtocol } = options;
  if (authenticate !== undefined) {
    const verdict = await authenticate(request);
    if (verdict === false) {
      return { accept: false, refusal: { status: 401, message: 'Unauthorized' }, headers: [] };
    }
    if (typeof verdict === 'object' && verdict !== null) {
      const status = verdict.status;
      if (!Number.isInteger(status) || status < 400 || status > 599) {
        throw new RangeError(`A refusal needs a 4xx or 5xx status, got ${status}`);
      }
      // Read once: a getter runs here, where a throw answers 500.
      const message: unknown = verdict.message;
      if (message !== undefined && typeof message !== 'string') {
        throw new TypeError(`A refusal's message must be a string, got ${typeof message}`);
      }
      // Checked as response headers: CR/LF/NUL or a handshake field answers 500.
      const given = verdict.headers;
      const headers = validateUserHeaders(given === undefined ? [] : headerPairs(given));
      return { accept: false, refusal: { status, message }, headers };
    }
    // Only `true` and nothing accept: a mistyped answer (null, 0, a string) never lets a client in.
    if (verdict !== true && verdict !== undefined) {
      throw new TypeError(
        `authenticate must return true, false, nothing or a refusal, got ${verdict === null ? 'null' : typeof verdict}`,
      );
    }
  }
  if (selectProtocol === undefined) return { accept: true, protocol: undefined };
  const chosen = await selectProtocol(offered, request);
  return { accept: true, protocol: chosen ?? '' };
}

/** One server handshake in progress: the decision; the I/O is the subclass's. */
export abstract class HandshakeFlow {
  protected readonly options: HandshakeOptions;
  protected readonly callbacks: HandshakeCallbacks;
  readonly #decision: ServerHandshake;
  readonly #deflate: PerMessageDeflateServer | null;
  /** Set while the application's hooks run. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  #done = false;

  constructor(options: HandshakeOptions, callbacks: HandshakeCallbacks) {
    this.options = options;
    this.callbacks = callbacks;
    ({ decision: this.#decision, deflate: this.#deflate } = createDecision(options));
  }

  /**
   * Decides on `request` (read through `like`): refuses, accepts at once, or
   * runs the hooks first. The subclass calls it last in its constructor.
   */
  protected start(like: RequestLike, request: IncomingMessage): void {
    const checked = this.#decision.check(like);
    if (!checked.ok) {
      this.#refuse(checked.response, checked.error.message);
      return;
    }
    const client = checked.request;
    if (this.options.authenticate === undefined && this.options.selectProtocol === undefined) {
      // Nothing to wait for: answer at once.
      this.#accept(client, undefined);
      return;
    }
    this.#awaitHooks(request, client);
  }

  /** Ends the handshake at once, with no answer (the connection's close() or terminate()). */
  abort(error: WebSocketError): void {
    if (!this.#finish()) return;
    this.closeNow();
    this.callbacks.failed(error);
  }

  /** The hooks started: watch the connection meanwhile (if the subclass can). */
  protected abstract waitForHooks(): void;
  /** The hooks are over (the handshake ended): stop watching the connection. */
  protected abstract stopWaiting(): void;
  /** Closes the connection with no answer. */
  protected abstract closeNow(): void;
  /** Writes the refusal `response` and closes the connection. */
  protected abstract answer(response: HandshakeResponse): void;
  /** Writes the 101 `response` and opens the connection (or reports why it cannot). */
  protected abstract open(
    response: HandshakeResponse,
    protocol: string,
    extension: MessageTransform | undefined,
  ): void;

  #awaitHooks(request: IncomingMessage, client: ClientHandshake): void {
    const timeout = this.options.handshakeTimeout ?? DEFAULT_SERVER_HANDSHAKE_TIMEOUT;
    this.#timer = setTimeout(() => {
      this.abort(
        createWebSocketError(
          `Opening handshake did not complete within ${timeout} ms`,
          CloseCode.ABNORMAL_CLOSURE,
        ),
      );
    }, timeout);
    this.waitForHooks();
    runHooks(this.options, request, client.protocols).then(
      (verdict) => {
        if (verdict.accept) {
          this.#accept(client, verdict.protocol);
          return;
        }
        const { refusal } = verdict;
        const message = refusal.message ?? 'Refused';
        let response: HandshakeResponse;
        try {
          response = this.#decision.reject(refusal.status, message, verdict.headers);
        } catch (error) {
          // Never out of this callback (an unhandled rejection): a bare 500.
          this.#internalError(error);
          return;
        }
        this.#refuse(response, message);
      },
      // The application's error stays on the server: `opened` rejects with it as `cause`.
      (error: unknown) => this.#internalError(error),
    );
  }

  /** Marks the handshake done and stops waiting; false if it was done already. */
  #finish(): boolean {
    if (this.#done) return false;
    this.#done = true;
    if (this.#timer === undefined) return true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.stopWaiting();
    return true;
  }

  #accept(client: ClientHandshake, protocol: string | undefined): void {
    let response: HandshakeResponse;
    try {
      const extra = this.options.responseHeaders;
      response = this.#decision.accept(client, {
        protocol,
        headers: extra === undefined ? undefined : headerPairs(extra),
      });
    } catch (error) {
      // A protocol the client did not offer, an invalid response header: ours, not the client's.
      this.#internalError(error);
      return;
    }
    if (response.status !== 101) {
      this.#refuse(response, response.body.trimEnd());
      return;
    }
    if (!this.#finish()) return;
    const selected = response.headers.find(([name]) => name === 'Sec-WebSocket-Protocol');
    this.open(response, selected?.[1] ?? '', agreedExtension(this.#deflate));
  }

  #internalError(cause: unknown): void {
    this.#refuse(
      this.#decision.reject(500, 'Internal Server Error'),
      'Internal Server Error',
      cause,
    );
  }

  #refuse(response: HandshakeResponse, message: string, cause?: unknown): void {
    if (!this.#finish()) return;
    this.answer(response);
    this.callbacks.failed(
      createWebSocketError(
        `Opening handshake refused with ${response.status}: ${message}`,
        null,
        '',
        cause,
      ),
    );
  }
}
