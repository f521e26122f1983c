/**
 * The browser cases: one file, run by test/browser/browser-entry.test.ts in
 * Chromium twice, once with its native WebSocketStream and once with it
 * deleted before the package loads, so that wsstream's browser entry hands
 * out the polyfill. Each case reports {name, ok, error, notes} into
 * window.__results; window.__done is set at the end.
 */
import {
  WebSocketError,
  WebSocketStream,
  isNativeWebSocketStream,
  DEFAULT_SEND_HIGH_WATER_MARK,
} from '/dist/browser.js';

const MiB = 1024 * 1024;
const params = new URLSearchParams(location.search);
const mode = params.get('mode');
const WS = `ws://${location.host}/`;
const results = [];
window.__results = results;

function assert(condition, message) {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
function equal(actual, expected, message) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message}: expected ${e}, got ${a}`);
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const outcome = (p) =>
  p.then(
    (value) => ({ value }),
    (error) => ({ error }),
  );
/** What the server saw on the connection to `path` (the server keeps it by path). */
const serverSaw = async (path) => (await fetch(`/seen?path=${encodeURIComponent(path)}`)).json();
const thrown = (fn) => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
};

const cases = [];
const test = (name, fn, timeout = 30_000) => cases.push({ name, fn, timeout });

test('the entry hands out the expected implementation', async () => {
  equal(isNativeWebSocketStream, mode === 'native', 'isNativeWebSocketStream');
  equal(WebSocketStream === globalThis.WebSocketStream, mode === 'native', 'same as the global');
});

test('wsstream/global installs the polyfill only where there is no native API', async () => {
  const native = globalThis.WebSocketStream;
  await import('/dist/browser-global.js');
  if (mode === 'native') equal(globalThis.WebSocketStream === native, true, 'native kept');
  else {
    equal(native, undefined, 'no native API in polyfill mode');
    equal(globalThis.WebSocketStream === WebSocketStream, true, 'the polyfill installed');
    equal(globalThis.WebSocketError === WebSocketError, true, 'its WebSocketError installed');
  }
});

test('messages both ways: text, binary, empty, 1 MiB', async () => {
  const wss = new WebSocketStream(`${WS}echo`);
  const { readable, writable } = await wss.opened;
  const writer = writable.getWriter();
  const reader = readable.getReader();
  const big = new Uint8Array(MiB).map((_, i) => i * 7);
  const sent = ['hello ✓', new Uint8Array([1, 2, 3, 255]), '', big, new ArrayBuffer(3), 42];
  for (const m of sent) void writer.write(m);
  for (const m of sent) {
    const { value } = await reader.read();
    if (typeof m === 'string' || typeof m === 'number') equal(value, String(m), 'text');
    else {
      // wsstream gives a Uint8Array; Chromium's native API an ArrayBuffer (docs/browser.md).
      if (mode === 'native')
        assert(value instanceof ArrayBuffer, `native: an ArrayBuffer (${value})`);
      else assert(value instanceof Uint8Array, `binary arrives as Uint8Array (${value})`);
      const got = new Uint8Array(value);
      const bytes = new Uint8Array(m);
      equal(got.length, bytes.length, 'binary length');
      assert(
        got.every((b, i) => b === bytes[i]),
        'binary bytes',
      );
    }
  }
  wss.close({ closeCode: 1000 });
  equal((await wss.closed).closeCode, 1000, 'closed');
});

test('close: close({closeCode, reason}) reaches the server', async () => {
  const wss = new WebSocketStream(`${WS}echo?c1`);
  await wss.opened;
  wss.close({ closeCode: 4000, reason: 'bye ✓' });
  equal((await wss.closed).closeCode, 4000, 'closed');
  equal((await serverSaw('/echo?c1')).outcome, { closeCode: 4000, reason: 'bye ✓' }, 'server');
});

test('close: the server closes with 4001: readable ends, writes reject, closed has code and reason', async () => {
  const wss = new WebSocketStream(`${WS}close-4001`);
  const { readable, writable } = await wss.opened;
  equal(await wss.closed, { closeCode: 4001, reason: 'server' }, 'closed');
  equal((await readable.getReader().read()).done, true, 'readable done');
  const w = await outcome(writable.getWriter().write('late'));
  assert(w.error !== undefined, 'write after the close rejects');
});

test("close: a write after the peer's Close rejects, even while its TCP connection stays open", async () => {
  const wss = new WebSocketStream(`${WS}close-held`);
  const { writable } = await wss.opened;
  // The server's Close has arrived by then; its TCP connection ends 1.5 s after it.
  await sleep(300);
  const w = await outcome(writable.getWriter().write('dropped?'));
  assert(w.error !== undefined, 'the write rejects instead of vanishing');
  equal(w.error.name, 'InvalidStateError', 'error');
  equal(await wss.closed, { closeCode: 4001, reason: 'hi' }, 'closed');
});

test('options: a signal that is not an AbortSignal throws a TypeError and opens nothing', async () => {
  for (const signal of [{ aborted: false }, 'yes']) {
    const e = thrown(() => new WebSocketStream(`${WS}echo?badsignal`, { signal }));
    assert(e instanceof TypeError, `${JSON.stringify(signal)}: ${String(e)}`);
  }
  await sleep(200);
  equal(await serverSaw('/echo?badsignal'), null, 'no connection was made');
});

test('close: close() with no code sends a Close without a body (1005)', async () => {
  const wss = new WebSocketStream(`${WS}echo?c2`);
  await wss.opened;
  wss.close();
  equal((await wss.closed).closeCode, 1005, 'closed');
  equal((await serverSaw('/echo?c2')).outcome, { closeCode: 1005, reason: '' }, 'server');
});

test('close: writable.close() settles once the closing handshake finished', async () => {
  const wss = new WebSocketStream(`${WS}echo?c3`);
  const { writable } = await wss.opened;
  await writable.close();
  equal((await wss.closed).closeCode, 1005, 'closed');
});

test('close: writable.abort(WebSocketError) sends its code and reason', async () => {
  const wss = new WebSocketStream(`${WS}echo?c4`);
  const { writable } = await wss.opened;
  await writable.abort(new WebSocketError('stop', { closeCode: 4002, reason: 'aborted' }));
  equal((await wss.closed).closeCode, 4002, 'closed');
  equal((await serverSaw('/echo?c4')).outcome, { closeCode: 4002, reason: 'aborted' }, 'server');
});

test('close: readable.cancel() closes with no code', async () => {
  const wss = new WebSocketStream(`${WS}echo?c5`);
  const { readable } = await wss.opened;
  await readable.cancel('done');
  equal((await wss.closed).closeCode, 1005, 'closed');
});

test('close: readable.cancel() while the server keeps sending: the close completes, nothing throws', async () => {
  const wss = new WebSocketStream(`${WS}chatty`);
  const { readable } = await wss.opened;
  const reader = readable.getReader();
  equal((await reader.read()).value, 'chat 0', 'first message');
  await reader.cancel();
  equal((await wss.closed).closeCode, 1005, 'closed');
});

test('close: the server drops TCP: one WebSocketError with 1006 errors everything', async () => {
  const wss = new WebSocketStream(`${WS}drop`);
  const { readable } = await wss.opened;
  const [c, r] = await Promise.all([outcome(wss.closed), outcome(readable.getReader().read())]);
  assert(c.error instanceof WebSocketError, `closed rejects with WebSocketError (${c.error})`);
  equal(c.error.constructor === WebSocketError, true, 'e.constructor === WebSocketError');
  equal(c.error.closeCode, 1006, 'closeCode');
  assert(r.error === c.error, 'the readable errors with the same object');
});

test('errors: WebIDL and URL rules', async () => {
  equal(thrown(() => new WebSocketStream())?.name, 'TypeError', 'no URL');
  equal(thrown(() => new WebSocketStream('ftp://127.0.0.1/'))?.name, 'SyntaxError', 'ftp:');
  equal(thrown(() => new WebSocketStream(`${WS}#x`))?.name, 'SyntaxError', 'fragment');
  equal(thrown(() => new WebSocketStream('http://[bad'))?.name, 'SyntaxError', 'bad URL');
  equal(thrown(() => new WebSocketStream(WS, 5))?.name, 'TypeError', 'options 5');
  equal(
    thrown(() => new WebSocketStream(WS, { protocols: 'chat' }))?.name,
    'TypeError',
    'string protocols',
  );
  equal(
    thrown(() => new WebSocketStream(WS, { protocols: ['a', 'a'] }))?.name,
    'SyntaxError',
    'duplicate protocols',
  );
  equal(
    thrown(() => new WebSocketStream(WS, { protocols: ['a b'] }))?.name,
    'SyntaxError',
    'protocol not a token',
  );
  const https = new WebSocketStream(`http://${location.host}/echo?u`);
  equal(https.url, `${WS}echo?u`, 'http: becomes ws:');
  https.close();
  await outcome(https.closed);
  const wss = new WebSocketStream(`${WS}echo?c6`);
  await wss.opened;
  equal(thrown(() => wss.close({ closeCode: 1001 }))?.name, 'InvalidAccessError', 'close(1001)');
  // [EnforceRange]: a TypeError; Chromium's native API says InvalidAccessError (docs/browser.md).
  equal(
    thrown(() => wss.close({ closeCode: 70000 }))?.name,
    mode === 'native' ? 'InvalidAccessError' : 'TypeError',
    'close(70000)',
  );
  equal(thrown(() => wss.close({ reason: 'x'.repeat(124) }))?.name, 'SyntaxError', 'long reason');
  const e = new WebSocketError('m', { closeCode: 4000, reason: 'r' });
  equal(
    [e.name, e.message, e.closeCode, e.reason],
    ['WebSocketError', 'm', 4000, 'r'],
    'WebSocketError',
  );
  assert(e instanceof DOMException, 'WebSocketError is a DOMException');
  equal(
    thrown(() => new WebSocketError('m', { closeCode: 1001 }))?.name,
    'InvalidAccessError',
    'error 1001',
  );
  wss.close();
  await wss.closed;
});

