import { describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, deflateRawSync } from 'node:zlib';
import { setAllocator } from '../../../src/core/allocate.js';
import { Connection } from '../../../src/core/connection.js';
import { encodeFrame } from '../../../src/core/frame.js';
import { acceptOffer } from '../../../src/core/extensions/deflate-negotiation.js';
import { PerMessageDeflate } from '../../../src/core/extensions/permessage-deflate.js';
import {
  INFLATE_CHUNK_SIZE,
  INFLATE_KEPT_OUTPUT,
  nodeDeflateEngine,
} from '../../../src/node/zlib-deflate.js';

function compressed(data: Uint8Array): Uint8Array {
  const out = deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

function client(options: { maxMessageSize?: number } = {}): Connection {
  const agreed = acceptOffer(
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    { serverMaxWindowBits: 15 },
  )!;
  return new Connection({
    role: 'client',
    extension: new PerMessageDeflate('client', agreed, nodeDeflateEngine),
    ...options,
  });
}

const frame = (payload: Uint8Array, rsv1 = true, opcode = 0x2, fin = true): Uint8Array =>
  encodeFrame(opcode, payload, { rsv1, fin, maskKey: null });

/** `size` bytes of 4 bits of entropy each: compressed to about half. */
function noisy(size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = 1;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 28;
  }
  return out;
}

/**
 * Bytes of the buffers allocated while `fn` runs, through the core's
 * allocator and Buffer's: everything the receive path holds was allocated
 * there, so their sum bounds what it held at any one time.
 */
function allocatedDuring(fn: () => void): number {
  let bytes = 0;
  const spies = [mock.method(Buffer, 'allocUnsafe'), mock.method(Buffer, 'allocUnsafeSlow')];
  setAllocator((size) => ((bytes += size), new Uint8Array(size)));
  try {
    fn();
  } finally {
    for (const spy of spies) spy.mock.restore();
    setAllocator((size) => new Uint8Array(size));
  }
  for (const spy of spies) for (const call of spy.mock.calls) bytes += call.arguments[0];
  return bytes;
}

describe('Connection with permessage-deflate', () => {
  test('one read of 20 messages inflating to 256 KiB each: held back after the 1 MiB budget, continued on demand', () => {
    const conn = client();
    const one = frame(compressed(new Uint8Array(256 * 1024)));
    const read = new Uint8Array(one.length * 20);
    for (let i = 0; i < 20; i++) read.set(one, i * one.length);
    conn.receiveData(read);
    // More than 1 MiB after the fifth message: parsing stops there.
    assert.equal(conn.takeEvents().length, 5);
    assert.equal(conn.hasPendingInput, true);
    assert.equal(conn.payloadTarget(1), null);
    let total = 5;
    for (let round = 0; round < 10 && conn.hasPendingInput; round++) {
      conn.receiveData(new Uint8Array(0));
      total += conn.takeEvents().length;
    }
    assert.equal(total, 20);
    assert.equal(conn.hasPendingInput, false);
  });

  test('a budget spent by the last message of a read holds nothing back: the next read is parsed at once', () => {
    const conn = client();
    // 1.25 MiB inflated, ending exactly at the end of the read.
    conn.receiveData(frame(compressed(new Uint8Array(1280 * 1024))));
    assert.equal(conn.takeEvents().length, 1);
    assert.equal(conn.hasPendingInput, false);
    // A fresh read with a fresh budget: its message comes out of this call.
    conn.receiveData(frame(compressed(new Uint8Array(10))));
    const events = conn.takeEvents();
    assert.deepEqual(
      events.map((e) => e.type),
      ['binary'],
    );
    assert.equal(conn.hasPendingInput, false);
  });

  test('a 16 MiB message is held once while it is inflated, beside its compressed bytes', () => {
    const size = 16 * 1024 * 1024;
    const message = noisy(size);
    const wire = frame(compressed(message));
    const conn = client({ maxMessageSize: size });
    const bytes = allocatedDuring(() => conn.receiveData(wire));
    const [event] = conn.takeEvents() as { type: string; data: Uint8Array }[];
    assert.equal(event!.type, 'binary');
    assert.ok(Buffer.from(event!.data).equals(message));
    assert.equal(event!.data.buffer.byteLength, size);
    // The compressed payload, the message once, and what is kept of the output
    // before its size is known; joining zlib's chunks held the message twice.
    const compressedPayload = wire.length - 10;
    const bound = compressedPayload + size + INFLATE_KEPT_OUTPUT + 2 * INFLATE_CHUNK_SIZE;
    assert.ok(bytes >= size + compressedPayload, `${bytes} bytes counted`);
    assert.ok(bytes <= bound, `${bytes} bytes allocated, more than ${bound}`);
  });

  test('RSV1 on a continuation frame fails with 1002', () => {
    const conn = client();
    conn.receiveData(frame(compressed(new Uint8Array(10)), true, 0x2, false));
    conn.receiveData(frame(new Uint8Array(1), true, 0x0, true));
    const e = conn.takeEvents().at(-1) as { type: string; error: { closeCode: number } };
    assert.equal(e.type, 'violation');
    assert.equal(e.error.closeCode, 1002);
  });

  test('a message inflating past maxMessageSize fails with 1009', () => {
    const conn = client({ maxMessageSize: 1000 });
    conn.receiveData(frame(compressed(new Uint8Array(1001))));
    const e = conn.takeEvents().at(-1) as { type: string; error: { closeCode: number } };
    assert.equal(e.type, 'violation');
    assert.equal(e.error.closeCode, 1009);
  });

  test('sent messages of the threshold or more carry RSV1 and are smaller; shorter ones do not', () => {
    const conn = client();
    conn.sendText('a'.repeat(2000));
    conn.sendText('short');
    const [big, small] = conn.takeOutgoing();
    assert.equal(big![0]! & 0x40, 0x40);
    assert.ok(big!.length < 100);
    assert.equal(small![0]! & 0x40, 0);
  });

  test('without the extension, RSV1 fails with 1002', () => {
    const conn = new Connection({ role: 'client' });
    conn.receiveData(frame(compressed(new Uint8Array(10))));
    const e = conn.takeEvents().at(-1) as { type: string; error: { closeCode: number } };
    assert.equal(e.error.closeCode, 1002);
  });
});
