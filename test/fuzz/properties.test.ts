/**
 * The fuzz properties of fuzz/properties.ts, briefly (`npm run fuzz` runs them
 * much longer). FUZZ_SEED reproduces a run.
 */
import { test } from 'node:test';
import { properties } from '../../fuzz/properties.js';

const RUNS = 300;
const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

for (const p of properties) {
  test(p.name, () => {
    p.run(RUNS, seed);
  });
}
