/**
 * The parts of a session that act later: the close timer, the keepalive and
 * a peer's violation held until the application caught up. A session makes
 * its Watchdogs only when the first of them is needed (keepalive is off by
 * default, the close timer starts with the closing handshake, most
 * connections never hold a violation), and each part inside only when it is
 * needed, so that an open connection that does neither holds none of them.
 */
import { CloseCode } from '../core/close.js';
import type { Connection, ConnectionEvent } from '../core/connection.js';
import type { ProtocolError } from '../core/errors.js';
import type { CloseOutcome } from './close-outcome.js';
import { HeldViolation } from './held-violation.js';
import type { PingLog } from './ping-log.js';
import type { ReceiveFlow } from './receive-flow.js';
import type { Sender } from './sender.js';
import { CloseTimer, Keepalive } from './timers.js';
import type { Transport } from './transport.js';
import { createWebSocketError } from './websocket-error.js';

/** The session's parts the watchdogs act on. */
export interface WatchedSession {
  readonly conn: Connection;
  readonly transport: Transport;
  readonly flow: ReceiveFlow;
  readonly sender: Sender;
  readonly outcome: CloseOutcome;
  readonly pings: PingLog;
  /** `closeTimeout`, in ms: the closing handshake's deadline and a held violation's. */
  readonly closeTimeout: number;
  /** Routes an event of the core as the session does (a held violation's failure). */
  handle(event: ConnectionEvent): void;
}

export class Watchdogs {
  readonly #s: WatchedSession;
  #closeTimer: CloseTimer | null = null;
  #keepalive: Keepalive | null = null;
  #pingsSent = 0;
  #violation: HeldViolation | null = null;
  /** The connection is over: no timer is started any more. */
  #stopped = false;

  constructor(session: WatchedSession) {
    this.#s = session;
  }

  /** Whether a violation is held (input stays stopped meanwhile). */
  get holdingViolation(): boolean {
    return this.#violation !== null && this.#violation.active;
  }

  /** Starts the keepalive: a Ping after `interval` ms of quiet, dead after `timeout` ms without a byte. */
  startKeepalive(interval: number, timeout: number): void {
    const { conn, transport, flow, sender, outcome, pings } = this.#s;
    this.#keepalive = new Keepalive(interval, timeout, {
      bytesRead: () => transport.bytesRead,
      paused: () => flow.paused,
      pauseChanges: () => flow.pauseChanges,
      canPing: () => !outcome.settled && !conn.closeSent,
      ping: () => {
        // Numbered (as python-websockets' are random), so that an unsolicited
        // Pong is not taken for the answer.
        const payload = new Uint8Array(4);
        new DataView(payload.buffer).setUint32(0, ++this.#pingsSent >>> 0);
        conn.sendPing(payload);
        pings.pingSent(payload);
        sender.flush();
      },
      dead: (message) => {
        outcome.settleUnclean(createWebSocketError(message, CloseCode.ABNORMAL_CLOSURE));
        transport.destroy();
      },
    });
    this.#keepalive.start();
  }

  /** Starts the close timer (once; never after the connection is over). */
  armCloseTimer(): void {
    if (this.#stopped) return;
    const { conn, transport, outcome, closeTimeout } = this.#s;
    this.#closeTimer ??= new CloseTimer(closeTimeout, () => {
      if (!conn.closedCleanly) {
        outcome.settleUnclean(
          createWebSocketError(
            `The closing handshake did not complete within ${closeTimeout} ms`,
            CloseCode.ABNORMAL_CLOSURE,
          ),
        );
      }
      transport.destroy();
    });
    this.#closeTimer.arm();
  }

  /** Holds the peer's violation while the messages before it are read and answered. */
  holdViolation(error: ProtocolError): void {
    const s = this.#s;
    this.#violation ??= new HeldViolation(s.closeTimeout, {
      stopInput: () => {
        s.transport.pause();
        this.#keepalive?.stop();
        s.flow.watchDrain(() => this.#violation?.check());
      },
      caughtUp: () => s.flow.drained && !s.sender.writing,
      fail: (violation) => {
        if (s.outcome.settled) return;
        s.conn.fail(violation);
        for (const e of s.conn.takeEvents()) s.handle(e);
      },
    });
    this.#violation.hold(error);
  }

  /** Acts on a held violation if the application has caught up since. */
  checkViolation(): void {
    this.#violation?.check();
  }

  /** Fails for the held violation now (the application closed); false when none is held. */
  failForViolation(): boolean {
    if (!this.holdingViolation) return false;
    this.#violation!.fail();
    return true;
  }

  /** Stops every timer for good: the connection is over. */
  stop(): void {
    this.#stopped = true;
    this.#violation?.stop();
    this.#closeTimer?.stop();
    this.#keepalive?.stop();
  }
}
