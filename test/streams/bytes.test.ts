import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rememberPlain, toBytes } from '../../src/streams/bytes.js';

const Resizable = ArrayBuffer as unknown as new (
  n: number,
  o: { maxByteLength: number },
) => ArrayBuffer;

test('toBytes: views and buffers give their bytes, without a copy', () => {
  const u8 = new Uint8Array([1, 2, 3]);
  assert.equal(toBytes(u8), u8);
  const ab = new Uint8Array([4, 5]).buffer;
  assert.deepEqual([...toBytes(ab)!], [4, 5]);
  const dv = new DataView(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2);
  const bytes = toBytes(dv)!;
  assert.deepEqual([...bytes], [8, 7]);
  assert.equal(bytes.buffer, dv.buffer);
  const u16 = new Uint16Array([0x0102]);
  assert.equal(toBytes(u16)!.byteLength, 2);
  assert.equal(toBytes('text'), null);
  assert.equal(toBytes(42), null);
});

test('toBytes: shared and resizable buffers are refused, small and large, remembered or not', () => {
  for (const size of [0, 1, 64, 65, 4096]) {
    const shared = new Uint8Array(new SharedArrayBuffer(size));
    assert.throws(() => toBytes(shared), { name: 'TypeError', message: /SharedArrayBuffer/ });
    const resizable = new Uint8Array(new Resizable(size, { maxByteLength: size + 16 }));
    assert.throws(() => toBytes(resizable), { name: 'TypeError', message: /resizable/ });
    assert.throws(() => toBytes(resizable.buffer), { name: 'TypeError', message: /resizable/ });
  }
  assert.throws(() => toBytes(new SharedArrayBuffer(8)), { name: 'TypeError' });
  assert.throws(() => toBytes(new DataView(new SharedArrayBuffer(8))), { name: 'TypeError' });
});

test('toBytes: a remembered message passes without its buffer being looked at', () => {
  const message = new Uint8Array([1, 2, 3, 4]);
  rememberPlain(message);
  // A getter on the instance would run if toBytes read `.buffer`.
  let looked = false;
  Object.defineProperty(message, 'buffer', {
    get() {
      looked = true;
      return new ArrayBuffer(0);
    },
  });
  assert.equal(toBytes(message), message);
  assert.equal(looked, false);
  // Arrays that are not remembered are checked.
  const other = new Uint8Array([5]);
  Object.defineProperty(other, 'buffer', {
    get() {
      looked = true;
      return new SharedArrayBuffer(1);
    },
  });
  assert.throws(() => toBytes(other), { name: 'TypeError' });
  assert.equal(looked, true);
});

test('toBytes: a remembered message that was detached takes the full path', () => {
  const message = new Uint8Array(16);
  rememberPlain(message);
  structuredClone(message.buffer, { transfer: [message.buffer] });
  assert.equal(message.byteLength, 0);
  // The full path: a detached buffer has no bytes to send.
  const bytes = toBytes(message);
  assert.equal(bytes?.byteLength ?? 0, 0);
});

test('toBytes: only the last few small arrays are remembered', () => {
  const first = new Uint8Array(8);
  rememberPlain(first);
  for (let i = 0; i < 64; i++) rememberPlain(new Uint8Array(8));
  let looked = false;
  Object.defineProperty(first, 'buffer', {
    get() {
      looked = true;
      return new ArrayBuffer(8);
    },
  });
  toBytes(first);
  assert.equal(looked, true);
});
