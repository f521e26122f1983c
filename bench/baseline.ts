/**
 * `npm run bench -- --baseline=REF`: builds wsstream as it was at the git ref
 * REF, so that one run shows the current wsstream and that older build side by
 * side (implementation `wsstream-base`, the same client and server code as
 * `wsstream`, default options). The ref's tree is exported with `git archive`
 * into .tmp/bench-baseline (the work tree is left alone) and compiled there
 * with this checkout's TypeScript and node_modules. A build of the same commit
 * is reused.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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
  const dir = join(root, '.tmp', 'bench-baseline');
  const stamp = join(dir, '.commit');
  if (
    existsSync(stamp) &&
    readFileSync(stamp, 'utf8') === commit &&
    existsSync(join(dir, 'dist/index.js'))
  ) {
    log(`baseline: reusing the build of ${label} in ${dir}`);
    return { dir, label, commit };
  }
  log(`baseline: building ${label} in ${dir}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // git archive | tar -x, without a shell: the archive goes through a buffer.
  const tar = execFileSync('git', ['-C', root, 'archive', '--format=tar', commit], {
    maxBuffer: 1 << 30,
  });
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const tsconfig = existsSync(join(dir, 'tsconfig.build.json'))
    ? 'tsconfig.build.json'
    : 'tsconfig.json';
  try {
    execFileSync(
      process.execPath,
      [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, tsconfig)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (error) {
    // Type errors against today's dependencies still emit JavaScript; only a missing build fails.
    if (!existsSync(join(dir, 'dist/index.js')) || !existsSync(join(dir, 'dist/server.js'))) {
      throw new Error(`--baseline=${ref}: the build failed: ${String(error)}`);
    }
    log(`baseline: tsc reported errors for ${label}; using the JavaScript it emitted`);
  }
  writeFileSync(stamp, commit);
  return { dir, label, commit };
}
