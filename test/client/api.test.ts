/**
 * The WebSocketStream and WebSocketError surface: URL parsing, the protocols
 * option, WebSocketError construction, and promises that never surface as
 * unhandled rejections.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WebSocketError, WebSocketStream } from '../../src/index.js';
import { delay, rejection, requests, startRawServer } from './helpers.js';

/** A stream that never connects (its signal is already aborted), to read `url` and friends. */
function offline(url: string | URL, options: { protocols?: string[] } = {}): WebSocketStream {
  return new WebSocketStream(url, { ...options, signal: AbortSignal.abort() });
}

function isDomException(name: string): (e: unknown) => boolean {
  return (e) => e instanceof DOMException && e.name === name;
}

void describe('URL', () => {
  void it('http: becomes ws:, https: becomes wss:, and url is the serialized result', () => {
    assert.equal(offline('http://example.com').url, 'ws://example.com/');
    assert.equal(offline('https://example.com/a?b=c').url, 'wss://example.com/a?b=c');
    assert.equal(offline('ws://EXAMPLE.com:80/x').url, 'ws://example.com/x');
    assert.equal(offline('wss://example.com:443').url, 'wss://example.com/');
    assert.equal(offline('ws://example.com:8080/p%20q').url, 'ws://example.com:8080/p%20q');
    assert.equal(offline('ws://[::1]:9/').url, 'ws://[::1]:9/');
    assert.equal(offline(new URL('http://example.com/u')).url, 'ws://example.com/u');
  });

  void it('any other scheme is a SyntaxError', () => {
    for (const url of [
      'ftp://example.com/',
      'file:///tmp/x',
      'data:text/plain,x',
      'mailto:a@b.c',
    ]) {
      assert.throws(() => offline(url), isDomException('SyntaxError'), url);
    }
  });

  void it('any fragment, even a bare #, is a SyntaxError', () => {
    for (const url of ['ws://example.com/#', 'ws://example.com/#x', 'http://example.com/a?b#c']) {
      assert.throws(() => offline(url), isDomException('SyntaxError'), url);
    }
  });

  void it('an invalid or relative URL is a SyntaxError', () => {
    for (const url of ['', 'not a url', '/relative', 'ws://', 'ws://exa mple.com/']) {
      assert.throws(() => offline(url), isDomException('SyntaxError'), url);
    }
  });

  void it('nothing is attempted for a URL that throws', () => {
    const before = requests.length;
    assert.throws(() => new WebSocketStream('ftp://127.0.0.1/'));
    assert.equal(requests.length, before);
  });
});

void describe('protocols', () => {
  void it('a string instead of a sequence is a TypeError', () => {
    assert.throws(() => offline('ws://example.com/', { protocols: 'chat' as never }), TypeError);
  });

  void it('a duplicate is a SyntaxError', () => {
    assert.throws(
      () => offline('ws://example.com/', { protocols: ['a', 'b', 'a'] }),
      isDomException('SyntaxError'),
    );
  });

  void it('a value that is not an HTTP token is a SyntaxError', () => {
    for (const p of ['', 'a b', 'a,b', 'é', 'a/b', '"a"', 'a\r\n']) {
      assert.throws(
        () => offline('ws://example.com/', { protocols: [p] }),
        isDomException('SyntaxError'),
        JSON.stringify(p),
      );
    }
  });

  void it('tokens, and any iterable of them, are accepted', () => {
    offline('ws://example.com/', { protocols: ['chat', 'v1.json', "!#$%&'*+-.^_`|~"] });
    offline('ws://example.com/', { protocols: new Set(['a', 'b']) as never });
    offline('ws://example.com/', { protocols: [] });
  });
});

