/**
 * Zero loss through our client and our server, 64 MiB in `npm test`
 * (`npm run conformance:slow` moves 1 GiB).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { userSpaceBound, zeroLoss } from '../../conformance/zero-loss.js';

const MIB = 1024 * 1024;

for (const batchWrites of [true, false]) {
  test(`zero loss${batchWrites ? '' : ' with batchWrites: false on both ends'}: 64 MiB of random messages client -> server -> client, counts and hashes equal at both ends`, async () => {
    const r = await zeroLoss({ totalBytes: 64 * MIB, maxMessage: MIB, seed: 7, batchWrites });
    assert.ok(r.sent.bytes >= 64 * MIB);
    assert.deepEqual(r.relayed, r.sent, 'the server saw something else than was sent');
    assert.deepEqual(r.received, r.sent, 'the client got back something else than it sent');
    // Backpressure on every hop: what wsstream holds in user space, at both
    // ends together, is a few messages and socket reads, never the whole transfer.
    const bound = userSpaceBound(MIB, r.sent.messages);
    assert.ok(bound < 24 * MIB, `a bound of ${bound} bytes means something for 64 MiB`);
    assert.ok(
      r.maxUserSpace <= bound,
      `wsstream held up to ${r.maxUserSpace} bytes (bound ${bound})`,
    );
    // Everything else in flight sits in the kernel's buffers, bounded by this machine's TCP limits.
    assert.ok(
      r.maxInFlight <= bound + r.kernelBound,
      `up to ${r.maxInFlight} bytes in flight; user space bound ${bound}, kernel ${r.kernelBound}`,
    );
    assert.ok(
      r.maxServerBuffered <= 3 * MIB + 14,
      `the server held up to ${r.maxServerBuffered} bytes unwritten`,
    );
    assert.deepEqual(r.clientClose, { closeCode: 1005, reason: '' });
    assert.deepEqual(r.serverClose, { closeCode: 1005, reason: '' });
  });
}
