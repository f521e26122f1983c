/**
 * `import 'wsstream/global'`: installs WebSocketStream and WebSocketError on
 * globalThis, but never replaces what the runtime already has. This file is
 * its own process under node --test, so the import below is the first.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { WebSocketError, WebSocketStream } from '../../src/index.js';

void it('sets the globals only where they are absent', async () => {
  const g = globalThis as Record<string, unknown>;
  assert.equal('WebSocketStream' in g, false, 'Node has no WebSocketStream of its own');
  // A runtime that already has a WebSocketError keeps it.
  const native = class NativeWebSocketError {};
  g.WebSocketError = native;
  try {
    await import('../../src/global.js');
    assert.equal(g.WebSocketStream, WebSocketStream);
    assert.equal(g.WebSocketError, native, 'an existing global is left alone');
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'WebSocketStream');
    assert.deepEqual(
      {
        writable: descriptor?.writable,
        enumerable: descriptor?.enumerable,
        configurable: descriptor?.configurable,
      },
      { writable: true, enumerable: false, configurable: true },
      'installed like a built-in constructor',
    );
  } finally {
    delete g.WebSocketError;
    delete g.WebSocketStream;
  }
  // Evaluated again (a distinct module instance) with both absent: both are installed.
  const again: string = '../../src/global.js?again';
  await import(again);
  try {
    assert.equal(g.WebSocketStream, WebSocketStream);
    assert.equal(g.WebSocketError, WebSocketError);
  } finally {
    delete g.WebSocketError;
    delete g.WebSocketStream;
  }
});
