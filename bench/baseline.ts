/**
 * `npm run bench -- --baseline=REF`: builds wsstream as it was at the git ref
 * REF, so that one run shows the current wsstream and that older build side by
 * side (implementation `wsstream-base`, the same client and server code as
 * `wsstream`, default options). The ref's tree is exported with `git archive`
 * into .tmp/bench-baseline/<commit> (the work tree is left alone) and compiled
 * there with this checkout's TypeScript and node_modules. A build of the same
 * commit is reused. Runs at the same time (the test matrix runs two runtimes
 * side by side in one checkout) each build in a directory of their own and
 * move it into place whole; the first to finish wins, the other uses its build.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

/** A built baseline: where it is, and how the tables name it. */
export interface Baseline {
  /** The directory holding the baseline's package.json and dist/. */
  dir: string;
  /** The abbreviated commit and the ref as given, e.g. "f3d4370 (main~3)". */
  label: string;
  commit: string;
}

export function buildBaseline(root: string, ref: string, log: (line: string) => void): Baseline {
  const git = (...argv: string[]): string =>
    execFileSync('git', ['-C', root, ...argv], { encoding: 'utf8' }).trim();
  let commit: string;
  try {
    commit = git('rev-parse', '--verify', `${ref}^{commit}`);
  } catch {
    throw new Error(`--baseline=${ref}: not a commit in this repository`);
  }
  const short = git('rev-parse', '--short', commit);
  const label = short === ref ? short : `${short} (${ref})`;
  const dir = join(root, '.tmp', 'bench-baseline', commit);
  const built = (d: string): boolean =>
    existsSync(join(d, 'dist/index.js')) && existsSync(join(d, 'dist/server.js'));
  if (built(dir)) {
    log(`baseline: reusing the build of ${label} in ${dir}`);
    return { dir, label, commit };
  }
  log(`baseline: building ${label} in ${dir}`);
  const work = `${dir}.building-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    // git archive | tar -x, without a shell: the archive goes through a buffer.
    const tar = execFileSync('git', ['-C', root, 'archive', '--format=tar', commit], {
      maxBuffer: 1 << 30,
    });
    execFileSync('tar', ['-x', '-C', work], { input: tar });
    symlinkSync(join(root, 'node_modules'), join(work, 'node_modules'), 'dir');
    const tsconfig = existsSync(join(work, 'tsconfig.build.json'))
      ? 'tsconfig.build.json'
      : 'tsconfig.json';
    try {
      execFileSync(
        process.execPath,
        [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(work, tsconfig)],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
    } catch (error) {
      // Type errors against today's dependencies still emit JavaScript; only a missing build fails.
      if (!built(work)) throw new Error(`--baseline=${ref}: the build failed: ${String(error)}`);
      log(`baseline: tsc reported errors for ${label}; using the JavaScript it emitted`);
    }
    // The directory only ever appears whole, by this rename.
    try {
      renameSync(work, dir);
    } catch (error) {
      // Another run moved its build into place first: use that one.
      if (!built(dir)) throw error;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { dir, label, commit };
}
