/**
 * Prints where the time of a V8 CPU profile (.cpuprofile, from
 * `node --cpu-prof` or `npm run bench -- --cpu-prof`) goes: self time by
 * function, the top entries.
 *
 *   node .tmp/bench-build/profile-summary.js .tmp/prof/CPU.*.cpuprofile [top]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const files = process.argv.slice(2).filter((a) => !/^\d+$/.test(a));
const top = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 25);
for (const file of files) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]!)!;
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|dist|bench-build)\//, '$1/')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`);
  const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [key, t] of rows) {
    console.log(
      `${((t / total) * 100).toFixed(1).padStart(5)}%  ${(t / 1000).toFixed(0).padStart(6)} ms  ${key}`,
    );
  }
}
