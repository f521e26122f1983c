/**
 * Helpers for the session tests: a session on a {@link FakeTransport}, frames
 * as its peer writes them, and the outcome of a promise as a value.
 */
import { closePayload } from '../../conformance/wire.js';
import type { Role } from '../../src/core/connection.js';
import { Session, type SessionOptions } from '../../src/streams/session.js';
import { decodeClose, frameFrom, makeConnection, peerOf, utf8 } from '../core/helpers.js';
import { FakeTransport } from './fake-transport.js';

export { settle } from './fake-transport.js';

export const TEXT = 0x1;
export const BINARY = 0x2;
export const CLOSE = 0x8;
export const PING = 0x9;

/** A session of `role` on a fake transport, with frames its peer would send. */
export function openSession(role: Role = 'client', options: SessionOptions = {}) {
  const transport = new FakeTransport();
  const conn = makeConnection(role);
  const session = new Session(conn, transport, options);
  const from = peerOf(role);
  return {
    transport,
    conn,
    session,
    /** A text message from the peer. */
    text: (s: string): Uint8Array => frameFrom(from, { opcode: TEXT, payload: utf8(s) }),
    /** A binary message from the peer. */
    binary: (b: Uint8Array): Uint8Array => frameFrom(from, { opcode: BINARY, payload: b }),
    /** A Ping from the peer. */
    ping: (): Uint8Array => frameFrom(from, { opcode: PING }),
    /** A Close from the peer. */
    close: (code: number, reason = ''): Uint8Array =>
      frameFrom(from, { opcode: CLOSE, payload: closePayload(code, reason) }),
    /** Any frame from the peer. */
    frame: (opcode: number, payload = new Uint8Array(0), rsv1 = false): Uint8Array =>
      frameFrom(from, { opcode, payload, rsv1 }),
    /** The frames the kernel took from us, as the peer reads them. */
    sent: () => transport.frames(role),
    /** The Close frames we sent, decoded. */
    closesSent: () =>
      transport
        .frames(role)
        .filter((f) => f.opcode === CLOSE)
        .map((f) => decodeClose(f.payload)),
  };
}

/** How a promise settled, observed without awaiting it. */
export function track<T>(promise: Promise<T>): {
  state: 'pending' | 'fulfilled' | 'rejected';
  value?: T;
  error?: unknown;
} {
  const t: { state: 'pending' | 'fulfilled' | 'rejected'; value?: T; error?: unknown } = {
    state: 'pending',
  };
  promise.then(
    (value) => {
      t.state = 'fulfilled';
      t.value = value;
    },
    (error: unknown) => {
      t.state = 'rejected';
      t.error = error;
    },
  );
  return t;
}
