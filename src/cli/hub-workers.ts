/**
 * `serve --workers N`: N processes on one port with node:cluster (the
 * primary accepts nothing itself; the operating system and the cluster
 * module spread connections over the workers). With `--broadcast` and no
 * `--redis`, the primary relays hub messages between the workers
 * (`clusterRelay()`), so one machine needs nothing else; with `--redis`, each
 * worker joins Redis itself and the primary relays nothing.
 *
 * SIGINT or SIGTERM: every worker drains (1001 Going Away), then the primary
 * exits 0. A worker that dies otherwise is started again after a second.
 */
import cluster, { type Worker } from 'node:cluster';
import { clusterRelay } from '../hub/index.js';
import { ExitCode } from './exit-codes.js';

/** Largest `--workers`: more processes than this on one machine is a typo, not a deployment. */
export const MAX_WORKERS = 256;

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
  const fork = (): void => {
    const worker = cluster.fork();
    live.add(worker);
    worker.once('exit', (code, signal) => {
      live.delete(worker);
      if (stopping) return;
      o.log(`worker ${worker.id} exited (${signal ?? code}); starting another`);
      setTimeout(() => {
        if (!stopping) fork();
      }, 1000).unref();
    });
  };
  for (let i = 0; i < o.workers; i++) fork();
  o.log(
    `started ${o.workers} workers${o.relay ? ' (the primary relays --broadcast between them)' : ''}`,
  );

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  stopping = true;
  const exited = [...live].map(
    (w) =>
      new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))),
  );
  for (const w of live) w.process.kill('SIGTERM');
  await Promise.all(exited);
  stopRelay?.();
  return ExitCode.OK;
}
