/**
 * The benchmark script starts and prints a table (numbers are never asserted).
 * Needs the built dist/ (npm test builds it first).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { balancedRuns, rotated } from '../../bench/order.js';

const run = promisify(execFile);

test('bench --quick --only=a prints a table with a wsstream column', async () => {
  await run('npx', ['tsc', '-p', 'bench/tsconfig.json'], { timeout: 60_000 });
  const { stdout } = await run(
    'node',
    ['.tmp/bench-build/run.js', '--quick', '--only=a', '--impls=wsstream,ws+bufferutil'],
    { timeout: 60_000 },
  );
  assert.match(stdout, /^Machine: /m);
  assert.match(stdout, /^\| scenario \| wsstream \| ws\+bufferutil \|/m);
  assert.match(
    stdout,
    /^\| \(a\) echo 64 B, window 100, msg\/s \| [\d,]+ \(\d\.\d\d\) \| [\d,]+ \(\d\.\d\d\) \|/m,
  );
  // Client CPU and write system calls per message (Linux tells the latter): ws makes
  // one per message; wsstream batches the small writes of a turn by default, so fewer.
  assert.match(stdout, /^\| \(a\) echo, client CPU, µs\/msg \| [\d.,]+ \(\d\.\d\d\) \|/m);
  const calls =
    /^\| \(a\) echo, client write calls, \/msg \| (\d\.\d\d) \(\d\.\d\d\) \| 1\.00 \(\d\.\d\d\) \|/m.exec(
      stdout,
    );
  assert.ok(calls !== null, 'a write-calls row for both');
  assert.ok(Number(calls[1]) < 1, `wsstream batches small writes: ${calls[1]} calls per message`);
  assert.match(stdout, /^### Targets/m);
});

test('bench --quick --only=b prints the ping-pong rows, warm-up included', async () => {
  await run('npx', ['tsc', '-p', 'bench/tsconfig.json'], { timeout: 60_000 });
  const { stdout } = await run(
    'node',
    ['.tmp/bench-build/run.js', '--quick', '--only=b', '--runs=1', '--impls=wsstream,ws'],
    { timeout: 60_000 },
  );
  for (const label of [
    '\\(b\\) ping-pong p50, µs',
    '\\(b\\) ping-pong p99, µs',
    '\\(b\\) ping-pong p99 while warming up \\(round trips 1,001-5,000\\), µs',
  ]) {
    assert.match(
      stdout,
      new RegExp(`^\\| ${label} \\| [\\d.,]+ \\(\\d\\.\\d\\d\\) \\| [\\d.,]+ \\(`, 'm'),
    );
  }
});

test('bench --only=h prints the streams floor of the runtime', async () => {
  await run('npx', ['tsc', '-p', 'bench/tsconfig.json'], { timeout: 60_000 });
  const { stdout } = await run('node', ['.tmp/bench-build/run.js', '--only=h', '--runs=1'], {
    timeout: 60_000,
  });
  assert.match(stdout, /^### \(h\) The runtime's floor: WHATWG streams alone \(Node v\d+/m);
  assert.match(stdout, /^\| read \+ write per message, one stream pair, ns \| [\d,]+ \|/m);
  assert.match(
    stdout,
    /^\| heap of one readable \+ writable pair piped together, bytes \| [\d,]+ \|/m,
  );
  assert.match(
    stdout,
    /^\| heap of one readable \+ writable pair with a reader and a writer, bytes \| [\d,]+ \|/m,
  );
  assert.match(
    stdout,
    /^\| time to make a readable \+ writable pair and lock both, µs \| [\d.,]+ \|/m,
  );
});

test('bench --quick --only=j negotiates permessage-deflate and prints the compressed rows', async () => {
  await run('npx', ['tsc', '-p', 'bench/tsconfig.json'], { timeout: 60_000 });
  const { stdout } = await run(
    'node',
    ['.tmp/bench-build/run.js', '--quick', '--only=j', '--impls=wsstream,ws+bufferutil'],
    { timeout: 240_000 },
  );
  const cell = String.raw`[\d.,]+ \(\d\.\d\d\)`;
  assert.match(
    stdout,
    new RegExp(
      String.raw`^\| \(j\) deflate echo 4 KiB JSON, window 100, msg/s \| ${cell} \| ${cell} \|`,
      'm',
    ),
  );
  assert.match(
    stdout,
    new RegExp(
      String.raw`^\| \(j\) deflate download 8 MiB as 16 KiB JSON, MB/s \| ${cell} \| ${cell} \|`,
      'm',
    ),
  );
  assert.match(
    stdout,
    new RegExp(
      String.raw`^\| \(j\) server, 50 idle compressed connections, server RSS, MB \| ${cell} \| ${cell} \|`,
      'm',
    ),
  );
  // Both clients and the fixed client of each server agreed to compression.
  assert.match(stdout, /^- wsstream client: `permessage-deflate/m);
  assert.match(stdout, /^- ws\+bufferutil client: `permessage-deflate/m);
  assert.match(stdout, /^- ws client of wsstream server: `permessage-deflate/m);
  assert.doesNotMatch(stdout, /FAILED/);
});

test('bench --baseline=HEAD runs a build of the ref beside wsstream and prints the ratios', async () => {
  await run('npx', ['tsc', '-p', 'bench/tsconfig.json'], { timeout: 60_000 });
  const { stdout } = await run(
    'node',
    ['.tmp/bench-build/run.js', '--quick', '--only=a', '--impls=wsstream', '--baseline=HEAD'],
    { timeout: 240_000 },
  );
  const head = (await run('git', ['rev-parse', '--short', 'HEAD'])).stdout.trim();
  assert.match(
    stdout,
    new RegExp(String.raw`^\| scenario \| wsstream \| wsstream @ ${head} \(HEAD\) \|`, 'm'),
  );
  assert.match(
    stdout,
    new RegExp(String.raw`^### wsstream against the baseline ${head} \(HEAD\)`, 'm'),
  );
  assert.match(
    stdout,
    /^\| \(a\) echo 64 B, window 100, msg\/s \| [\d,]+ \| [\d,]+ \| \d+\.\d\d \| [+-]\d+\.\d% (better|same|WORSE) \|/m,
  );
});

test('the runs rotate the order, then reverse it: each implementation first and before each other equally', () => {
  const list = ['a', 'b', 'c'];
  const orders = [1, 2, 3, 4, 5, 6].map((run) => rotated(list, run).join(''));
  assert.deepEqual(orders, ['abc', 'bca', 'cab', 'cba', 'acb', 'bac']);
  assert.equal(rotated(list, 7).join(''), 'abc');
  for (const x of list)
    for (const y of list) {
      if (x === y) continue;
      const before = orders.filter((o) => o.indexOf(x) < o.indexOf(y)).length;
      assert.equal(before, 3, `${x} before ${y}`);
    }
  // Two builds: balanced after every even number of runs.
  assert.deepEqual(
    [1, 2, 3, 4].map((run) => rotated(['new', 'base'], run)[0]),
    ['new', 'base', 'base', 'new'],
  );
  assert.deepEqual(rotated([], 2), []);
  assert.equal(balancedRuns(3, 2), 4);
  assert.equal(balancedRuns(4, 2), 4);
  assert.equal(balancedRuns(1, 2), 2);
  assert.equal(balancedRuns(5, 1), 5);
});
