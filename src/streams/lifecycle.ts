/**
 * The `opened` and `closed` promises of a WebSocket connection and its phase,
 * shared by the client's WebSocketStream and the server's connections: a
 * failed opening handshake rejects both with the same error; once open,
 * `closed` follows the session's outcome.
 */
import { observing, publish, type ObservedConnection } from './diagnostics.js';
import type { Session, WebSocketMessage } from './session.js';
import { emptyStats, type WebSocketStats } from './statistics.js';
import type { WebSocketCloseInfo } from './websocket-error.js';

/** What `opened` fulfils with. */
export interface WebSocketOpenInfo {
  readable: ReadableStream<WebSocketMessage>;
  writable: WritableStream<unknown>;
  /** The extensions the server accepted ('' if none). */
  extensions: string;
  /** The subprotocol the server selected ('' if none). */
  protocol: string;
}

const noop = (): void => {};

export class ConnectionLifecycle {
  readonly opened: Promise<WebSocketOpenInfo>;
  readonly closed: Promise<Required<WebSocketCloseInfo>>;
  /** connecting: handshake in progress; open: a session runs; done: settled or failed. */
  state: 'connecting' | 'open' | 'done' = 'connecting';
  /** The session, once open. */
  session: Session | null = null;
  #observed: ObservedConnection = this;
  #role: 'client' | 'server' = 'client';
  #url: () => string = () => '';
  #resolveOpened!: (info: WebSocketOpenInfo) => void;
  #rejectOpened!: (error: unknown) => void;
  #resolveClosed!: (info: Required<WebSocketCloseInfo>) => void;
  #rejectClosed!: (error: unknown) => void;

  constructor() {
    this.opened = new Promise((resolve, reject) => {
      this.#resolveOpened = resolve;
      this.#rejectOpened = reject;
    });
    this.closed = new Promise((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    // Both promises are handled here, so awaiting only one never leaves an unhandled rejection.
    this.opened.catch(noop);
    this.closed.catch(noop);
  }

  /** Names the public connection, its role and URL in diagnostics events. */
  describe(connection: ObservedConnection, role: 'client' | 'server', url: () => string): void {
    this.#observed = connection;
    this.#role = role;
    this.#url = url;
  }

  /** The session's counters, or zeros before it opened. */
  stats(): WebSocketStats {
    return this.session?.stats() ?? emptyStats();
  }

  /** The opening handshake failed: `opened` and `closed` reject with `error`. */
  fail(error: unknown): void {
    if (this.state === 'connecting' && observing('failure')) {
      publish('failure', { connection: this.#observed, phase: 'handshake', error });
    }
    this.state = 'done';
    this.#rejectOpened(error);
    this.#rejectClosed(error);
    this.#releaseOpened();
    this.#releaseClosed();
  }

  #publishUnclean(error: unknown): void {
    if (observing('failure')) {
      publish('failure', { connection: this.#observed, phase: 'open', error });
    }
    if (observing('close')) {
      const { closeCode, reason } = error as { closeCode?: number | null; reason?: string };
      publish('close', {
        connection: this.#observed,
        clean: false,
        closeCode: closeCode ?? 1006,
        reason: reason ?? '',
      });
    }
  }

  // A settled promise's resolving functions are of no more use: let them go
  // rather than keep them for the connection's lifetime.
  #releaseOpened(): void {
    this.#resolveOpened = noop;
    this.#rejectOpened = noop;
  }

  #releaseClosed(): void {
    this.#resolveClosed = noop;
    this.#rejectClosed = noop;
  }

  /** The handshake succeeded: `opened` fulfils with the session's streams, `closed` follows the session. */
  open(session: Session, protocol: string, extensions: string): void {
    this.session = session;
    this.state = 'open';
    session.observe(this.#observed);
    if (observing('open')) {
      publish('open', {
        connection: this.#observed,
        role: this.#role,
        url: this.#url(),
        protocol,
        extensions,
      });
    }
    session.closed.then(
      (info) => {
        this.state = 'done';
        if (observing('close')) {
          publish('close', {
            connection: this.#observed,
            clean: true,
            closeCode: info.closeCode,
            reason: info.reason,
          });
        }
        this.#resolveClosed(info);
        this.#releaseClosed();
      },
      (error: unknown) => {
        this.state = 'done';
        this.#publishUnclean(error);
        this.#rejectClosed(error);
        this.#releaseClosed();
      },
    );
    this.#resolveOpened({
      readable: session.readable,
      writable: session.writable,
      extensions,
      protocol,
    });
    this.#releaseOpened();
  }
}
