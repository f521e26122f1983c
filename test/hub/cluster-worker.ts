/**
 * A node:cluster worker for test/hub/cluster.test.ts: builds clusterBroker()
 * with the primary's choice of `maxPendingBytes` values and reports what
 * each did, then publishes a burst through a broker bounded at 1000 bytes
 * and reports how the publishes settled.
 */
import { clusterBroker, Hub, HubError } from '../../src/hub/index.js';

const bad = [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '1000' as unknown as number];
const refusals = bad.map((value) => {
  try {
    clusterBroker({ maxPendingBytes: value })
      .close()
      .catch(() => {});
    return 'accepted';
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
});

const hub = new Hub({ broker: clusterBroker({ maxPendingBytes: 1000 }) });
const settled = await Promise.allSettled(
  [...Array(20)].map(() => hub.publish('t', new Uint8Array(200))),
);
const outcomes = settled.map((r) =>
  r.status === 'fulfilled' ? 'ok' : r.reason instanceof HubError ? r.reason.code : 'other',
);
await hub.close();
process.send!({ refusals, outcomes }, () => process.disconnect());
