/**
 * `serve --workers N`: N processes on one port with node:cluster (the
 * primary accepts nothing itself; the operating system and the cluster
 * module spread connections over the workers). With `--broadcast` and no
 * `--redis`, the primary relays hub messages between the workers
 * (`clusterRelay()`), so one machine needs nothing else; with `--redis`, each
 * worker joins Redis itself and the primary relays nothing.
 *
 * SIGINT, SIGTERM or SIGHUP: the primary asks every worker to drain (1001
 * Going Away) over IPC, then exits 0; a second signal makes them end at once
 * (130). Requests over IPC, not signals: a worker may get the same signal
 * itself (a terminal's Ctrl-C reaches the whole process group), in either
 * order with the primary's request, and only its own signals count as
 * first and second. A worker that
 * dies after it was listening is started again after a second; one that
 * dies before (the port is taken, a certificate is unreadable) is not, and
 * when no worker is left the primary exits 1.
 *
 * With `--port 0` the workers share the port the first one got, as long as
 * one of them is listening; once none is, node:cluster closes that socket,
 * and a worker started then listening on port 0 would get another port.
 * Workers started with no other worker alive are told the port instead
 * (WORKER_PORT_ENV), and so are all after them.
 */
import cluster, { type Worker } from 'node:cluster';
import { clusterRelay } from '../hub/index.js';
import { ExitCode } from './exit-codes.js';

/** Largest `--workers`: more processes than this on one machine is a typo, not a deployment. */
export const MAX_WORKERS = 256;

/** The port a worker listens on in place of `--port 0`: the one its predecessors had. */
export const WORKER_PORT_ENV = 'WSSTREAM_WORKER_PORT';

/** What the primary asks a worker over IPC: to drain (a first signal), or to end at once (a second). */
export type PrimaryRequest = 'shutdown' | 'interrupt';

/** The primary's request in an IPC message, if it is one. */
export function primaryRequest(message: unknown): PrimaryRequest | null {
  const request =
    typeof message === 'object' && message !== null
      ? (message as { wsstreamCli?: unknown }).wsstreamCli
      : undefined;
  return request === 'shutdown' || request === 'interrupt' ? request : null;
}

function ask(worker: Worker, request: PrimaryRequest): void {
  if (worker.isConnected()) worker.send({ wsstreamCli: request });
  else worker.process.kill('SIGTERM');
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Runs the cluster primary until a signal; resolves with the exit code. */
export async function runPrimary(o: {
  workers: number;
  relay: boolean;
  log: (line: string) => void;
}): Promise<number> {
  // Bytes cross IPC as bytes (the default JSON serialization would turn them into arrays of numbers).
  cluster.setupPrimary({ serialization: 'advanced' });
  const stopRelay = o.relay
    ? clusterRelay({ onSkip: (w) => o.log(`worker ${w.id} is behind: skipped a message for it`) })
    : null;
  let stopping = false;
  const live = new Set<Worker>();
  const restarts = new Set<ReturnType<typeof setTimeout>>();
  let stop!: (code: number) => void;
  const stopped = new Promise<number>((resolve) => (stop = resolve));
  /** The port the first worker listened on. */
  let boundPort: number | undefined;
  /** Told to every worker from the first one started with no other alive on. */
  let fixedPort: number | undefined;
  const fork = (): void => {
    if (fixedPort === undefined && boundPort !== undefined && live.size === 0)
      fixedPort = boundPort;
    const worker = cluster.fork(
      fixedPort === undefined ? undefined : { [WORKER_PORT_ENV]: String(fixedPort) },
    );
    let listening = false;
    live.add(worker);
    worker.once('listening', (address: { port?: number }) => {
      listening = true;
      boundPort ??= address.port;
    });
    worker.once('exit', (code, signal) => {
      live.delete(worker);
      if (stopping) return;
      if (!listening) {
        // It would fail the same way again: no restart loop.
        o.log(`worker ${worker.id} exited (${signal ?? code}) before it was listening`);
      } else {
        o.log(`worker ${worker.id} exited (${signal ?? code}); starting another`);
        const timer = setTimeout(() => {
          restarts.delete(timer);
          if (!stopping) fork();
        }, 1000);
        restarts.add(timer);
      }
      if (live.size === 0 && restarts.size === 0) {
        o.log('no worker is left');
        stop(ExitCode.ERROR);
      }
    });
  };
  for (let i = 0; i < o.workers; i++) fork();
  o.log(
    `started ${o.workers} workers${o.relay ? ' (the primary relays --broadcast between them)' : ''}`,
  );

  const onSignal = (): void => {
    if (stopping) {
      for (const w of live) ask(w, 'interrupt');
      return;
    }
    stopping = true;
    for (const timer of restarts) clearTimeout(timer);
    restarts.clear();
    for (const w of live) ask(w, 'shutdown');
    const exits = [...live].map(
      (w) =>
        new Promise<number | null>((resolve) =>
          w.isDead() ? resolve(w.process.exitCode) : w.once('exit', (code) => resolve(code)),
        ),
    );
    void Promise.all(exits).then((codes) =>
      stop(codes.includes(ExitCode.INTERRUPTED) ? ExitCode.INTERRUPTED : ExitCode.OK),
    );
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  const code = await stopped;
  for (const signal of SIGNALS) process.off(signal, onSignal);
  stopping = true;
  for (const w of live) w.process.kill('SIGTERM');
  stopRelay?.();
  return code;
}
