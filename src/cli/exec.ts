/**
 * `serve --exec CMD`: a command per connection, its stdin and stdout bridged
 * to the messages (websocat's `exec:`), with backpressure both ways — a
 * command that does not read its stdin stops the client's sending at TCP,
 * and a client that does not read stops the command at its stdout pipe.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { WebSocketConnection } from '../server.js';
import { toDuplex } from '../index.js';
import type { WebSocketCloseInfo } from '../index.js';
import { LineFormatter, LineSplitter } from './lines.js';

/** Milliseconds a command may run on after its connection closed (and its stdin ended): 2 s. */
export const EXEC_GRACE = 2000;

/**
 * Default of `--kill-after`: milliseconds between the SIGTERM to a command's
 * process group and the SIGKILL that follows if the command still runs: 5 s
 * (the name and the idea are GNU timeout's `--kill-after`, systemd's
 * `TimeoutStopSec=` made short). A command whose client has left has no one to
 * answer: it already had its stdin end and {@link EXEC_GRACE}, and 5 s is
 * plenty to clean up after SIGTERM; it is also the server's shutdown timeout,
 * so stopping `wsstream` takes 11 s at most (with {@link SHUTDOWN_PIPE_WAIT}).
 * Stops a command that ignores SIGTERM from running (and holding its
 * connection slot) forever.
 */
export const DEFAULT_KILL_AFTER = 5000;

/**
 * Milliseconds a shutdown waits, after the SIGKILL, for the commands' pipes to
 * close: 1 s. A process that left the group but holds the pipes open cannot
 * hold up the exit.
 */
export const SHUTDOWN_PIPE_WAIT = 1000;

/** Options of {@link bridgeExec}. */
export interface ExecOptions {
  /** One text message per line of output, each message written as a line. */
  lineMode: boolean;
  /** Longest line in `lineMode`, in bytes. */
  maxLine: number;
  /** Milliseconds from SIGTERM to SIGKILL; default {@link DEFAULT_KILL_AFTER}. */
  killAfter?: number;
  /** Told when the command is stopped for a line too long, or gets SIGKILL (one line, no newline). Default: none. */
  log?: (line: string) => void;
}

/** A command started by {@link bridgeExec}. */
export interface ExecProcess {
  /**
   * Ends the command now: SIGTERM to its process group, then SIGKILL after
   * `killAfter` if it has not exited. Calling it again changes nothing.
   */
  stop(): void;
  /** Ends the command at once: SIGKILL to its process group. */
  kill(): void;
  /**
   * Fulfils once the command has exited and its stdout and stdin have closed
   * (never rejects).
   */
  readonly exited: Promise<void>;
}

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
 * the connection has closed, its stdin ends, after {@link EXEC_GRACE} the
 * group gets SIGTERM and after `killAfter` more SIGKILL.
 */
export function bridgeExec(
  connection: WebSocketConnection,
  command: string,
  o: ExecOptions,
): ExecProcess {
  const killAfter = o.killAfter ?? DEFAULT_KILL_AFTER;
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

  let done = false;
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const exited = new Promise<void>((resolve) => {
    const finish = (): void => {
      done = true;
      clearTimeout(graceTimer);
      clearTimeout(killTimer);
      resolve();
    };
    // 'close': the shell exited and its pipes closed (no process of the group holds them).
    child.once('close', finish);
    // 'error' also reports a failed kill(): only a failed spawn (no pid) ends it.
    child.on('error', () => {
      if (child.pid === undefined) finish();
    });
  });
  const signalGroup = (signal: NodeJS.Signals): void => {
    if (done || child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      child.kill(signal);
    }
  };
  let stopping = false;
  const stop = (): void => {
    if (stopping || done) return;
    stopping = true;
    clearTimeout(graceTimer);
    signalGroup('SIGTERM');
    // Not referenced: the running child keeps the process alive, not this timer.
    const kill = (): void => {
      if (done) return;
      o.log?.(`command (pid ${child.pid}) still runs ${killAfter} ms after SIGTERM: SIGKILL`);
      signalGroup('SIGKILL');
    };
    killTimer = setTimeout(kill, killAfter).unref();
  };

  // Messages -> stdin: pipe() stops reading the connection while the command does not read.
  if (o.lineMode) duplex.pipe(new LineFormatter(false)).pipe(child.stdin);
  else duplex.pipe(child.stdin);

  // stdout -> messages: pipe() stops reading stdout while the connection cannot take more.
  let output: Readable = child.stdout;
  if (o.lineMode) {
    const splitter = new LineSplitter(o.maxLine);
    // A line past --max-message-size: said, then the command is stopped.
    splitter.on('error', (error: Error) => {
      o.log?.(`command (pid ${child.pid}) output: ${error.message}; stopping it`);
      stop();
    });
    output = child.stdout.pipe(splitter);
  }
  output.pipe(duplex, { end: false });

  child.on('close', (status, signal) => {
    const endWithExit = (): void => {
      try {
        duplex.endWith(closeInfoForExit(status, signal));
      } catch {
        duplex.end();
      }
    };
    // 'close' comes after stdout ended, so every chunk was handed to the Duplex: the Close follows them.
    if (output === child.stdout) {
      endWithExit();
      return;
    }
    // In line mode the splitter may still hold lines (the Duplex was full): the Close waits
    // until it has ended, that is until its last line was handed to the Duplex.
    finished(output, { writable: false }).then(endWithExit, endWithExit);
  });

  const afterClose = (): void => {
    // The connection is gone: the command's stdin has ended; give it a moment to finish on its own.
    child.stdin.end();
    // Nothing it writes from now on can be sent: its stdout is detached, so that Node reads it
    // to its EOF once it has exited (at once if it already has). Left piped into a full line
    // splitter, it would never see its EOF: no 'close', and the slot held for ever.
    child.stdout.unpipe();
    if (child.exitCode !== null || child.signalCode !== null) child.stdout.resume();
    if (!done && !stopping) graceTimer = setTimeout(stop, EXEC_GRACE).unref();
  };
  connection.closed.then(afterClose, afterClose);
  return { stop, kill: () => signalGroup('SIGKILL'), exited };
}

/**
 * Stops every command at once (SIGTERM, then SIGKILL after `killAfter`) and
 * resolves once they have all exited, or at most {@link SHUTDOWN_PIPE_WAIT}
 * after the SIGKILL: no command outlives a shutdown by more than that.
 */
export async function stopAll(commands: Iterable<ExecProcess>, killAfter: number): Promise<void> {
  const all = [...commands];
  for (const command of all) command.stop();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all(all.map((c) => c.exited)),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, killAfter + SHUTDOWN_PIPE_WAIT);
    }),
  ]);
  clearTimeout(timer);
}
