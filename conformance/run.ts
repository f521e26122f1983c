/**
 * The conformance runner.
 *
 *   npm run conformance               every case of `npm test`, with a results table
 *   npm run conformance:slow          the slow subset: 16 MiB chopped, 64 MiB messages,
 *                                     1 M messages, every valid close code, 1 GiB zero loss
 *   npm run conformance -- --all      both
 *   ... -- --category 6 --under server --verbose
 */
import { categoryOf, type Case } from './case.js';
import { allCases } from './cases/index.js';
import type { Under } from './peer.js';
import { runCases } from './runner.js';
import { userSpaceBound, zeroLoss } from './zero-loss.js';

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const value = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

const slow = flag('--slow');
const all = flag('--all');
const verbose = flag('--verbose');
const category = value('--category');
const underArg = value('--under');
const unders: Under[] = underArg === undefined ? ['client', 'server'] : [underArg as Under];

const selected: Case[] = allCases.filter(
  (c) =>
    (all || (c.slow === true) === slow) &&
    (category === undefined || categoryOf(c) === Number(category)),
);

const start = performance.now();
let failures = 0;
console.log(
  `conformance: ${selected.length} cases against our ${unders.join(' and our ')}${slow ? ' (slow subset)' : ''}`,
);
const { tallies } = await runCases(
  selected,
  (c, r) => {
    if (!r.ok) {
      failures++;
      console.log(
        `FAIL ${c.id} our ${r.under}: ${c.title}\n     expected: ${c.expected}\n     rule: ${c.rule}\n     ${r.error}`,
      );
    } else if (verbose) {
      console.log(`ok   ${c.id} our ${r.under}: ${c.title} (${Math.round(r.ms)} ms)`);
    }
  },
  unders,
);

console.log('\n| Category | Cases | Runs (client + server) | Passed |');
console.log('| --- | ---: | ---: | ---: |');
let cases = 0;
let runs = 0;
let passed = 0;
for (const t of tallies) {
  console.log(`| ${t.category} ${t.name} | ${t.cases} | ${t.runs} | ${t.passed} |`);
  cases += t.cases;
  runs += t.runs;
  passed += t.passed;
}
console.log(`| **Total** | **${cases}** | **${runs}** | **${passed}** |`);
console.log(`\n${Math.round((performance.now() - start) / 1000)} s`);

if ((slow || all) && category === undefined) {
  const GIB = 1024 * 1024 * 1024;
  console.log('\nzero loss: 1 GiB of random messages, client -> server -> client');
  const r = await zeroLoss({
    totalBytes: GIB,
    maxMessage: 4 * 1024 * 1024,
    seed: 2026,
    onProgress: (bytes) => process.stdout.write(`  ${Math.round(bytes / 1048576)} MiB back\r`),
  });
  const same =
    JSON.stringify(r.sent) === JSON.stringify(r.relayed) &&
    JSON.stringify(r.sent) === JSON.stringify(r.received);
  console.log(
    `  sent     ${r.sent.messages} messages, ${r.sent.bytes} bytes, sha256 ${r.sent.hash}\n` +
      `  relayed  ${r.relayed.messages} messages, ${r.relayed.bytes} bytes, sha256 ${r.relayed.hash}\n` +
      `  received ${r.received.messages} messages, ${r.received.bytes} bytes, sha256 ${r.received.hash}\n` +
      `  most bytes in flight ${r.maxInFlight} (kernel buffers may hold ${r.kernelBound}), ` +
      `most held by wsstream ${r.maxUserSpace} (bound ${userSpaceBound(4 * 1024 * 1024, r.sent.messages)}), ` +
      `most unwritten at the server ${r.maxServerBuffered}\n` +
      `  close: client ${JSON.stringify(r.clientClose)}, server ${JSON.stringify(r.serverClose)}\n` +
      `  ${same ? 'ZERO LOSS' : 'LOSS OR CORRUPTION'} in ${Math.round(r.ms / 1000)} s`,
  );
  // What wsstream holds in user space is the claim; the kernel's share depends on the machine.
  const bound = userSpaceBound(4 * 1024 * 1024, r.sent.messages);
  if (!same || r.maxUserSpace > bound || r.maxInFlight > bound + r.kernelBound) failures++;
}

process.exitCode = failures === 0 ? 0 : 1;
