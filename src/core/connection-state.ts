/**
 * The one state of a {@link Connection}, its readings (`readyState`, whether
 * a Close was sent or received) and the events and errors it reports. Types
 * and pure functions only: the transitions live in the connection.
 */
import type { ProtocolError } from './errors.js';

/** Which end of the connection we are. */
export type Role = 'client' | 'server';

/** The peer's Close: its code (1005 when the frame had no body) and reason. */
export interface PeerClose {
  readonly code: number;
  readonly reason: string;
}

/**
 * The one state of a {@link Connection}, after tungstenite's
 * `WebSocketState`. Every combination the connection can be in is one
 * member; nothing else records where the closing handshake stands.
 *
 * - `active`: both directions carry data.
 * - `closedByUs`: we sent Close and wait for the peer's; its data frames are
 *   still received.
 * - `closedByPeer`: the peer's Close arrived and ours is not sent yet (our
 *   echo is queued in the same step, so this is seen only inside it).
 * - `acknowledged`: both Close frames were exchanged without a failure: the
 *   closing handshake is complete (RFC 6455 7.1.4 calls this a clean close).
 * - `violated`: the peer broke the protocol. Input up to the violation was
 *   processed and its events reported; nothing after it is. Nothing was
 *   queued for it yet: data may still be sent (replies to the messages before
 *   the violation) until the transport calls {@link Connection.fail}.
 * - `failed`: we failed the connection (RFC 6455 7.1.7); a Close with the
 *   failure's code was queued unless one had been sent before.
 * - `terminated`: the transport's input ended ({@link Connection.receiveEof}),
 *   what RFC 6455 7.1.4 calls _The WebSocket Connection is Closed_. `from`
 *   is the state it ended in (`acknowledged` for a clean close).
 */
export type ConnectionState =
  | { readonly kind: 'active' }
  | { readonly kind: 'closedByUs' }
  | { readonly kind: 'closedByPeer'; readonly peerClose: PeerClose }
  | { readonly kind: 'acknowledged'; readonly peerClose: PeerClose }
  | { readonly kind: 'violated'; readonly error: ProtocolError; readonly closeSent: boolean }
  | {
      readonly kind: 'failed';
      readonly error: ProtocolError | ConnectionFailure;
      readonly closeSent: boolean;
    }
  | { readonly kind: 'terminated'; readonly from: LiveState };

/** The states before the transport's input ended. */
export type LiveState = Exclude<ConnectionState, { kind: 'terminated' }>;

/**
 * The standard's `readyState` words: OPEN while `active` (and `violated`
 * before our Close), CLOSING once the closing handshake has started or the
 * connection failed, CLOSED once the transport's input ended.
 */
export type ReadyState = 'OPEN' | 'CLOSING' | 'CLOSED';

/** What the core reports to the transport. */
export type ConnectionEvent =
  | { type: 'text'; data: string }
  | { type: 'binary'; data: Uint8Array }
  | { type: 'ping'; data: Uint8Array }
  | { type: 'pong'; data: Uint8Array }
  /** The peer's Close frame arrived (code 1005 when it had no body). If we had not sent Close, the echo (its code and reason) is queued. */
  | { type: 'close'; code: number; reason: string }
  /**
   * The peer broke the protocol. The events before this one are everything
   * the input held before the violation; nothing after it is processed.
   * Nothing is queued for it yet, and data may still be sent: call
   * {@link Connection.fail}(error) when the transport is ready to fail the
   * connection (it queues the Close with `error.closeCode` and reports `fail`).
   */
  | { type: 'violation'; error: ProtocolError }
  /** We failed the connection; a Close frame with `error.closeCode` is queued. Close the transport after flushing. */
  | { type: 'fail'; error: ProtocolError | ConnectionFailure };

/** A failure started locally (timeouts, application errors), as opposed to a peer's protocol violation. */
export class ConnectionFailure extends Error {
  override readonly name = 'ConnectionFailure';
  readonly closeCode: number;
  constructor(closeCode: number, message: string) {
    super(message);
    this.closeCode = closeCode;
  }
}

/** Thrown by the send methods when the state does not allow sending. */
export class InvalidStateError extends Error {
  override readonly name = 'InvalidStateError';
}

/** The state a connection is in, or ended in once terminated. */
export function liveState(state: ConnectionState): LiveState {
  return state.kind === 'terminated' ? state.from : state;
}

/** `state` in the standard's words (see {@link ReadyState}). */
export function readyStateOf(state: ConnectionState): ReadyState {
  if (state.kind === 'active') return 'OPEN';
  if (state.kind === 'violated') return state.closeSent ? 'CLOSING' : 'OPEN';
  return state.kind === 'terminated' ? 'CLOSED' : 'CLOSING';
}

/** Whether a Close frame of ours was sent (or queued) in `state`. */
export function closeSentIn(state: LiveState): boolean {
  switch (state.kind) {
    case 'active':
    case 'closedByPeer':
      return false;
    case 'closedByUs':
    case 'acknowledged':
      return true;
    case 'violated':
    case 'failed':
      return state.closeSent;
  }
}

/** The peer's Close in `state`, if it arrived. */
export function peerCloseOf(state: LiveState): PeerClose | null {
  return state.kind === 'closedByPeer' || state.kind === 'acknowledged' ? state.peerClose : null;
}

/** Whether input is still wanted in `state`: not once the peer's Close arrived or the connection failed. */
export function isReceiving(state: ConnectionState): boolean {
  return state.kind === 'active' || state.kind === 'closedByUs';
}

/**
 * Whether frames may still be queued in `state`: while `active`, and after a
 * violation until our Close (replies to what arrived before it).
 */
export function canSendIn(state: ConnectionState): boolean {
  return state.kind === 'active' || (state.kind === 'violated' && !state.closeSent);
}
