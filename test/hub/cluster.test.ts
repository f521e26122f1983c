/**
 * clusterBroker() and clusterRelay(): `maxPendingBytes` is checked (a
 * positive finite number of bytes, RangeError naming it otherwise), in the
 * primary and in a real node:cluster worker, and the bound it sets holds
 * there (publishes past it reject with BROKER_BACKLOG).
 */
import assert from 'node:assert/strict';
import cluster from 'node:cluster';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { clusterBroker, clusterRelay, DEFAULT_MAX_IPC_PENDING_BYTES } from '../../src/hub/index.js';

const BAD = [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '1000' as unknown as number];
interface Report {
  refusals: string[];
  outcomes: string[];
}

const REFUSED = /^maxPendingBytes must be a positive number of bytes, not /;

describe('cluster broker: maxPendingBytes', () => {
  test('clusterRelay() refuses a bound that is not a positive finite number', () => {
    for (const value of BAD) {
      assert.throws(() => clusterRelay({ maxPendingBytes: value }), {
        name: 'RangeError',
        message: REFUSED,
      });
    }
    // Refused before it listens: nothing left on the cluster.
    assert.equal(cluster.listenerCount('message'), 0);
    const stop = clusterRelay({ maxPendingBytes: 1 });
    assert.equal(stop(), 0);
  });

  test('clusterRelay() without advanced serialization: a warning, once, instead of relaying nothing in silence', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      if (w.name === 'WsstreamHubWarning') warnings.push(w);
    };
    process.on('warning', onWarning);
    const stop = clusterRelay();
    try {
      // What a worker's publish becomes over a JSON channel: its bytes as { type: 'Buffer', data }.
      const jsonified = { wsstreamHub: 1, topic: 't', data: { type: 'Buffer', data: [1, 2] } };
      cluster.emit('message', {}, jsonified);
      cluster.emit('message', {}, jsonified);
      cluster.emit('message', {}, { other: 'message' });
      await new Promise((r) => setImmediate(r));
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!.message, /serialization: 'advanced'/);
    } finally {
      stop();
      process.off('warning', onWarning);
    }
  });

  test('clusterBroker() names the bad bound before it looks for a worker', () => {
    for (const value of BAD) {
      assert.throws(() => clusterBroker({ maxPendingBytes: value }), {
        name: 'RangeError',
        message: REFUSED,
      });
    }
    // A good bound (or the default) gets to the next check: this process is no worker.
    assert.throws(() => clusterBroker({ maxPendingBytes: 1000 }), /node:cluster worker/);
    assert.throws(() => clusterBroker(), /node:cluster worker/);
    assert.equal(DEFAULT_MAX_IPC_PENDING_BYTES, 8 * 1024 * 1024);
  });

  test('in a worker: bad bounds refused, a bound of 1000 bytes rejects a burst past it', async () => {
    cluster.setupPrimary({
      exec: fileURLToPath(new URL('./cluster-worker.ts', import.meta.url)),
      execArgv: ['--import', 'tsx'],
      serialization: 'advanced',
      silent: true,
    });
    const stop = clusterRelay();
    const worker = cluster.fork();
    try {
      // The worker's publishes come this way too: wait for its report.
      const report = await new Promise<Report>((resolve) => {
        worker.on('message', (m: unknown) => {
          if (typeof m === 'object' && m !== null && 'refusals' in m) resolve(m as Report);
        });
      });
      assert.equal(report.refusals.length, BAD.length);
      for (const refusal of report.refusals) assert.match(refusal, /^RangeError: maxPendingBytes/);
      // 20 publishes of 200 bytes (217 with the envelope) at once: the first
      // few fit in 1000 bytes, the rest are refused until the channel drains.
      const ok = report.outcomes.filter((o) => o === 'ok').length;
      const backlog = report.outcomes.filter((o) => o === 'BROKER_BACKLOG').length;
      assert.equal(ok + backlog, 20, report.outcomes.join(' '));
      assert.ok(ok >= 1 && ok <= 5, `${ok} accepted`);
      assert.ok(backlog >= 15, `${backlog} refused`);
    } finally {
      if (!worker.isDead()) {
        worker.kill();
        await once(worker, 'exit');
      }
      stop();
    }
  });
});
