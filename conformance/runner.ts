/**
 * Runs conformance cases against our client and our server, one fresh
 * connection per case, and tallies the results by category.
 */
import { categoryOf, CATEGORIES, type Case } from './case.js';
import type { Under } from './peer.js';
import { closeTargets, openTarget } from './targets.js';

/** Default of {@link Case.timeout}: 15 s. */
export const DEFAULT_CASE_TIMEOUT = 15_000;

export interface CaseResult {
  id: string;
  under: Under;
  ok: boolean;
  /** Why it failed. */
  error?: string;
  ms: number;
}

/** Runs one case against one implementation. Never throws: a failure is a result. */
export async function runCase(c: Case, under: Under): Promise<CaseResult> {
  const start = performance.now();
  const timeout = c.timeout ?? DEFAULT_CASE_TIMEOUT;
  let peer: Awaited<ReturnType<typeof openTarget>> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      (async () => {
        peer = await openTarget(under, c.options);
        await c.run(peer);
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Case timed out after ${timeout} ms`)), timeout);
      }),
    ]);
    return { id: c.id, under, ok: true, ms: performance.now() - start };
  } catch (error) {
    return {
      id: c.id,
      under,
      ok: false,
      error: error instanceof Error ? error.message : String(error),
      ms: performance.now() - start,
    };
  } finally {
    clearTimeout(timer);
    peer?.destroy();
  }
}

/** The targets a case runs against. */
export function undersOf(c: Case): Under[] {
  return c.targets ?? ['client', 'server'];
}

export interface Tally {
  category: number;
  name: string;
  cases: number;
  /** Runs: a case counts once per implementation it runs against. */
  runs: number;
  passed: number;
}

/** Runs `cases` in order against both implementations; `onResult` sees each result as it comes. */
export async function runCases(
  cases: readonly Case[],
  onResult: (c: Case, r: CaseResult) => void = () => {},
  unders: readonly Under[] = ['client', 'server'],
): Promise<{ results: CaseResult[]; tallies: Tally[] }> {
  const results: CaseResult[] = [];
  const tallies = new Map<number, Tally>();
  try {
    for (const c of cases) {
      const cat = categoryOf(c);
      let t = tallies.get(cat);
      if (t === undefined) {
        t = { category: cat, name: CATEGORIES[cat] ?? '?', cases: 0, runs: 0, passed: 0 };
        tallies.set(cat, t);
      }
      t.cases++;
      for (const under of undersOf(c)) {
        if (!unders.includes(under)) continue;
        const r = await runCase(c, under);
        results.push(r);
        t.runs++;
        if (r.ok) t.passed++;
        onResult(c, r);
      }
    }
  } finally {
    await closeTargets();
  }
  return { results, tallies: [...tallies.values()].sort((a, b) => a.category - b.category) };
}
