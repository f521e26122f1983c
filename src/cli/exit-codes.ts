/**
 * The exit codes scripts can rely on, and the one line of stderr that says
 * how the connection ended.
 */
import type { WebSocketCloseInfo } from '../index.js';

/** Exit codes of every wsstream command. */
export const ExitCode = {
  /** The connection closed normally: 1000, 1001 or a Close with no code (1005). */
  OK: 0,
  /** The connection failed, was dropped, or closed with any other code. */
  ERROR: 1,
  /** The command line is wrong. */
  USAGE: 2,
  /** Interrupted twice (SIGINT): gave up waiting for the closing handshake. */
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Close codes that mean "all went well". */
const NORMAL_CLOSE_CODES = new Set([1000, 1001, 1005]);

/** The exit code for a clean closing handshake with `closeCode`. */
export function exitCodeForClose(closeCode: number): ExitCode {
  return NORMAL_CLOSE_CODES.has(closeCode) ? ExitCode.OK : ExitCode.ERROR;
}

/** `closed: code 1000, reason "bye"`. */
export function describeClose(info: Required<WebSocketCloseInfo>): string {
  return `closed: code ${info.closeCode}, reason ${JSON.stringify(info.reason)}`;
}

/** `error: <message> (code 1006)` for a failed connection (a WebSocketError or anything else). */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { closeCode?: unknown } | null)?.closeCode;
  const reason = (error as { reason?: unknown } | null)?.reason;
  let tail = '';
  if (typeof code === 'number') {
    tail = ` (code ${code}${typeof reason === 'string' && reason !== '' ? `, reason ${JSON.stringify(reason)}` : ''})`;
  }
  return `error: ${message}${tail}`;
}
