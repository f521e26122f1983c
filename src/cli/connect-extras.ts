/**
 * The options of `connect` that websocat users reach for besides the basics:
 * `--listen` (a local listener, one tunnel per connection), `--basic-auth`,
 * `-0/--nul` (NUL-separated messages), `-u` and `-U` (one direction only).
 */
import { flag, str, UsageError } from './args.js';
import { MAX_CONNECTIONS_OPTION, readMaxConnections } from './connection-cap.js';
import { parseEndpoint, type Endpoint } from './endpoint.js';
import type { Separator } from './lines.js';

/** The parseArgs specs of these options, spread into connect's. */
export const CONNECT_EXTRA_OPTIONS = {
  listen: { type: 'string' },
  'basic-auth': { type: 'string' },
  nul: { type: 'boolean', short: '0' },
  unidirectional: { type: 'boolean', short: 'u' },
  'unidirectional-reverse': { type: 'boolean', short: 'U' },
  ...MAX_CONNECTIONS_OPTION,
} as const;

/**
 * Which ways data flows between stdin/stdout and the connection: `both`
 * (default), `send` (`-u`: stdin to the connection only; received messages
 * are read and discarded), `receive` (`-U`: the connection to stdout only;
 * stdin is not read).
 */
export type Direction = 'both' | 'send' | 'receive';

/** What these options ask for. */
export interface ConnectExtras {
  /** `--listen`: where to listen instead of using stdin and stdout. */
  readonly listen: Endpoint | undefined;
  /** `--max-connections` (with `--listen`): most tunnels at once. */
  readonly maxConnections: number;
  /** `-0`: NUL instead of newline between messages (implies line mode). */
  readonly separator: Separator;
  readonly direction: Direction;
}

/** Options of connect's stdin/stdout form that mean nothing to a listener. */
const STDIO_ONLY = ['line', 'binary', 'raw', 'once', 'exit-on-eof', 'reconnect'] as const;

/**
 * Reads the extra options from parseArgs' `values`, checks how they combine
 * with the others, and adds the `Authorization` header of `--basic-auth` to
 * `headers` (the request headers connect is collecting).
 */
export function readConnectExtras(
  values: Record<string, unknown>,
  headers: Array<[string, string]>,
): ConnectExtras {
  const basicAuth = str(values, 'basic-auth');
  if (basicAuth !== undefined) {
    // RFC 7617 2: the user-id cannot contain a colon; the password can.
    if (!basicAuth.includes(':')) {
      throw new UsageError('--basic-auth: expected USER:PASSWORD (the password may be empty)');
    }
    if (headers.some(([name]) => name.toLowerCase() === 'authorization')) {
      throw new UsageError('--basic-auth and an Authorization header (-H) exclude each other');
    }
    // RFC 7617 2.1: with charset UTF-8, user-pass is encoded as UTF-8 before base64.
    headers.push(['Authorization', `Basic ${Buffer.from(basicAuth, 'utf8').toString('base64')}`]);
  }

  const nul = flag(values, 'nul');
  if (nul && (flag(values, 'binary') || flag(values, 'raw'))) {
    throw new UsageError('-0/--nul splits stdin into text messages: it does not go with --binary');
  }
  const send = flag(values, 'unidirectional');
  const receive = flag(values, 'unidirectional-reverse');
  if (send && receive) throw new UsageError('-u and -U exclude each other');
  if (send && flag(values, 'once')) {
    throw new UsageError('-u does not print messages, so --once has nothing to wait for');
  }

  const listenText = str(values, 'listen');
  let listen: Endpoint | undefined;
  if (listenText !== undefined) {
    listen = parseEndpoint(listenText, '--listen', true);
    const clash = [...STDIO_ONLY, 'nul', 'unidirectional', 'unidirectional-reverse'].find((name) =>
      flag(values, name),
    );
    if (clash !== undefined) {
      throw new UsageError(
        `--${clash} is about stdin and stdout; with --listen every connection is a byte stream`,
      );
    }
  } else if (str(values, 'max-connections') !== undefined) {
    throw new UsageError('--max-connections applies to --listen');
  }
  return {
    listen,
    maxConnections: readMaxConnections(values),
    separator: nul ? '\0' : '\n',
    direction: send ? 'send' : receive ? 'receive' : 'both',
  };
}
