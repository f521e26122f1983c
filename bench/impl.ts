/**
 * Where the wsstream under test comes from: `wsstream` and `wsstream-exact`
 * load this checkout's dist/ (through the package's own exports);
 * `wsstream-base` loads the baseline build that run.ts made of another git
 * ref (`--baseline=REF`), whose directory it passes in WSSTREAM_BASE_DIR.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Is `impl` one of the wsstream builds (current or baseline)? */
export const isWsstream = (impl: string): boolean => impl.startsWith('wsstream');

function baseDir(): string {
  const dir = process.env.WSSTREAM_BASE_DIR;
  if (dir === undefined || dir === '') throw new Error('wsstream-base needs WSSTREAM_BASE_DIR');
  return dir;
}

/** The client entry point (`wsstream`) of the build `impl` runs. */
export async function clientModule(impl: string): Promise<typeof import('wsstream')> {
  if (impl !== 'wsstream-base') return import('wsstream');
  return (await import(
    pathToFileURL(join(baseDir(), 'dist/index.js')).href
  )) as typeof import('wsstream');
}

/** The server entry point (`wsstream/server`) of the build `impl` runs. */
export async function serverModule(impl: string): Promise<typeof import('wsstream/server')> {
  if (impl !== 'wsstream-base') return import('wsstream/server');
  return (await import(
    pathToFileURL(join(baseDir(), 'dist/server.js')).href
  )) as typeof import('wsstream/server');
}
