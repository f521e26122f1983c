import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runInNewContext } from 'node:vm';
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

test('toBytes: buffers of another realm (a vm context, a test environment) are buffers', () => {
  const other = runInNewContext(
    '({ buffer: new ArrayBuffer(3), array: new Uint8Array([7, 8, 9]), view: new DataView(new ArrayBuffer(2)), shared: new SharedArrayBuffer(4), sharedView: new Uint8Array(new SharedArrayBuffer(4)) })',
  ) as Record<string, unknown>;
  assert.deepEqual(toBytes(other.buffer), new Uint8Array(3));
  assert.deepEqual(toBytes(other.array), new Uint8Array([7, 8, 9]));
  assert.deepEqual(toBytes(other.view), new Uint8Array(2));
  assert.throws(() => toBytes(other.shared), { name: 'TypeError', message: /SharedArrayBuffer/ });
  assert.throws(() => toBytes(other.sharedView), {
    name: 'TypeError',
    message: /view of a SharedArrayBuffer/,
  });
  // Not buffers, whatever they claim: text.
  assert.equal(toBytes({ [Symbol.toStringTag]: 'ArrayBuffer', byteLength: 3 }), null);
});

test('toBytes: a detached ArrayBuffer, typed array or DataView is an empty binary message (as in Chrome)', () => {
  for (const make of [
    (b: ArrayBuffer) => b,
    (b: ArrayBuffer) => new Uint8Array(b),
    (b: ArrayBuffer) => new Float64Array(b),
    (b: ArrayBuffer) => new DataView(b),
  ]) {
    const buffer = new ArrayBuffer(16);
    const chunk = make(buffer);
    structuredClone(buffer, { transfer: [buffer] });
    const bytes = toBytes(chunk);
    assert.ok(bytes instanceof Uint8Array, Object.prototype.toString.call(chunk));
    assert.equal(bytes.byteLength, 0);
  }
});
