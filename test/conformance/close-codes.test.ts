/**
 * Category 7 exhaustively at the core: every one of the 65,536 close codes
 * in a Close frame, checked against RFC 6455 7.4 (the wire cases in
 * conformance/cases/close.ts sample the boundaries through the whole stack).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Connection } from '../../src/core/connection.js';
import { writeFrame, Op, closePayload, WireReader, closeCodeOf } from '../../conformance/wire.js';

function allowed(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999)
  );
}

test('every close code 0-65535: allowed ones are echoed, every other fails the connection with 1002', () => {
  const key = Uint8Array.of(9, 8, 7, 6);
  let echoed = 0;
  let failed = 0;
  for (let code = 0; code <= 0xffff; code++) {
    const conn = new Connection({ role: 'server' });
    conn.receiveData(writeFrame({ opcode: Op.CLOSE, payload: closePayload(code, 'r'), mask: key }));
    const events = conn.takeEvents();
    // The transport's part: fail the connection at a violation (queues the Close).
    const violation = events[0];
    if (violation?.type === 'violation') conn.fail(violation.error);
    const reader = new WireReader();
    for (const chunk of conn.takeOutgoing()) reader.push(chunk);
    const answer = reader.next();
    assert.equal(answer?.opcode, Op.CLOSE, `code ${code}: no Close sent`);
    if (allowed(code)) {
      assert.deepEqual(events, [{ type: 'close', code, reason: 'r' }], `code ${code}`);
      assert.equal(closeCodeOf(answer.payload), code, `code ${code}: not echoed`);
      echoed++;
    } else {
      assert.equal(events[0]?.type, 'violation', `code ${code}: accepted`);
      assert.equal(closeCodeOf(answer.payload), 1002, `code ${code}`);
      failed++;
    }
  }
  assert.equal(echoed, 2012);
  assert.equal(failed, 65536 - 2012);
});
