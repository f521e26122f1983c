/**
 * Registers one node:test test per conformance case and implementation: the
 * cases of `category`, or `only.cases` of it (a category split over files).
 * Slow cases are left to `npm run conformance:slow`.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { CATEGORIES, type Case } from '../../conformance/case.js';
import { casesOf } from '../../conformance/cases/index.js';
import { runCase, undersOf } from '../../conformance/runner.js';
import { closeTargets } from '../../conformance/targets.js';

export function conformanceSuite(
  category: number,
  only?: { label: string; cases: readonly Case[] },
): void {
  const cases = (only?.cases ?? casesOf(category)).filter((c) => c.slow !== true);
  const label = only === undefined ? '' : ` (${only.label})`;
  describe(`conformance ${category}: ${CATEGORIES[category]}${label}`, () => {
    after(closeTargets);
    for (const c of cases) {
      for (const under of undersOf(c)) {
        test(`${c.id} our ${under}: ${c.title} -> ${c.expected}`, async () => {
          const r = await runCase(c, under);
          assert.ok(r.ok, `${c.id} against our ${under}: ${r.error}\n  rule: ${c.rule}`);
        });
      }
    }
  });
}
