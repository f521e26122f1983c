/**
 * Per-connection statistics (a wsstream extension): what went in and out, what
 * wsstream holds right now, and the round-trip time of the last ping.
 */
import type { Connection } from '../core/connection.js';
import type { PingLog } from './ping-log.js';
import type { ReceiveFlow } from './receive-flow.js';
import type { Sender } from './sender.js';
import type { Transport } from './transport.js';

/** A snapshot of one connection's counters, from `stats` on a client or server connection. */
export interface WebSocketStats {
  /** Data messages received whole. */
  messagesReceived: number;
  /** Payload bytes of those messages (text as UTF-8; after decompression where compression was negotiated). */
  bytesReceived: number;
  /** Data messages written (taken by the writable's sink). */
  messagesSent: number;
  /** Payload bytes of those messages (text as UTF-8; before compression). */
  bytesSent: number;
  /**
   * Bytes of frames read from the socket: the wire, with frame headers, masks
   * and control frames; the HTTP handshake is not counted (either way).
   */
  socketBytesRead: number;
  /** Bytes of frames handed to the socket, likewise. */
  socketBytesWritten: number;
  /**
   * Bytes wsstream holds in user space right now: the incoming message being
   * assembled plus what was handed to the socket and not yet taken by the
   * operating system. The readable's own queue is not counted: its queuing
   * strategy bounds it (count it with that strategy's `size()` if needed).
   */
  bufferedBytes: number;
  /** Messages received and waiting for the readable to ask for them (a burst in one read, or while closing). */
  messagesWaiting: number;
  /**
   * Messages received that no reader will get: past the 1 MiB held once we
   * are closing (see CLOSING_HOLD_LIMIT), or after the readable was cancelled
   * or errored. A relay can tell from it whether what it passed on is whole.
   */
  messagesDiscarded: number;
  /** Milliseconds between the last Ping we sent and the Pong that answered it; null until one was answered. */
  lastPingRtt: number | null;
}

/** The statistics of a connection that has not opened (or never did). */
export function emptyStats(): WebSocketStats {
  return {
    messagesReceived: 0,
    bytesReceived: 0,
    messagesSent: 0,
    bytesSent: 0,
    socketBytesRead: 0,
    socketBytesWritten: 0,
    bufferedBytes: 0,
    messagesWaiting: 0,
    messagesDiscarded: 0,
    lastPingRtt: null,
  };
}

/** A connection's statistics now: the core's counters, the transport's and the session's parts'. */
export function readStats(
  conn: Connection,
  /** Bytes of frames the transport read (after the handshake). */
  framesRead: number,
  transport: Transport,
  flow: ReceiveFlow,
  sender: Sender,
  pings: PingLog,
): WebSocketStats {
  return {
    messagesReceived: conn.messagesReceived,
    bytesReceived: conn.bytesReceived,
    messagesSent: conn.messagesSent,
    bytesSent: conn.bytesSent,
    socketBytesRead: framesRead,
    socketBytesWritten: sender.bytesWritten,
    bufferedBytes: conn.bufferedMessageBytes + transport.bufferedAmount,
    messagesWaiting: flow.messagesWaiting,
    messagesDiscarded: conn.messagesReceived - flow.messagesDelivered - flow.messagesWaiting,
    lastPingRtt: pings.lastRtt,
  };
}
