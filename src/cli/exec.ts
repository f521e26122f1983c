/**
 * `serve --exec CMD`: a command per connection, its stdin and stdout bridged
 * to the messages (websocat's `exec:`), with backpressure both ways — a
 * command that does not read its stdin stops the client's sending at TCP,
 * and a client that does not read stops the command at its stdout pipe.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable } from 'node:stream';
import type { WebSocketConnection } from '../server.js';
import { toDuplex } from '../index.js';
import type { WebSocketCloseInfo } from '../index.js';
import { LineFormatter, LineSplitter } from './lines.js';

/** Milliseconds a command may run on after its connection closed (and its stdin ended): 2 s. */
export const EXEC_GRACE = 2000;

/** Close code of a command that exited with `status` (non-zero): 4000 + status. */
export const EXIT_STATUS_CLOSE_BASE = 4000;

/** Close code of a command killed by signal `n`: 4128 + n (the shell's 128 + n, from 4000). */
export const SIGNAL_CLOSE_BASE = 4128;

/** How the connection closes when the command ended with `status` or `signal`. */
export function closeInfoForExit(
  status: number | null,
  signal: NodeJS.Signals | null,
): WebSocketCloseInfo {
  if (status === 0) return { closeCode: 1000, reason: 'exit status 0' };
  if (status !== null) {
    return {
      closeCode: EXIT_STATUS_CLOSE_BASE + Math.min(status, 255),
      reason: `exit status ${status}`,
    };
  }
  const n = signal === null ? 0 : (constants.signals[signal] ?? 0);
  return {
    closeCode: SIGNAL_CLOSE_BASE + Math.min(n, 127),
    reason: `killed by ${signal ?? 'a signal'}`,
  };
}

/**
 * Runs `command` with `/bin/sh -c` for `connection`. Messages are written to
 * its stdin (text as UTF-8; with `lineMode` each followed by a newline), its
 * stdout is sent as messages (binary chunks; with `lineMode` one text message
 * per line), its stderr goes to ours. The environment gets `WSSTREAM_URL` and
 * `WSSTREAM_REMOTE_ADDRESS`. The command runs in its own process group; when
 * the connection has closed, its stdin ends and after {@link EXEC_GRACE} the
 * group gets SIGTERM. Returns `kill()`, which sends SIGTERM at once, and a
 * promise of the command's exit.
 */
export function bridgeExec(
  connection: WebSocketConnection,
  command: string,
  o: { lineMode: boolean; maxLine: number },
): { kill: () => void; exited: Promise<void> } {
  const child = spawn(command, {
    shell: true,
    // Its own process group, so that killing it reaches what the shell started too.
    detached: true,
    stdio: ['pipe', 'pipe', 'inherit'],
    env: {
      ...process.env,
      WSSTREAM_URL: connection.url,
      WSSTREAM_REMOTE_ADDRESS: connection.remoteAddress ?? '',
    },
  });
  const duplex = toDuplex(connection, { textAs: o.lineMode ? 'string' : 'buffer' });
  duplex.on('error', () => {});
  // A command that exits without reading its input: EPIPE on its stdin is expected.
  child.stdin.on('error', () => {});
  child.on('error', () => {});

  // Messages -> stdin: pipe() stops reading the connection while the command does not read.
  if (o.lineMode) duplex.pipe(new LineFormatter(false)).pipe(child.stdin);
  else duplex.pipe(child.stdin);

  // stdout -> messages: pipe() stops reading stdout while the connection cannot take more.
  let output: Readable = child.stdout;
  if (o.lineMode) {
    const splitter = new LineSplitter(o.maxLine);
    splitter.on('error', () => child.kill());
    output = child.stdout.pipe(splitter);
  }
  output.pipe(duplex, { end: false });

  child.on('close', (status, signal) => {
    // 'close' comes after stdout ended, so every chunk was handed to the Duplex: the Close follows them.
    try {
      duplex.endWith(closeInfoForExit(status, signal));
    } catch {
      duplex.end();
    }
  });

  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', () => {
      exited = true;
      resolve();
    });
  });
  const kill = (): void => {
    if (exited || child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      child.kill('SIGTERM');
    }
  };
  const afterClose = (): void => {
    // The connection is gone: the command's stdin has ended; give it a moment to finish on its own.
    child.stdin.end();
    setTimeout(kill, EXEC_GRACE).unref();
  };
  connection.closed.then(afterClose, afterClose);
  return { kill, exited: exitedPromise };
}