test('errors: a refused handshake rejects opened and closed with WebSocketError', async () => {
  const wss = new WebSocketStream(`${WS}refuse`);
  const [o, c] = await Promise.all([outcome(wss.opened), outcome(wss.closed)]);
  assert(o.error instanceof WebSocketError, `opened: WebSocketError (${o.error})`);
  assert(c.error instanceof WebSocketError, `closed: WebSocketError (${c.error})`);
});

test('errors: an already aborted signal rejects both with its reason', async () => {
  const reason = new Error('no');
  const wss = new WebSocketStream(`${WS}echo?a`, { signal: AbortSignal.abort(reason) });
  const [o, c] = await Promise.all([outcome(wss.opened), outcome(wss.closed)]);
  window.__notes.push(
    `opened rejected with ${o.error?.name}: ${o.error?.message}; closed with ${c.error?.name}`,
  );
  if (mode === 'native') {
    // Chromium rejects with its own AbortError, not the signal's reason (docs/browser.md).
    equal([o.error?.name, c.error?.name], ['AbortError', 'AbortError'], 'native: AbortError');
  } else {
    assert(o.error === reason && c.error === reason, 'both reject with the reason');
  }
});

test('errors: close() during the handshake rejects opened and closed with WebSocketError', async () => {
  const wss = new WebSocketStream(`${WS}echo?early`);
  wss.close({ closeCode: 4000, reason: 'ignored' });
  const [o, c] = await Promise.all([outcome(wss.opened), outcome(wss.closed)]);
  window.__notes.push(`opened rejected with ${o.error?.name} ${o.error?.closeCode}`);
  assert(o.error instanceof WebSocketError, `opened: WebSocketError (${o.error})`);
  assert(c.error instanceof WebSocketError, `closed: WebSocketError (${c.error})`);
});

