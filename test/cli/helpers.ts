/**
 * Helpers for the CLI tests: the built `wsstream` bin run as a child process.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The bin as package.json declares it (built by `npm test`'s build step). */
export const BIN = join(ROOT, 'dist/cli/main.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds dist/ if it is missing or older than src/ (when a test file is run on its own). */
export function ensureBuilt(): void {
  if (existsSync(BIN) && statSync(BIN).mtimeMs >= newestSource(join(ROOT, 'src'))) return;
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
}

/** Starts `wsstream <args>`. */
export function start(args: string[]): ChildProcess & {
  stdin: NonNullable<ChildProcess['stdin']>;
  stdout: NonNullable<ChildProcess['stdout']>;
  stderr: NonNullable<ChildProcess['stderr']>;
} {
  return spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
}

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `wsstream <args>` to its end, with `input` on stdin (stdin is closed after it). */
export async function run(args: string[], input?: string | Buffer): Promise<Result> {
  const child = start(args);
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  child.stdin.on('error', () => {});
  child.stdin.end(input);
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  return { code, signal, stdout: Buffer.concat(out), stderr: err };
}

/** Resolves with the first match of `pattern` in the child's stderr. */
export function waitForStderr(child: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (c: Buffer): void => {
      text += c.toString();
      const m = pattern.exec(text);
      if (m !== null) {
        child.stderr!.off('data', onData);
        resolve(m);
      }
    };
    child.stderr!.on('data', onData);
    child.once('close', () => reject(new Error(`exited before ${pattern}: ${text}`)));
  });
}

/** A `wsstream` command that runs until stopped (serve, connect --listen), with its stderr log. */
export interface Running {
  child: ReturnType<typeof start>;
  log(): string;
  /** SIGINT, then the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `wsstream <args>` and waits for `ready` in its stderr; resolves with the match. */
export async function startRunning(
  args: string[],
  ready: RegExp,
): Promise<Running & { match: RegExpExecArray }> {
  const child = start(args);
  let log = '';
  child.stderr.on('data', (c: Buffer) => (log += c.toString()));
  const match = await waitForStderr(child, ready);
  return {
    match,
    child,
    log: () => log,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const closed = once(child, 'close');
      child.kill('SIGINT');
      const [code] = (await closed) as [number | null];
      return code;
    },
  };
}

/** A running `wsstream serve`. */
export interface Served extends Running {
  url: string;
}

export async function serveCli(args: string[]): Promise<Served> {
  const { match, ...running } = await startRunning(
    ['serve', '--port', '0', ...args],
    /listening on (wss?:\/\/\S+)/,
  );
  return { url: match[1]!, ...running };
}

/** A field of /proc/<pid>/status in bytes (VmRSS, VmHWM). */
export function procStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
    readFileSync(`/proc/${pid}/status`, 'utf8'),
  );
  if (m === null) throw new Error(`no ${field} for ${pid}`);
  return Number(m[1]) * 1024;
}

/**
 * Resolves once `sample()` has not changed over `looks` consecutive looks,
 * `everyMs` apart (a flow has stopped).
 */
export async function settled(sample: () => number, looks = 5, everyMs = 50): Promise<number> {
  let last = sample();
  let same = 0;
  while (same < looks) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    const now = sample();
    if (now === last) same++;
    else {
      same = 0;
      last = now;
    }
  }
  return last;
}
