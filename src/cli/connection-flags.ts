/**
 * The options `connect` and `serve` both take: the connection's own settings
 * (subprotocols, message size limit, keepalive, batched writes, compression)
 * and a certificate with its key. One definition, read the same way for the
 * client and the server.
 */
import { DEFAULT_MAX_MESSAGE_SIZE, MessageSizeQueuingStrategy } from '../index.js';
import {
  flag,
  list,
  parsePositiveDuration,
  parseSize,
  READ_AHEAD_BYTES,
  readPem,
  str,
  UsageError,
} from './args.js';

/** The parseArgs specs of these options, spread into each command's. */
export const CONNECTION_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  subprotocol: { type: 'string', short: 's', multiple: true },
  cert: { type: 'string' },
  key: { type: 'string' },
  'max-message-size': { type: 'string' },
  'ping-interval': { type: 'string' },
  'batch-writes': { type: 'boolean' },
  'no-batch-writes': { type: 'boolean' },
  'no-deflate': { type: 'boolean' },
} as const;

/** What these options set, in the shape both the client's and the server's options take. */
export interface ConnectionFlags {
  protocols?: string[];
  /** `--max-message-size`; the library's default when not given. */
  maxMessageSize: number;
  pingInterval?: number;
  batchWrites?: false;
  perMessageDeflate?: false;
  /** Read-ahead bounded by bytes ({@link READ_AHEAD_BYTES}), not by a count of messages. */
  readableStrategy: MessageSizeQueuingStrategy;
}

/** Reads the connection options from parseArgs' `values` (not the certificate: see {@link readCertAndKey}). */
export function readConnectionFlags(values: Record<string, unknown>): ConnectionFlags {
  const maxMessageSize = str(values, 'max-message-size');
  const flags: ConnectionFlags = {
    maxMessageSize:
      maxMessageSize === undefined
        ? DEFAULT_MAX_MESSAGE_SIZE
        : parseSize(maxMessageSize, '--max-message-size'),
    readableStrategy: new MessageSizeQueuingStrategy({ highWaterMark: READ_AHEAD_BYTES }),
  };
  const protocols = list(values, 'subprotocol');
  if (protocols.length > 0) flags.protocols = protocols;
  const pingInterval = str(values, 'ping-interval');
  if (pingInterval !== undefined)
    flags.pingInterval = parsePositiveDuration(pingInterval, '--ping-interval');
  if (flag(values, 'no-batch-writes')) {
    if (flag(values, 'batch-writes'))
      throw new UsageError('--batch-writes and --no-batch-writes contradict each other');
    flags.batchWrites = false;
  }
  if (flag(values, 'no-deflate')) flags.perMessageDeflate = false;
  return flags;
}

/**
 * `--cert` and `--key` (PEM files, given together): the server's certificate
 * for `serve`, the client certificate for `connect`. Undefined when neither is given.
 */
export function readCertAndKey(
  values: Record<string, unknown>,
): { cert: string; key: string } | undefined {
  const cert = str(values, 'cert');
  const key = str(values, 'key');
  if ((cert === undefined) !== (key === undefined))
    throw new UsageError('--cert and --key go together');
  if (cert === undefined || key === undefined) return undefined;
  return { cert: readPem(cert, '--cert'), key: readPem(key, '--key') };
}