test('errors: writes after close() reject with InvalidStateError', async () => {
  const wss = new WebSocketStream(`${WS}echo?c7`);
  const { writable } = await wss.opened;
  const writer = writable.getWriter();
  wss.close({ closeCode: 1000 });
  const w = await outcome(writer.write('late'));
  window.__notes.push(
    `the late write: ${w.error !== undefined ? `rejected with ${w.error?.name}: ${w.error?.message}` : 'resolved'}`,
  );
  // Chromium resolves a write made after close() (docs/browser.md); wsstream rejects it.
  if (mode === 'native') assert(w.error === undefined, 'native: the late write resolves');
  else equal(w.error?.name, 'InvalidStateError', 'late write');
  await wss.closed;
});

test('send backpressure: writes to a server that stops reading wait, bytes in the browser stay bounded', async () => {
  const SIZE = MiB;
  const COUNT = 24;
  const wss = new WebSocketStream(`${WS}sink`);
  const { writable } = await wss.opened;
  const writer = writable.getWriter();
  // The polyfill's classic WebSocket (the page records the instances it makes).
  const classic = window.__sockets?.at(-1);
  let maxBuffered = 0;
  const sample = setInterval(() => {
    if (classic !== undefined) maxBuffered = Math.max(maxBuffered, classic.bufferedAmount);
  }, 2);
  let resolved = 0;
  // Incompressible bytes: the browser negotiates permessage-deflate with our server,
  // and zeros would compress to almost nothing and never fill a buffer.
  const message = new Uint8Array(SIZE);
  for (let at = 0; at < SIZE; at += 65536) crypto.getRandomValues(message.subarray(at, at + 65536));
  const writing = (async () => {
    for (let i = 0; i < COUNT; i++) {
      message[0] = i;
      await writer.ready;
      await writer.write(message);
      resolved += SIZE;
      if (classic !== undefined) maxBuffered = Math.max(maxBuffered, classic.bufferedAmount);
    }
  })();
  // Wait until the resolved count stops growing for 1 s.
  let last = -1;
  let since = Date.now();
  while (Date.now() - since < 1000) {
    await sleep(50);
    if (resolved !== last) {
      last = resolved;
      since = Date.now();
    }
  }
  const stalled = resolved;
  const server = await (await fetch('/release-sink')).json();
  window.__notes.push(
    `writes resolved ${stalled} B of ${COUNT * SIZE}; server read ${server.bytesRead} B while not reading` +
      (classic !== undefined ? `; the polyfill's bufferedAmount peaked at ${maxBuffered} B` : ''),
  );
  assert(stalled < COUNT * SIZE, `writes stopped resolving (${stalled} of ${COUNT * SIZE})`);
  assert(
    server.bytesRead <= 4 * MiB + SIZE,
    `the server read ${server.bytesRead} B while not reading`,
  );
  if (mode === 'polyfill') {
    assert(classic !== undefined, 'the polyfill made a classic WebSocket');
    const bound = DEFAULT_SEND_HIGH_WATER_MARK + SIZE;
    assert(maxBuffered <= bound, `bufferedAmount peaked at ${maxBuffered} B (bound ${bound})`);
    assert(maxBuffered > 0, 'bufferedAmount was seen above 0');
  }
  const t0 = Date.now();
  await writing;
  clearInterval(sample);
  window.__notes.push(`the rest written in ${Date.now() - t0} ms`);
  await writer.close();
  window.__notes.push(`closed after ${Date.now() - t0} ms`);
  const saw = await serverSaw('/sink');
  equal(saw.messages, COUNT, 'every message arrived');
}, 120_000);

