/**
 * The `opened` and `closed` promises of a WebSocket connection and its phase,
 * shared by the client's WebSocketStream and the server's connections: a
 * failed opening handshake rejects both with the same error; once open,
 * `closed` follows the session's outcome.
 */
import { observing, publish, type ObservedConnection } from './diagnostics.js';
import type { Session, WebSocketMessage } from './session.js';
import { emptyStats, type WebSocketStats } from './statistics.js';
import type { ClosedSink } from './close-outcome.js';
import type { WebSocketCloseInfo, WebSocketError } from './websocket-error.js';

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

/** Told when a connection's `closed` settles (the server's connection registry). */
export interface ClosedWatcher<T> {
  closedSettled(connection: T): void;
}

/** The public connection a lifecycle belongs to, as diagnostics name it. */
export interface DescribedConnection {
  readonly url: string;
}

/**
 * The lifecycle is also the session's {@link ClosedSink}: `closed` is settled
 * by the session's outcome directly, in the same turn as the streams end.
 */
export class ConnectionLifecycle implements ClosedSink {
  readonly opened: Promise<WebSocketOpenInfo>;
  /** `closed`, made when first asked for (a server connection's often never is). */
  #closed: Promise<Required<WebSocketCloseInfo>> | null = null;
  /** connecting: handshake in progress; open: a session runs; done: settled or failed. */
  state: 'connecting' | 'open' | 'done' = 'connecting';
  /** The session, once open. */
  session: Session | null = null;
  #observed: DescribedConnection | null = null;
  #role: 'client' | 'server' = 'client';
  #resolveOpened!: (info: WebSocketOpenInfo) => void;
  #rejectOpened!: (error: unknown) => void;
  #resolveClosed: (info: Required<WebSocketCloseInfo>) => void = noop;
  #rejectClosed: (error: unknown) => void = noop;
  /** The outcome of a session that settled while it was being made, applied once it opened. */
  #settledEarly: (() => void) | null = null;
  /** Told once `closed` settled, with the connection it was given for. */
  #watcher: ClosedWatcher<unknown> | null = null;
  #watched: unknown = null;

  constructor() {
    this.opened = new Promise((resolve, reject) => {
      this.#resolveOpened = resolve;
      this.#rejectOpened = reject;
    });
  }

  /**
   * Fulfils with `{closeCode, reason}` after a clean close; rejects with the
   * error otherwise (marked handled). The same promise every time; made on
   * first use, settled already if the connection ended before that.
   */
  get closed(): Promise<Required<WebSocketCloseInfo>> {
    this.#closed ??= new Promise((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    return this.#closed;
  }

  /**
   * Has `watcher` told once `closed` settles, in the same turn, before any
   * reaction to `closed` runs; at once if it has settled already.
   */
  watch<T>(watcher: ClosedWatcher<T>, connection: T): void {
    if (this.state === 'done') {
      watcher.closedSettled(connection);
      return;
    }
    this.#watcher = watcher;
    this.#watched = connection;
  }

  /** Names the public connection (its `url` is read when an event is published) and its role in diagnostics events. */
  describe(connection: DescribedConnection, role: 'client' | 'server'): void {
    this.#observed = connection;
    this.#role = role;
  }

  /** The session's counters, or zeros before it opened. */
  stats(): WebSocketStats {
    return this.session?.stats() ?? emptyStats();
  }

  /**
   * The opening handshake failed: `opened` and `closed` reject with `error`.
   * Both are marked handled first, so awaiting only one (or neither) never
   * leaves an unhandled rejection.
   */
  fail(error: unknown): void {
    if (this.state === 'connecting' && observing('failure')) {
      publish('failure', { connection: this.#connection, phase: 'handshake', error });
    }
    this.state = 'done';
    this.opened.catch(noop);
    this.#rejectOpened(error);
    this.#releaseOpened();
    this.#rejectClosedWith(error);
  }

  /** The public connection diagnostics name (this lifecycle until described). */
  get #connection(): ObservedConnection {
    return this.#observed ?? this;
  }

  // A settled promise's resolving functions are of no more use: let them go
  // rather than keep them for the connection's lifetime.
  #releaseOpened(): void {
    this.#resolveOpened = noop;
    this.#rejectOpened = noop;
  }

  /** Fulfils `closed`, then tells the watcher. */
  #fulfilClosed(info: Required<WebSocketCloseInfo>): void {
    if (this.#closed === null) this.#closed = Promise.resolve(info);
    else this.#resolveClosed(info);
    this.#closedSettled();
  }

  /**
   * Rejects `closed`, marked handled (awaiting only `opened` leaves no
   * unhandled rejection), then tells the watcher.
   */
  #rejectClosedWith(error: unknown): void {
    if (this.#closed === null) {
      // What the handshake or the session failed with, as given.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      this.#closed = Promise.reject(error);
      this.#closed.catch(noop);
    } else {
      this.#closed.catch(noop);
      this.#rejectClosed(error);
    }
    this.#closedSettled();
  }

  #closedSettled(): void {
    this.#resolveClosed = noop;
    this.#rejectClosed = noop;
    const watcher = this.#watcher;
    if (watcher !== null) {
      this.#watcher = null;
      const connection = this.#watched;
      this.#watched = null;
      watcher.closedSettled(connection);
    }
  }

  /** ClosedSink: the session closed cleanly. */
  resolveClosed(info: Required<WebSocketCloseInfo>): void {
    if (this.state === 'connecting') {
      this.#settledEarly = () => this.resolveClosed(info);
      return;
    }
    this.state = 'done';
    if (observing('close')) {
      publish('close', {
        connection: this.#connection,
        clean: true,
        closeCode: info.closeCode,
        reason: info.reason,
      });
    }
    this.#fulfilClosed(info);
  }

  /** ClosedSink: the session ended uncleanly (marked handled: awaiting only `opened` leaves no unhandled rejection). */
  rejectClosed(error: WebSocketError): void {
    if (this.state === 'connecting') {
      this.#settledEarly = () => this.rejectClosed(error);
      return;
    }
    this.state = 'done';
    if (observing('failure')) {
      publish('failure', { connection: this.#connection, phase: 'open', error });
    }
    if (observing('close')) {
      publish('close', {
        connection: this.#connection,
        clean: false,
        closeCode: error.closeCode ?? 1006,
        reason: error.reason,
      });
    }
    this.#rejectClosedWith(error);
  }

  /**
   * The handshake succeeded: `opened` fulfils with the session's streams
   * (made with this lifecycle as its {@link ClosedSink}); `closed` follows
   * the session from then on.
   */
  open(session: Session, protocol: string, extensions: string): void {
    this.session = session;
    this.state = 'open';
    session.observe(this.#connection);
    if (observing('open')) {
      publish('open', {
        connection: this.#connection,
        role: this.#role,
        url: this.#observed?.url ?? '',
        protocol,
        extensions,
      });
    }
    this.#resolveOpened({
      readable: session.readable,
      writable: session.writable,
      extensions,
      protocol,
    });
    this.#releaseOpened();
    const early = this.#settledEarly;
    if (early !== null) {
      this.#settledEarly = null;
      early();
    }
  }
}
