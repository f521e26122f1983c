/**
 * `npm run fuzz`: every property of properties.ts with many more runs.
 *
 *   npm run fuzz                       100,000 runs per property
 *   FUZZ_RUNS=1000000 npm run fuzz     more
 *   FUZZ_SEED=42 npm run fuzz          reproduce a run
 *   npm run fuzz -- utf8               only properties whose name contains "utf8"
 */
import { properties } from './properties.js';

const runs = Number(process.env.FUZZ_RUNS ?? 100_000);
const seed =
  process.env.FUZZ_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FUZZ_SEED);
const filter = process.argv[2];

console.log(`fuzz: ${runs} runs per property, seed ${seed}`);
let failed = 0;
for (const p of properties) {
  if (filter !== undefined && !p.name.includes(filter)) continue;
  const start = performance.now();
  try {
    p.run(runs, seed);
    console.log(`ok    ${p.name} (${Math.round(performance.now() - start)} ms)`);
  } catch (error) {
    failed++;
    console.log(`FAIL  ${p.name}\n${error instanceof Error ? error.message : String(error)}`);
  }
}
process.exitCode = failed === 0 ? 0 : 1;
