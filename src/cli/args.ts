/**
 * Command-line parsing shared by the commands: node:util's parseArgs, a
 * UsageError for everything that is the caller's mistake (exit code 2), and
 * the parsers of sizes, durations and header lines.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in the command line: reported with a hint, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The options of one command, as parseArgs takes them. */
export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** parseArgs in strict mode, with its errors turned into UsageErrors. */
export function parse<T extends OptionSpec>(
  argv: string[],
  options: T,
): {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
} {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options,
      allowPositionals: true,
      strict: true,
    });
    return {
      values: values,
      positionals,
    };
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * parse() for a command: on `-h`/`--help` writes `help` to `stdout` and
 * returns null (the command exits 0); a command that takes no positional
 * arguments (`maxPositionals` 0) refuses any.
 */
export function parseCommand<T extends OptionSpec>(
  argv: string[],
  options: T,
  help: string,
  stdout: { write(text: string): unknown },
  maxPositionals = Infinity,
): ReturnType<typeof parse> | null {
  const parsed = parse(argv, options);
  if (flag(parsed.values, 'help')) {
    stdout.write(help);
    return null;
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument "${parsed.positionals[maxPositionals]!}"`);
  }
  return parsed;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** A byte count: `65536`, `64k`, `16M`, `1GiB` (units are powers of 1024). */
export function parseSize(value: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
  const unit = m === null ? undefined : SIZE_UNITS[m[2]!.toLowerCase()];
  if (m === null || unit === undefined) {
    throw new UsageError(`${option}: "${value}" is not a size (examples: 65536, 64k, 16M, 1G)`);
  }
  return Math.floor(Number(m[1]) * unit);
}

/** The longest timer Node keeps (2^31 - 1 ms, about 24.8 days); it fires a longer one after 1 ms. */
const MAX_TIMER_MS = 0x7fffffff;

const DURATION_UNITS: Record<string, number> = { '': 1000, ms: 1, s: 1000, m: 60_000 };

/** A duration in milliseconds: `30` or `30s` (seconds), `500ms`, `2m`. */
export function parseDuration(value: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|)$/i.exec(value.trim());
  if (m === null) {
    throw new UsageError(`${option}: "${value}" is not a duration (examples: 30, 30s, 500ms, 2m)`);
  }
  const ms = Number(m[1]) * DURATION_UNITS[m[2]!.toLowerCase()]!;
  // Every duration becomes a timer.
  if (ms > MAX_TIMER_MS) {
    throw new UsageError(
      `${option}: "${value}" is more than ${MAX_TIMER_MS} ms (about 24.8 days), the longest timer`,
    );
  }
  return ms;
}

/** A positive duration (0 is refused: it would mean "at once"). */
export function parsePositiveDuration(value: string, option: string): number {
  const ms = parseDuration(value, option);
  if (!(ms > 0)) throw new UsageError(`${option} must be greater than 0`);
  return ms;
}

/** `Name: value` (as curl and wscat take it). */
export function parseHeader(line: string): [string, string] {
  const colon = line.indexOf(':');
  if (colon <= 0) throw new UsageError(`--header: "${line}" is not "Name: value"`);
  return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
}

/** The contents of a PEM file named on the command line. */
export function readPem(path: string, option: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`${option}: cannot read ${path}: ${reason}`);
  }
}

/** A string option's value (the last one if repeated). */
export function str(values: Record<string, unknown>, name: string): string | undefined {
  const v = values[name];
  if (Array.isArray(v)) return v.length === 0 ? undefined : String(v[v.length - 1]);
  return typeof v === 'string' ? v : undefined;
}

/** A repeatable string option's values. */
export function list(values: Record<string, unknown>, name: string): string[] {
  const v = values[name];
  if (v === undefined) return [];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return typeof v === 'string' ? [v] : [];
}

/** A boolean option. */
export function flag(values: Record<string, unknown>, name: string): boolean {
  return values[name] === true;
}

/**
 * Read-ahead of the connect and serve commands, in bytes of messages (text
 * counted in UTF-8): 64 KiB. Many small messages (lines) are read ahead
 * together, a large one alone, so what waits for stdout or the command is
 * bounded by bytes, not by a number of messages of any size.
 */
export const READ_AHEAD_BYTES = 64 * 1024;
