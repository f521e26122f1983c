/**
 * wsstream's connection events on `node:diagnostics_channel`, as undici
 * publishes its WebSocket events: subscribe with
 * `diagnostics_channel.subscribe('wsstream:open', (message) => ...)`.
 *
 * | channel            | message                                                    |
 * | ------------------ | ---------------------------------------------------------- |
 * | `wsstream:open`    | `{ connection, role, url, protocol, extensions }`          |
 * | `wsstream:close`   | `{ connection, clean, closeCode, reason }`                  |
 * | `wsstream:ping`    | `{ connection, direction: 'sent' or 'received', payload }` |
 * | `wsstream:pong`    | `{ connection, direction: 'sent' or 'received', payload }` |
 * | `wsstream:failure` | `{ connection, phase: 'handshake' or 'open', error }`      |
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import {
  setDiagnosticsSink,
  type DiagnosticsEvent,
  type DiagnosticsMessages,
} from '../streams/diagnostics.js';

/** The channel names, by event. */
export const DIAGNOSTICS_CHANNELS = {
  open: 'wsstream:open',
  close: 'wsstream:close',
  ping: 'wsstream:ping',
  pong: 'wsstream:pong',
  failure: 'wsstream:failure',
} as const;

const channels = {
  open: diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.open),
  close: diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.close),
  ping: diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.ping),
  pong: diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.pong),
  failure: diagnosticsChannel.channel(DIAGNOSTICS_CHANNELS.failure),
};

setDiagnosticsSink({
  active(event: DiagnosticsEvent): boolean {
    return channels[event].hasSubscribers;
  },
  publish<E extends DiagnosticsEvent>(event: E, message: DiagnosticsMessages[E]): void {
    channels[event].publish(message);
  },
});