test('abort behind a stuck write: writable.abort() settles while the server reads nothing, the Close follows the data', async () => {
  const SIZE = MiB;
  const wss = new WebSocketStream(`${WS}sink`);
  const { writable } = await wss.opened;
  const writer = writable.getWriter();
  const message = new Uint8Array(SIZE);
  for (let at = 0; at < SIZE; at += 65536) crypto.getRandomValues(message.subarray(at, at + 65536));
  let resolved = 0;
  let stuck;
  for (let i = 0; i < 64 && stuck === undefined; i++) {
    const write = outcome(writer.write(message));
    if ((await Promise.race([write, sleep(1000).then(() => 'pending')])) === 'pending')
      stuck = write;
    else resolved++;
  }
  assert(stuck !== undefined, 'a write stayed pending');
  const started = Date.now();
  const aborted = await Promise.race([
    outcome(writer.abort(new WebSocketError('stop', { closeCode: 4005, reason: 'gave up' }))),
    sleep(3000).then(() => 'pending'),
  ]);
  window.__notes.push(
    `after ${resolved} MiB written: abort() ${aborted === 'pending' ? 'still pending after 3 s' : `settled in ${Date.now() - started} ms`}`,
  );
  await fetch('/release-sink');
  // Chromium's own holds abort() until the server takes the write (docs/browser.md).
  if (mode === 'polyfill') assert(aborted !== 'pending', 'abort() settles while the write waits');
  const write = await stuck;
  window.__notes.push(
    `the stuck write ${write.error !== undefined ? `rejected with ${write.error?.name}` : 'resolved'}`,
  );
  equal(await wss.closed, { closeCode: 4005, reason: 'gave up' }, 'closed');
  const saw = await serverSaw('/sink');
  equal(saw.outcome, { closeCode: 4005, reason: 'gave up' }, 'the server saw the Close');
  assert(
    saw.messages >= resolved,
    `the server got ${saw.messages} messages of ${resolved} resolved`,
  );
}, 60_000);

window.__notes = [];
for (const { name, fn, timeout } of cases) {
  window.__notes = [];
  try {
    await Promise.race([
      fn(),
      sleep(timeout).then(() => {
        throw new Error(`timed out after ${timeout} ms`);
      }),
    ]);
    results.push({ name, ok: true, notes: window.__notes });
  } catch (error) {
    results.push({ name, ok: false, error: String(error?.stack ?? error), notes: window.__notes });
  }
}
window.__done = true;
