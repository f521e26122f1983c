/**
 * Connection events for observers (open, close, ping, pong, failure). The
 * streams layer knows no runtime, so it publishes through a sink that the
 * runtime layer installs (Node: `node:diagnostics_channel`, see
 * src/node/diagnostics.ts). With no sink, or no subscriber, publishing costs
 * one check.
 */

/** The connection an event is about: the client's WebSocketStream or a server's WebSocketConnection. */
export type ObservedConnection = object;

/** What each event carries. */
export interface DiagnosticsMessages {
  /** The opening handshake succeeded. */
  open: {
    connection: ObservedConnection;
    role: 'client' | 'server';
    url: string;
    protocol: string;
    extensions: string;
  };
  /** An opened connection ended, cleanly or not (`closeCode` 1006 or the failure's code when not). */
  close: {
    connection: ObservedConnection;
    clean: boolean;
    closeCode: number;
    reason: string;
  };
  /** A Ping was sent or received. */
  ping: { connection: ObservedConnection; direction: 'sent' | 'received'; payload: Uint8Array };
  /** A Pong was sent or received. */
  pong: { connection: ObservedConnection; direction: 'sent' | 'received'; payload: Uint8Array };
  /** The opening handshake failed, or an opened connection closed uncleanly. */
  failure: { connection: ObservedConnection; phase: 'handshake' | 'open'; error: unknown };
}

export type DiagnosticsEvent = keyof DiagnosticsMessages;

/** Where events go: `active(name)` says whether anyone listens, `publish` delivers. */
export interface DiagnosticsSink {
  active(event: DiagnosticsEvent): boolean;
  publish<E extends DiagnosticsEvent>(event: E, message: DiagnosticsMessages[E]): void;
}

let sink: DiagnosticsSink | null = null;

/** Installs the runtime's sink (once, at import of the runtime layer). */
export function setDiagnosticsSink(value: DiagnosticsSink): void {
  sink = value;
}

/** Whether an event has listeners; check before building its message. */
export function observing(event: DiagnosticsEvent): boolean {
  return sink !== null && sink.active(event);
}

/**
 * Publishes an event. An error of the sink itself never reaches the I/O path
 * that published (node:diagnostics_channel catches a subscriber's error and
 * rethrows it on its own, asynchronously, as it does for every channel).
 */
export function publish<E extends DiagnosticsEvent>(
  event: E,
  message: DiagnosticsMessages[E],
): void {
  try {
    sink?.publish(event, message);
  } catch {
    // An observer's error is not the connection's.
  }
}
