/**
 * Zero loss through our client and our server, 64 MiB in `npm test`
 * (`npm run conformance:slow` moves 1 GiB).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { zeroLoss } from '../../conformance/zero-loss.js';

const MIB = 1024 * 1024;

for (const batchWrites of [true, false]) {
  test(`zero loss${batchWrites ? '' : ' with batchWrites: false on both ends'}: 64 MiB of random messages client -> server -> client, counts and hashes equal at both ends`, async () => {
    const r = await zeroLoss({ totalBytes: 64 * MIB, maxMessage: MIB, seed: 7, batchWrites });
    assert.ok(r.sent.bytes >= 64 * MIB);
    assert.deepEqual(r.relayed, r.sent, 'the server saw something else than was sent');
    assert.deepEqual(r.received, r.sent, 'the client got back something else than it sent');
    // Backpressure on every hop: what is in flight is a few messages plus kernel buffers, never the whole transfer.
    assert.ok(r.maxInFlight < 24 * MIB, `up to ${r.maxInFlight} bytes in flight`);
    assert.ok(
      r.maxServerBuffered <= 3 * MIB + 14,
      `the server held up to ${r.maxServerBuffered} bytes unwritten`,
    );
    assert.deepEqual(r.clientClose, { closeCode: 1005, reason: '' });
    assert.deepEqual(r.serverClose, { closeCode: 1005, reason: '' });
  });
}
