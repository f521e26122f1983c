/**
 * `--max-connections`: how many connections a listening command (`serve`,
 * `connect --listen`) serves at once, and the log of the ones it refuses:
 * one line when the limit is first hit, then a count at most every
 * {@link REFUSAL_REPORT_INTERVAL}, never a line per refused connection.
 */
import { str, UsageError } from './args.js';

/**
 * Default of `--max-connections`: 64 connections at once (systemd's default
 * `MaxConnections=` for sockets that start a service per connection, which is
 * what `serve --exec` does). Each connection costs 2 or 3 file descriptors
 * (a tunnel's two sockets; the client's socket and the command's pipes) and
 * its buffers; 64 of them stay far below the usual limit of 1024 descriptors. Stops a flood of
 * clients from taking every descriptor, the memory, or (with `--exec`) the
 * process table.
 */
export const DEFAULT_MAX_CONNECTIONS = 64;

/** Milliseconds between two counts of refused connections on stderr: 10 s. */
export const REFUSAL_REPORT_INTERVAL = 10_000;

/** The parseArgs spec of the option, spread into the listening commands'. */
export const MAX_CONNECTIONS_OPTION = {
  'max-connections': { type: 'string' },
} as const;

/** `--max-connections N` (a positive whole number), or {@link DEFAULT_MAX_CONNECTIONS}. */
export function readMaxConnections(values: Record<string, unknown>): number {
  const text = str(values, 'max-connections');
  if (text === undefined) return DEFAULT_MAX_CONNECTIONS;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`--max-connections: "${text}" is not a positive whole number`);
  }
  return n;
}

/**
 * Counts connections refused at the limit and reports them on stderr without
 * flooding it: the first refusal is told at once, later ones as a count at
 * most every {@link REFUSAL_REPORT_INTERVAL}, and what is left at `flush()`.
 */
export class RefusalLog {
  readonly #limit: number;
  readonly #log: (line: string) => void;
  readonly #interval: number;
  #told = false;
  #unreported = 0;
  #total = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `interval`: milliseconds between two counts, default {@link REFUSAL_REPORT_INTERVAL}. */
  constructor(limit: number, log: (line: string) => void, interval = REFUSAL_REPORT_INTERVAL) {
    this.#limit = limit;
    this.#log = log;
    this.#interval = interval;
  }

  /** One connection was refused. */
  refused(): void {
    this.#total++;
    if (!this.#told) {
      this.#told = true;
      this.#log(
        `connection limit reached (${this.#limit} at once): refusing new connections until one ends (--max-connections)`,
      );
      return;
    }
    this.#unreported++;
    // Not referenced: a pending count does not keep the process alive.
    this.#timer ??= setTimeout(() => this.#report(), this.#interval).unref();
  }

  /** Writes the count not reported yet (at shutdown). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#report();
  }

  #report(): void {
    this.#timer = undefined;
    if (this.#unreported === 0) return;
    const n = this.#unreported;
    this.#unreported = 0;
    this.#log(
      `${n} more connection${n === 1 ? '' : 's'} refused at the limit of ${this.#limit} (${this.#total} in all)`,
    );
  }
}
