/**
 * pipeTo() of a readable that offers a direct pipe, called with a receiver or a
 * destination that is no wsstream stream of its own (a proxy of one, an object
 * inheriting from one, no object): the runtime's pipeTo() on the same
 * arguments decides, and it never throws, it rejects.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSession } from './helpers.js';

const runtimePipeTo = Object.getOwnPropertyDescriptor(ReadableStream.prototype, 'pipeTo')!
  .value as ReadableStream['pipeTo'];

function call(fn: () => Promise<unknown>): Promise<string> {
  let promise: Promise<unknown>;
  try {
    promise = fn();
  } catch (error) {
    return Promise.resolve(`threw ${(error as Error).name}`);
  }
  return Promise.race([
    promise.then(
      () => 'fulfilled',
      (error: Error) => `rejected ${error.name}`,
    ),
    new Promise<string>((resolve) => setTimeout(() => resolve('pending'), 50)),
  ]);
}

const cases: [string, (r: ReadableStream, w: WritableStream) => [unknown, unknown]][] = [
  ['a proxy of a wsstream writable', (r, w) => [r, new Proxy(w, {})]],
  ['an object inheriting from a wsstream writable', (r, w) => [r, Object.create(w)]],
  [
    'a revoked proxy',
    (r) => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return [r, proxy];
    },
  ],
  [
    'a proxy whose get trap throws',
    (r) => [
      r,
      new Proxy(
        {},
        {
          get() {
            throw new RangeError('no');
          },
        },
      ),
    ],
  ],
  ['receiver: a proxy of the readable', (r, w) => [new Proxy(r, {}), w]],
  ['receiver: an object inheriting from the readable', (r, w) => [Object.create(r), w]],
  ['receiver: undefined', (_r, w) => [undefined, w]],
  ['receiver: null', (_r, w) => [null, w]],
];

for (const [name, make] of cases) {
  test(`pipeTo() with ${name}: as the runtime's pipeTo()`, async () => {
    const results: string[] = [];
    for (const fn of [null, runtimePipeTo]) {
      const a = openSession('server');
      const b = openSession('server');
      // The readable's own pipeTo() (the direct pipe's), or the runtime's.
      const pipe = fn ?? (Reflect.get(a.session.readable, 'pipeTo') as typeof runtimePipeTo);
      const [receiver, destination] = make(a.session.readable, b.session.writable);
      results.push(await call(() => Reflect.apply(pipe, receiver, [destination]) as Promise<void>));
      // Locked by a pipe that runs, and only then.
      results.push(`locked ${a.session.readable.locked} ${b.session.writable.locked}`);
    }
    assert.deepEqual(results[0], results[2], `direct ${results[0]}, runtime ${results[2]}`);
    assert.deepEqual(results[1], results[3]);
  });
}