void describe('WebSocketError', () => {
  void it('is a DOMException named WebSocketError', () => {
    const e = new WebSocketError('message', { closeCode: 4000, reason: 'why' });
    assert.ok(e instanceof DOMException);
    assert.ok(e instanceof Error);
    assert.ok(e instanceof WebSocketError);
    assert.equal(e.constructor, WebSocketError);
    assert.equal(e.name, 'WebSocketError');
    assert.equal(e.message, 'message');
    assert.equal(e.closeCode, 4000);
    assert.equal(e.reason, 'why');
    assert.equal(Object.prototype.toString.call(e), '[object WebSocketError]');
    assert.equal(e.code, 0, "DOMException's legacy code");
  });

  void it('defaults: empty message, null closeCode, empty reason', () => {
    const e = new WebSocketError();
    assert.equal(e.message, '');
    assert.equal(e.closeCode, null);
    assert.equal(e.reason, '');
  });

  void it('a reason without a code means 1000', () => {
    const e = new WebSocketError('', { reason: 'r' });
    assert.equal(e.closeCode, 1000);
    assert.equal(e.reason, 'r');
  });

  void it('validates like close(): InvalidAccessError for codes, SyntaxError for long reasons', () => {
    for (const closeCode of [999, 1001, 1005, 1006, 2999, 5000]) {
      assert.throws(
        () => new WebSocketError('', { closeCode }),
        isDomException('InvalidAccessError'),
        String(closeCode),
      );
    }
    assert.throws(
      () => new WebSocketError('', { closeCode: 1000, reason: 'x'.repeat(124) }),
      isDomException('SyntaxError'),
    );
    assert.throws(() => new WebSocketError('', { closeCode: 70000 }), TypeError);
    assert.equal(new WebSocketError('', { closeCode: 1000 }).closeCode, 1000);
    assert.equal(new WebSocketError('', { closeCode: 3000 }).closeCode, 3000);
    assert.equal(new WebSocketError('', { closeCode: 4999 }).closeCode, 4999);
  });

  void it('closeCode and reason are read-only getters on the prototype', () => {
    const e = new WebSocketError('', { closeCode: 3000 });
    assert.deepEqual(Object.keys(e), []);
    assert.throws(() => {
      (e as { closeCode: number | null }).closeCode = 4000;
    }, TypeError);
    assert.equal(e.closeCode, 3000);
  });
});

void describe('WebSocketStream', () => {
  void it('is constructed with new only, and reports itself as WebSocketStream', () => {
    assert.throws(() => (WebSocketStream as unknown as () => void)(), TypeError);
    const wss = offline('ws://example.com/');
    assert.equal(Object.prototype.toString.call(wss), '[object WebSocketStream]');
    assert.ok(wss.opened instanceof Promise);
    assert.ok(wss.closed instanceof Promise);
    assert.equal(wss.opened, wss.opened, 'the same promise each time');
  });

  void it('awaiting only opened (or only closed) of a failed connection leaves no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const probe = await startRawServer(() => {});
      const url = probe.url;
      await probe.close(); // nothing listens there any more

      const onlyOpened = new WebSocketStream(url);
      const e1 = await rejection(onlyOpened.opened);
      assert.ok(e1 instanceof WebSocketError);

      const onlyClosed = new WebSocketStream(url);
      const e2 = await rejection(onlyClosed.closed);
      assert.ok(e2 instanceof WebSocketError);

      // Neither is awaited at all.
      const neither = new WebSocketStream(url);
      void neither;
      const aborted = new WebSocketStream(url, { signal: AbortSignal.abort() });
      void aborted;

      // Unhandled rejections are reported after the microtask queue drains; give them a few turns.
      for (let i = 0; i < 5; i++) await delay(20);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  void it('invalid extension options are refused at construction', () => {
    assert.throws(
      () => new WebSocketStream('ws://127.0.0.1:1/', { handshakeTimeout: -1 }),
      RangeError,
    );
    assert.throws(() => new WebSocketStream('ws://127.0.0.1:1/', { closeTimeout: 0 }), RangeError);
    assert.throws(
      () => new WebSocketStream('ws://127.0.0.1:1/', { maxMessageSize: -1 }),
      RangeError,
    );
  });
});
