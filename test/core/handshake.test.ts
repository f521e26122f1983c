import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  acceptKey,
  acceptResponse,
  buildClientRequest,
  buildErrorResponse,
  buildServerResponse,
  DEFAULT_MAX_HEADER_COUNT,
  DEFAULT_MAX_HEADER_SIZE,
  encodeResponse,
  generateKey,
  HandshakeError,
  hasToken,
  HeaderList,
  HttpHeadReader,
  isToken,
  isValidHeaderValue,
  isValidKey,
  latin1Bytes,
  offerExtensionsByName,
  parseRequestHead,
  parseResponseHead,
  rejectResponse,
  serializeResponse,
  splitList,
  validateClientRequest,
  validateServerResponse,
  validateUserHeaders,
  WEBSOCKET_GUID,
  type ClientOffer,
  type HandshakeErrorCode,
  type RequestHead,
  type RequestLike,
} from '../../src/core/handshake/index.js';
import { assertBytes, concat, everyPairOfSplits, everySplit, sha1Base64, utf8 } from './helpers.js';

const RFC_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
// RFC 6455 1.3 (and node:crypto) give this value for the example key.
const RFC_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** Asserts `fn` throws a HandshakeError with `code` (and `status`, when given); returns it. */
function assertHandshakeError(
  fn: () => unknown,
  code: HandshakeErrorCode,
  status?: number,
): HandshakeError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(
    caught instanceof HandshakeError,
    `expected HandshakeError ${code}, got ${String(caught)}`,
  );
  assert.equal(caught.code, code, caught.message);
  if (status !== undefined) assert.equal(caught.status, status);
  return caught;
}

// ---- keys --------------------------------------------------------------------

describe('keys', () => {
  test('acceptKey matches the example of RFC 6455 1.3', () => {
    assert.equal(acceptKey(RFC_KEY, sha1Base64), RFC_ACCEPT);
    assert.equal(WEBSOCKET_GUID, '258EAFA5-E914-47DA-95CA-C5AB0DC85B11');
  });

  test('acceptKey hashes key + GUID with the digest the I/O layer supplies', () => {
    const inputs: string[] = [];
    const digest = (text: string): string => {
      inputs.push(text);
      return createHash('sha1').update(text, 'latin1').digest('base64');
    };
    for (let i = 0; i < 50; i++) {
      const key = generateKey();
      assert.equal(acceptKey(key, digest), sha1Base64(key + WEBSOCKET_GUID));
      assert.equal(inputs.pop(), key + WEBSOCKET_GUID);
    }
  });

  test('generateKey gives valid keys of 16 random bytes, different each time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const key = generateKey();
      assert.equal(key.length, 24);
      assert.ok(isValidKey(key), key);
      assert.equal(Buffer.from(key, 'base64').length, 16);
      assert.equal(Buffer.from(key, 'base64').toString('base64'), key);
      seen.add(key);
    }
    assert.equal(seen.size, 200);
  });

  test('isValidKey accepts the RFC example and canonical base64 of any 16 bytes', () => {
    assert.equal(isValidKey(RFC_KEY), true);
    for (const fill of [0x00, 0xff, 0x5a]) {
      assert.equal(isValidKey(Buffer.alloc(16, fill).toString('base64')), true);
    }
  });

  test('isValidKey rejects wrong lengths, padding and characters', () => {
    const bad = [
      '',
      'dGhlIHNhbXBsZSBub25jZQ=', // 23 characters
      'dGhlIHNhbXBsZSBub25jZQ===', // 25
      'dGhlIHNhbXBsZSBub25jZQAA', // no padding
      Buffer.alloc(15).toString('base64'), // 15 bytes
      Buffer.alloc(17).toString('base64'), // 17 bytes: 24 characters ending in one "="
      Buffer.alloc(18).toString('base64'), // 18 bytes: 24 characters, no padding
      'dGhlIHNhbXBsZSBub25jZQ==\r\n',
      ' dGhlIHNhbXBsZSBub25jZQ=',
      'dGhlIHNhbXBsZSBub25j-Q==', // URL-safe alphabet
      'dGhlIHNhbXBsZSBub25j_Q==',
      'dGhlIHNhbXBsZSBub2=jZQ==', // padding inside
      'dGhlIHNhbXBsZSBub25jZé==',
    ];
    for (const key of bad) assert.equal(isValidKey(key), false, JSON.stringify(key));
  });

  test('isValidKey accepts exactly the 4 last characters whose unused bits are zero', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    for (const c of alphabet) {
      const key = `dGhlIHNhbXBsZSBub25jZ${c}==`;
      const canonical = Buffer.from(key, 'base64').toString('base64') === key;
      assert.equal(isValidKey(key), canonical, key);
      assert.equal(canonical, 'AQgw'.includes(c));
    }
  });
});

// ---- HTTP grammar ------------------------------------------------------------

describe('HTTP grammar helpers', () => {
  test('isToken: RFC 9110 tchar only, non-empty', () => {
    assert.equal(isToken("abcXYZ019!#$%&'*+-.^_`|~"), true);
    for (const s of [
      '',
      'a b',
      'a,b',
      'a:b',
      'a"b',
      'a/b',
      '(a)',
      'a\tb',
      'é',
      'a\x7f',
      '[x]',
      '{x}',
      'a=b',
      'a;b',
    ]) {
      assert.equal(isToken(s), false, JSON.stringify(s));
    }
  });

  test('isValidHeaderValue rejects CR, LF, NUL and characters beyond Latin-1', () => {
    assert.equal(isValidHeaderValue('text/plain; q=0.5, \t é ÿ'), true);
    assert.equal(isValidHeaderValue(''), true);
    for (const s of ['a\rb', 'a\nb', 'a\r\nX-Injected: 1', 'a\0b', 'snow ☃', '\u0100']) {
      assert.equal(isValidHeaderValue(s), false, JSON.stringify(s));
    }
  });

  test('latin1Bytes and encodeResponse: a head one byte per character, a body in UTF-8', () => {
    assert.deepEqual([...latin1Bytes('caf\u00e9 \u00ff')], [0x63, 0x61, 0x66, 0xe9, 0x20, 0xff]);
    const response = rejectResponse(403, 'non \u270b', [['X-Name', 'caf\u00e9']]);
    const bytes = Buffer.from(encodeResponse(response));
    const end = bytes.indexOf('\r\n\r\n') + 4;
    const head = bytes.subarray(0, end).toString('latin1');
    assert.match(head, /\r\nX-Name: caf\u00e9\r\n/);
    assert.ok(bytes.subarray(0, end).includes(Buffer.from([0x20, 0x63, 0x61, 0x66, 0xe9, 0x0d])));
    const body = bytes.subarray(end);
    assert.equal(body.toString('utf8'), 'non \u270b\n');
    assert.match(head, new RegExp(`\r\nContent-Length: ${body.length}\r\n`));
    // Without a body, the same bytes as the text written one byte per character.
    const upgrade = acceptResponse({ key: 'dGhlIHNhbXBsZSBub25jZQ==', sha1Base64 });
    assert.equal(
      Buffer.from(encodeResponse(upgrade)).toString('latin1'),
      serializeResponse(upgrade),
    );
  });

  test('splitList trims and drops empty elements; hasToken is case-insensitive', () => {
    assert.deepEqual(splitList(' a , b,,c ,'), ['a', 'b', 'c']);
    assert.deepEqual(splitList(''), []);
    assert.equal(hasToken('keep-alive, Upgrade', 'upgrade'), true);
    assert.equal(hasToken('UPGRADE', 'upgrade'), true);
    assert.equal(hasToken('keep-alive', 'upgrade'), false);
    assert.equal(hasToken('upgrades', 'upgrade'), false);
    assert.equal(hasToken(undefined, 'upgrade'), false);
  });

  test('hasToken finds exactly the elements splitList makes, lower-cased', () => {
    // Pseudo-random values over an alphabet of separators, whitespace (HTTP's
    // and others trim() removes) and letters of both cases, including the
    // Kelvin sign, which lower-cases to an ASCII "k", and a capital I with a
    // dot, which lower-cases to two code units.
    const alphabet = [
      ',',
      ' ',
      '\t',
      '\u00a0',
      'u',
      'U',
      'p',
      'P',
      'k',
      'K',
      '\u212a',
      '\u0130',
      'i',
      'a',
      'x',
    ];
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 20_000; i++) {
      let value = '';
      for (let n = random(12); n > 0; n--) value += alphabet[random(alphabet.length)];
      for (const token of ['up', 'UP', 'k', 'i', 'a', 'pak']) {
        const expected = splitList(value).some((t) => t.toLowerCase() === token.toLowerCase());
        assert.equal(hasToken(value, token), expected, `${JSON.stringify(value)} ${token}`);
      }
    }
  });

  test('HeaderList joins repeated fields with ", " and counts field lines', () => {
    const h = new HeaderList();
    h.add('Sec-WebSocket-Protocol', 'a');
    h.add('sec-websocket-protocol', 'b');
    h.add('Host', 'x');
    assert.equal(h.get('SEC-WEBSOCKET-PROTOCOL'), 'a, b');
    assert.equal(h.count('sec-websocket-protocol'), 2);
    assert.equal(h.get('host'), 'x');
    assert.equal(h.get('missing'), undefined);
    assert.equal(h.count('missing'), 0);
    assert.deepEqual(h.entries[0], ['sec-websocket-protocol', 'a']);
  });
});

// ---- HttpHeadReader --------------------------------------------------------------

describe('HttpHeadReader', () => {
  const head = 'GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nX-Latin: caf\xe9';
  const rest = Uint8Array.of(0x81, 0x85, 1, 2, 3, 4, 0x0d, 0x0a, 0x0d, 0x0a);
  const input = concat(latin1(`${head}\r\n\r\n`), rest);

  function readAll(chunks: Uint8Array[], options = {}): { head: string; rest: Uint8Array } {
    const reader = new HttpHeadReader(options);
    const restParts: Uint8Array[] = [];
    let result: { head: string; rest: Uint8Array } | null = null;
    for (const chunk of chunks) {
      if (result === null) {
        result = reader.push(chunk);
        if (result !== null) restParts.push(result.rest);
      } else {
        restParts.push(chunk);
      }
    }
    assert.ok(result !== null, 'head never completed');
    return { head: result.head, rest: concat(...restParts) };
  }

  test('finds the head and the bytes after it, split at every pair of points', () => {
    for (const chunks of everyPairOfSplits(input)) {
      const got = readAll(chunks);
      assert.equal(got.head, head);
      assertBytes(got.rest, rest);
    }
  });

  test('finds the head fed one byte at a time', () => {
    const got = readAll(Array.from(input, (b) => Uint8Array.of(b)));
    assert.equal(got.head, head);
    assertBytes(got.rest, rest);
  });

  test('returns null until the blank line, and an empty rest when nothing follows', () => {
    const reader = new HttpHeadReader();
    const bytes = latin1('HTTP/1.1 101 OK\r\nA: b\r\n\r\n');
    for (let i = 0; i < bytes.length - 1; i++)
      assert.equal(reader.push(bytes.subarray(i, i + 1)), null);
    const result = reader.push(bytes.subarray(bytes.length - 1));
    assert.ok(result !== null);
    assert.equal(result.head, 'HTTP/1.1 101 OK\r\nA: b');
    assert.equal(result.rest.length, 0);
  });

  test('a CR that does not start the terminator does not confuse it (\\r\\r\\n\\r\\n, \\r\\n\\r\\r\\n\\r\\n)', () => {
    for (const text of ['X\r\r\n\r\nrest', 'X\r\n\r\r\n\r\nrest', 'X\n\r\n\r\nrest']) {
      for (const chunks of everySplit(latin1(text))) {
        const got = readAll(chunks);
        assert.equal(got.head + '\r\n\r\n' + new TextDecoder().decode(got.rest), text);
        assert.equal(new TextDecoder().decode(got.rest), 'rest');
      }
    }
  });

  test('every byte of the head is one character of the same code (ISO-8859-1, not windows-1252)', () => {
    const bytes = Array.from({ length: 256 }, (_, b) => b).filter((b) => b !== 0x0d && b !== 0x0a);
    const text = `X-All: ${String.fromCharCode(...bytes)}`;
    const got = new HttpHeadReader().push(latin1(`${text}\r\n\r\n`));
    assert.equal(got?.head, text);
    // An ASCII head takes the native path: the same answer.
    assert.equal(new HttpHeadReader().push(latin1('A: b\r\n\r\n'))?.head, 'A: b');
  });

  test('a bare LF LF does not end the head', () => {
    const reader = new HttpHeadReader();
    assert.equal(reader.push(latin1('GET / HTTP/1.1\n\nmore')), null);
  });

  test('the chunks it was fed may be reused afterwards', () => {
    const reader = new HttpHeadReader();
    const chunk = latin1('GET / HTTP/1.1\r\nHo');
    reader.push(chunk);
    chunk.fill(0x41);
    const result = reader.push(latin1('st: x\r\n\r\n'));
    assert.equal(result?.head, 'GET / HTTP/1.1\r\nHost: x');
  });

  test('a head of exactly maxHeaderSize bytes (with its blank line) is accepted; one more byte throws HEADERS_TOO_LARGE', () => {
    assert.equal(DEFAULT_MAX_HEADER_SIZE, 16 * 1024);
    const max = 64;
    const exact = `GET / HTTP/1.1\r\nX: ${'a'.repeat(max - 23)}\r\n\r\n`;
    assert.equal(exact.length, max);
    const over = `GET / HTTP/1.1\r\nX: ${'a'.repeat(max - 22)}\r\n\r\n`;
    for (const chunks of everySplit(latin1(exact + 'REST'))) {
      assert.equal(readAll(chunks, { maxHeaderSize: max }).head, exact.slice(0, -4));
    }
    for (const chunks of everySplit(latin1(over))) {
      const reader = new HttpHeadReader({ maxHeaderSize: max });
      const e = assertHandshakeError(
        () => {
          for (const c of chunks) reader.push(c);
        },
        'HEADERS_TOO_LARGE',
        431,
      );
      assert.match(e.message, /64 bytes/);
    }
  });

  test('throws HEADERS_TOO_LARGE as soon as more than maxHeaderSize bytes arrived without a blank line', () => {
    const reader = new HttpHeadReader({ maxHeaderSize: 100 });
    assert.equal(reader.push(new Uint8Array(100).fill(0x61)), null);
    assertHandshakeError(() => reader.push(Uint8Array.of(0x61)), 'HEADERS_TOO_LARGE', 431);
  });

  test('bytes after the head do not count against maxHeaderSize', () => {
    const bytes = concat(latin1('GET / HTTP/1.1\r\n\r\n'), new Uint8Array(1000));
    const result = new HttpHeadReader({ maxHeaderSize: 20 }).push(bytes);
    assert.equal(result?.rest.length, 1000);
  });
});

// ---- parsing heads ----------------------------------------------------------------

describe('parseResponseHead', () => {
  test('parses the status line and the headers', () => {
    const res = parseResponseHead(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection:Upgrade\r\nX-Empty:\r\nX-Pad:   v  ',
    );
    assert.equal(res.httpVersion, '1.1');
    assert.equal(res.status, 101);
    assert.equal(res.statusText, 'Switching Protocols');
    assert.equal(res.headers.get('upgrade'), 'websocket');
    assert.equal(res.headers.get('connection'), 'Upgrade');
    assert.equal(res.headers.get('x-empty'), '');
    assert.equal(res.headers.get('x-pad'), 'v');
  });

  test('accepts a status line without a reason phrase', () => {
    for (const line of ['HTTP/1.1 404', 'HTTP/1.1 404 ']) {
      const res = parseResponseHead(line);
      assert.equal(res.status, 404);
      assert.equal(res.statusText, '');
    }
  });

  const malformed = [
    ['an empty head', ''],
    ['no space', 'HTTP/1.1'],
    ['a non-numeric status', 'HTTP/1.1 abc OK'],
    ['a 2-digit status', 'HTTP/1.1 10 OK'],
    ['a 4-digit status', 'HTTP/1.1 1010 Switching Protocols'],
    ['a status glued to the reason', 'HTTP/1.1 101Switching'],
    ['a status out of range', 'HTTP/1.1 600 Nope'],
    ['a status of 099', 'HTTP/1.1 099 Nope'],
    ['not HTTP', 'HTTX/1.1 101 OK'],
    ['a header without a colon', 'HTTP/1.1 101 OK\r\nUpgrade websocket'],
    ['a header with an empty name', 'HTTP/1.1 101 OK\r\n: websocket'],
    ['whitespace before the colon', 'HTTP/1.1 101 OK\r\nUpgrade : websocket'],
    ['an obs-fold continuation line', 'HTTP/1.1 101 OK\r\nX-A: 1\r\n  continued'],
    ['a NUL in a value', 'HTTP/1.1 101 OK\r\nX-A: a\0b'],
    ['a bare LF inside a value', 'HTTP/1.1 101 OK\r\nX-A: a\nb: c'],
  ] as const;
  for (const [name, head] of malformed) {
    test(`rejects ${name}: MALFORMED_HTTP`, () => {
      assertHandshakeError(() => parseResponseHead(head), 'MALFORMED_HTTP');
    });
  }

  test('more header lines than maxHeaderCount: TOO_MANY_HEADERS (431); exactly that many is fine', () => {
    assert.equal(DEFAULT_MAX_HEADER_COUNT, 100);
    const lines = (n: number): string =>
      ['HTTP/1.1 101 OK', ...Array.from({ length: n }, (_, i) => `X-${i}: ${i}`)].join('\r\n');
    assert.equal(parseResponseHead(lines(3), 3).headers.entries.length, 3);
    assertHandshakeError(() => parseResponseHead(lines(4), 3), 'TOO_MANY_HEADERS', 431);
    assert.equal(parseResponseHead(lines(100)).headers.entries.length, 100);
    assertHandshakeError(() => parseResponseHead(lines(101)), 'TOO_MANY_HEADERS', 431);
  });
});

describe('parseRequestHead', () => {
  test('parses the request line and the headers', () => {
    const req = parseRequestHead('GET /chat?x=1 HTTP/1.1\r\nHost: server.example.com');
    assert.equal(req.method, 'GET');
    assert.equal(req.target, '/chat?x=1');
    assert.equal(req.httpVersion, '1.1');
    assert.equal(req.headers.get('host'), 'server.example.com');
  });

  const malformed = [
    ['an empty head', ''],
    ['a missing version', 'GET /'],
    ['a double space', 'GET  / HTTP/1.1'],
    ['a trailing space', 'GET / HTTP/1.1 '],
    ['a method that is not a token', 'G(T / HTTP/1.1'],
    ['not HTTP', 'GET / FTP/1.1'],
    ['a header without a colon', 'GET / HTTP/1.1\r\nHost'],
    ['whitespace before the colon', 'GET / HTTP/1.1\r\nHost : x'],
  ] as const;
  for (const [name, head] of malformed) {
    test(`rejects ${name}: MALFORMED_HTTP`, () => {
      assertHandshakeError(() => parseRequestHead(head), 'MALFORMED_HTTP', 400);
    });
  }

  test('more header lines than maxHeaderCount: TOO_MANY_HEADERS (431)', () => {
    const head = ['GET / HTTP/1.1', 'A: 1', 'B: 2', 'C: 3'].join('\r\n');
    assert.equal(parseRequestHead(head, 3).headers.entries.length, 3);
    assertHandshakeError(() => parseRequestHead(head, 2), 'TOO_MANY_HEADERS', 431);
  });
});

// ---- client side --------------------------------------------------------------------

describe('validateUserHeaders', () => {
  test('returns the headers, allowing Host', () => {
    assert.deepEqual(
      validateUserHeaders([
        ['Host', 'other.example:8080'],
        ['Authorization', 'Bearer x'],
        ['X-Latin', 'café'],
      ]),
      [
        ['Host', 'other.example:8080'],
        ['Authorization', 'Bearer x'],
        ['X-Latin', 'café'],
      ],
    );
  });

  test('rejects values with CR, LF or NUL (header injection), and beyond Latin-1', () => {
    for (const value of ['a\r\nX-Evil: 1', 'a\rb', 'a\nb', 'a\0b', '☃']) {
      assert.throws(
        () => validateUserHeaders([['X-Test', value]]),
        TypeError,
        JSON.stringify(value),
      );
    }
  });

  test('rejects names that are not tokens', () => {
    for (const name of ['', 'X Test', 'X:Test', 'X-Tëst', 'X\r\nY', '(x)']) {
      assert.throws(() => validateUserHeaders([[name, 'v']]), TypeError, JSON.stringify(name));
    }
  });

  test('rejects the handshake’s own headers, in any case', () => {
    for (const name of [
      'Upgrade',
      'connection',
      'Sec-WebSocket-Key',
      'SEC-WEBSOCKET-VERSION',
      'Sec-WebSocket-Protocol',
      'Sec-WebSocket-Extensions',
      'Sec-WebSocket-Accept',
      'Content-Length',
      'Transfer-Encoding',
    ]) {
      assert.throws(() => validateUserHeaders([[name, 'x']]), TypeError, name);
    }
  });
});

describe('buildClientRequest', () => {
  test('writes the RFC 6455 4.1 request', () => {
    assert.equal(
      buildClientRequest({ host: 'server.example.com', path: '/chat', key: RFC_KEY }),
      'GET /chat HTTP/1.1\r\n' +
        'Host: server.example.com\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${RFC_KEY}\r\n` +
        'Sec-WebSocket-Version: 13\r\n' +
        '\r\n',
    );
  });

  test('adds protocols, extensions and user headers; a user Host replaces the default', () => {
    assert.equal(
      buildClientRequest({
        host: '[::1]:8080',
        path: '/?a=b',
        key: RFC_KEY,
        protocols: ['chat', 'superchat'],
        extensions: 'permessage-deflate; client_max_window_bits',
        headers: [
          ['host', 'virtual.example'],
          ['Authorization', 'Basic eDp5'],
        ],
      }),
      'GET /?a=b HTTP/1.1\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${RFC_KEY}\r\n` +
        'Sec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Protocol: chat, superchat\r\n' +
        'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n' +
        'host: virtual.example\r\n' +
        'Authorization: Basic eDp5\r\n' +
        '\r\n',
    );
  });

  test('empty protocol list and empty extensions write no header', () => {
    const req = buildClientRequest({
      host: 'h',
      path: '/',
      key: RFC_KEY,
      protocols: [],
      extensions: '',
    });
    assert.ok(!req.includes('Sec-WebSocket-Protocol'));
    assert.ok(!req.includes('Sec-WebSocket-Extensions'));
  });
});

describe('validateServerResponse', () => {
  const offer: ClientOffer = { key: RFC_KEY, sha1Base64, protocols: ['chat', 'superchat'] };
  const good = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${RFC_ACCEPT}`,
  ];
  const response = (lines: string[]) => parseResponseHead(lines.join('\r\n'));
  const without = (name: string) =>
    good.filter((l) => !l.toLowerCase().startsWith(name.toLowerCase()));

  /** The same offer without subprotocols: a response may then select none. */
  const plain: ClientOffer = { ...offer, protocols: [] };

  test('accepts the RFC example response; no protocol or extension selected', () => {
    assert.deepEqual(validateServerResponse(response(good), plain), {
      protocol: '',
      extensions: '',
    });
  });

  test('accepts case variations of the Upgrade and Connection values, and Connection lists', () => {
    const lines = [
      ...without('upgrade:').filter((l) => !l.startsWith('Connection')),
      'Upgrade: WebSocket',
      'Connection: keep-alive, UPGRADE',
    ];
    assert.deepEqual(validateServerResponse(response(lines), plain), {
      protocol: '',
      extensions: '',
    });
  });

  test('returns the selected subprotocol when it was offered', () => {
    assert.deepEqual(
      validateServerResponse(response([...good, 'Sec-WebSocket-Protocol: superchat']), offer),
      { protocol: 'superchat', extensions: '' },
    );
  });

  test('subprotocols offered and none selected (no header, or an empty one): MISSING_PROTOCOL, as the WHATWG standard asks', () => {
    for (const lines of [
      good,
      [...good, 'Sec-WebSocket-Protocol: '],
      [...good, 'Sec-WebSocket-Protocol:  '],
    ]) {
      assertHandshakeError(
        () => validateServerResponse(response(lines), offer),
        'MISSING_PROTOCOL',
      );
    }
  });

  test('returns the accepted extensions when they were offered', () => {
    const res = response([
      ...good,
      'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover',
    ]);
    assert.deepEqual(
      validateServerResponse(res, {
        ...plain,
        extensions: offerExtensionsByName(['permessage-deflate']),
      }),
      {
        protocol: '',
        extensions: 'permessage-deflate; server_no_context_takeover',
      },
    );
  });

  test('a status other than 101: UNEXPECTED_STATUS naming the status', () => {
    const e = assertHandshakeError(
      () =>
        validateServerResponse(response(['HTTP/1.1 403 Forbidden', 'Content-Length: 0']), offer),
      'UNEXPECTED_STATUS',
    );
    assert.match(e.message, /403 Forbidden/);
    const e2 = assertHandshakeError(
      () => validateServerResponse(response(['HTTP/1.1 200']), offer),
      'UNEXPECTED_STATUS',
    );
    assert.match(e2.message, /200 instead of 101/);
  });

  test('a 3xx with a Location: REDIRECT naming the location; without one: UNEXPECTED_STATUS', () => {
    const e = assertHandshakeError(
      () =>
        validateServerResponse(
          response(['HTTP/1.1 302 Found', 'Location: wss://elsewhere.example/ws']),
          offer,
        ),
      'REDIRECT',
    );
    assert.match(e.message, /302/);
    assert.match(e.message, /wss:\/\/elsewhere\.example\/ws/);
    assertHandshakeError(
      () => validateServerResponse(response(['HTTP/1.1 304 Not Modified']), offer),
      'UNEXPECTED_STATUS',
    );
  });

  test('missing or wrong Upgrade: BAD_UPGRADE', () => {
    assertHandshakeError(
      () => validateServerResponse(response(without('upgrade:')), offer),
      'BAD_UPGRADE',
    );
    assertHandshakeError(
      () => validateServerResponse(response([...without('upgrade:'), 'Upgrade: h2c']), offer),
      'BAD_UPGRADE',
    );
  });

  test('missing Connection or no Upgrade token in it: BAD_CONNECTION', () => {
    assertHandshakeError(
      () => validateServerResponse(response(without('connection:')), offer),
      'BAD_CONNECTION',
    );
    assertHandshakeError(
      () =>
        validateServerResponse(
          response([...without('connection:'), 'Connection: keep-alive']),
          offer,
        ),
      'BAD_CONNECTION',
    );
  });

  test('missing, wrong or repeated Sec-WebSocket-Accept: BAD_ACCEPT', () => {
    assertHandshakeError(
      () => validateServerResponse(response(without('sec-websocket-accept')), offer),
      'BAD_ACCEPT',
    );
    assertHandshakeError(
      () =>
        validateServerResponse(
          response([
            ...without('sec-websocket-accept'),
            `Sec-WebSocket-Accept: ${acceptKey(generateKey(), sha1Base64)}`,
          ]),
          offer,
        ),
      'BAD_ACCEPT',
    );
    assertHandshakeError(
      () =>
        validateServerResponse(response([...good, `Sec-WebSocket-Accept: ${RFC_ACCEPT}`]), offer),
      'BAD_ACCEPT',
    );
  });

  test('a subprotocol that was not offered (or none offered, or two selected): UNREQUESTED_PROTOCOL', () => {
    assertHandshakeError(
      () => validateServerResponse(response([...good, 'Sec-WebSocket-Protocol: other']), offer),
      'UNREQUESTED_PROTOCOL',
    );
    assertHandshakeError(
      () =>
        validateServerResponse(response([...good, 'Sec-WebSocket-Protocol: chat']), {
          key: RFC_KEY,
          sha1Base64,
          protocols: [],
        }),
      'UNREQUESTED_PROTOCOL',
    );
    assertHandshakeError(
      () =>
        validateServerResponse(
          response([...good, 'Sec-WebSocket-Protocol: chat, superchat']),
          offer,
        ),
      'UNREQUESTED_PROTOCOL',
    );
    assertHandshakeError(
      () =>
        validateServerResponse(
          response([...good, 'Sec-WebSocket-Protocol: chat', 'Sec-WebSocket-Protocol: chat']),
          offer,
        ),
      'UNREQUESTED_PROTOCOL',
    );
  });

  test('any extension that was not offered: UNREQUESTED_EXTENSION', () => {
    assertHandshakeError(
      () =>
        validateServerResponse(
          response([...good, 'Sec-WebSocket-Extensions: permessage-deflate']),
          offer,
        ),
      'UNREQUESTED_EXTENSION',
    );
    assertHandshakeError(
      () =>
        validateServerResponse(
          response([...good, 'Sec-WebSocket-Extensions: permessage-deflate, x-other']),
          {
            ...offer,
            extensions: offerExtensionsByName(['permessage-deflate']),
          },
        ),
      'UNREQUESTED_EXTENSION',
    );
  });
});

// ---- server side ---------------------------------------------------------------------

describe('validateClientRequest', () => {
  const good = [
    'GET /chat HTTP/1.1',
    'Host: server.example.com',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${RFC_KEY}`,
    'Sec-WebSocket-Version: 13',
  ];
  const asRequest = (head: RequestHead): RequestLike => ({
    method: head.method,
    httpVersion: head.httpVersion,
    header: (name) => head.headers.get(name),
    headerCount: (name) => head.headers.count(name),
  });
  const request = (lines: string[]): RequestLike => asRequest(parseRequestHead(lines.join('\r\n')));
  const replace = (name: string, line: string | null): string[] => {
    const out = good.filter((l) => !l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
    return line === null ? out : [...out, line];
  };

  test('accepts the RFC 6455 example request', () => {
    assert.deepEqual(validateClientRequest(request(good)), {
      key: RFC_KEY,
      protocols: [],
      extensions: '',
    });
  });

  test('returns the offered protocols in order and the raw extension offer', () => {
    const got = validateClientRequest(
      request([
        ...good,
        'Sec-WebSocket-Protocol: chat, superchat',
        'Sec-WebSocket-Protocol: v2',
        'Sec-WebSocket-Extensions: permessage-deflate',
      ]),
    );
    assert.deepEqual(got, {
      key: RFC_KEY,
      protocols: ['chat', 'superchat', 'v2'],
      extensions: 'permessage-deflate',
    });
  });

  test('accepts Connection lists and any letter case ("keep-alive, Upgrade", "UPGRADE"), and Upgrade "WebSocket"', () => {
    for (const connection of ['keep-alive, Upgrade', 'UPGRADE', 'upgrade', 'Keep-Alive,upgrade']) {
      const lines = replace('connection', `Connection: ${connection}`).filter(
        (l) => !l.startsWith('Upgrade:'),
      );
      lines.push('Upgrade: WebSocket');
      assert.equal(validateClientRequest(request(lines)).key, RFC_KEY, connection);
    }
  });

  test('accepts HTTP/1.1 and later versions', () => {
    for (const version of ['1.1', '1.2', '2', '2.0']) {
      assert.equal(validateClientRequest({ ...request(good), httpVersion: version }).key, RFC_KEY);
    }
  });

  test('POST: BAD_METHOD, 405 with Allow: GET', () => {
    const e = assertHandshakeError(
      () => validateClientRequest(request(['POST /chat HTTP/1.1', ...good.slice(1)])),
      'BAD_METHOD',
      405,
    );
    assert.deepEqual(e.headers, [['Allow', 'GET']]);
  });

  test('HTTP/1.0 (or garbage): BAD_HTTP_VERSION, 400', () => {
    assertHandshakeError(
      () => validateClientRequest(request(['GET /chat HTTP/1.0', ...good.slice(1)])),
      'BAD_HTTP_VERSION',
      400,
    );
    assertHandshakeError(
      () => validateClientRequest(request(['GET /chat HTTP/0.9', ...good.slice(1)])),
      'BAD_HTTP_VERSION',
      400,
    );
    assertHandshakeError(
      () => validateClientRequest(request(['GET /chat HTTP/x', ...good.slice(1)])),
      'BAD_HTTP_VERSION',
      400,
    );
  });

  test('no Host: MISSING_HOST, 400', () => {
    assertHandshakeError(
      () => validateClientRequest(request(replace('host', null))),
      'MISSING_HOST',
      400,
    );
  });

  test('no Upgrade header: NOT_UPGRADE, 426 with Upgrade: websocket', () => {
    const e = assertHandshakeError(
      () => validateClientRequest(request(replace('upgrade', null))),
      'NOT_UPGRADE',
      426,
    );
    assert.deepEqual(e.headers, [
      ['Upgrade', 'websocket'],
      ['Connection', 'Upgrade'],
    ]);
  });

  test('an Upgrade other than websocket: BAD_UPGRADE, 400', () => {
    assertHandshakeError(
      () => validateClientRequest(request(replace('upgrade', 'Upgrade: h2c'))),
      'BAD_UPGRADE',
      400,
    );
  });

  test('no Upgrade token in Connection: BAD_CONNECTION, 400', () => {
    assertHandshakeError(
      () => validateClientRequest(request(replace('connection', null))),
      'BAD_CONNECTION',
      400,
    );
    assertHandshakeError(
      () => validateClientRequest(request(replace('connection', 'Connection: keep-alive'))),
      'BAD_CONNECTION',
      400,
    );
  });

  test('version 8 or a missing version: BAD_VERSION, 426 with Sec-WebSocket-Version: 13', () => {
    for (const line of ['Sec-WebSocket-Version: 8', 'Sec-WebSocket-Version: 14', null]) {
      const e = assertHandshakeError(
        () => validateClientRequest(request(replace('sec-websocket-version', line))),
        'BAD_VERSION',
        426,
      );
      assert.deepEqual(e.headers, [['Sec-WebSocket-Version', '13']]);
    }
  });

  test('a missing, malformed or repeated key: BAD_KEY, 400', () => {
    for (const lines of [
      replace('sec-websocket-key', null),
      replace('sec-websocket-key', 'Sec-WebSocket-Key: too-short'),
      replace('sec-websocket-key', `Sec-WebSocket-Key: ${Buffer.alloc(17).toString('base64')}`),
      [...good, `Sec-WebSocket-Key: ${RFC_KEY}`],
    ]) {
      assertHandshakeError(() => validateClientRequest(request(lines)), 'BAD_KEY', 400);
    }
  });

  test('duplicate or invalid subprotocols: BAD_PROTOCOL_HEADER, 400', () => {
    for (const value of ['chat, chat', 'chat, a b', 'a/b', 'chat, "quoted"']) {
      assertHandshakeError(
        () => validateClientRequest(request([...good, `Sec-WebSocket-Protocol: ${value}`])),
        'BAD_PROTOCOL_HEADER',
        400,
      );
    }
  });
});

describe('buildServerResponse and buildErrorResponse', () => {
  test('the 101 response of RFC 6455 4.2.2', () => {
    assert.equal(
      buildServerResponse({ sha1Base64, key: RFC_KEY }),
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${RFC_ACCEPT}\r\n` +
        '\r\n',
    );
  });

  test('with a protocol, extensions and extra headers', () => {
    assert.equal(
      buildServerResponse({
        sha1Base64,
        key: RFC_KEY,
        protocol: 'chat',
        extensions: 'permessage-deflate',
        headers: [['Set-Cookie', 'a=b']],
      }),
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${RFC_ACCEPT}\r\n` +
        'Sec-WebSocket-Protocol: chat\r\n' +
        'Sec-WebSocket-Extensions: permessage-deflate\r\n' +
        'Set-Cookie: a=b\r\n' +
        '\r\n',
    );
    const empty = buildServerResponse({ sha1Base64, key: RFC_KEY, protocol: '', extensions: '' });
    assert.ok(
      !empty.includes('Sec-WebSocket-Protocol') && !empty.includes('Sec-WebSocket-Extensions'),
    );
  });

  test('an error response with status text, headers and a body whose Content-Length is in bytes', () => {
    assert.equal(
      buildErrorResponse(426, 'Upgrade to WebSocket – please', [['Sec-WebSocket-Version', '13']]),
      'HTTP/1.1 426 Upgrade Required\r\n' +
        'Connection: close\r\n' +
        'Content-Type: text/plain; charset=utf-8\r\n' +
        `Content-Length: ${utf8('Upgrade to WebSocket – please\n').length}\r\n` +
        'Sec-WebSocket-Version: 13\r\n' +
        '\r\n' +
        'Upgrade to WebSocket – please\n',
    );
    assert.match(buildErrorResponse(418, 'teapot'), /^HTTP\/1\.1 418 Error\r\n/);
    for (const [status, text] of [
      [400, 'Bad Request'],
      [405, 'Method Not Allowed'],
      [431, 'Request Header Fields Too Large'],
    ] as const) {
      assert.ok(buildErrorResponse(status, 'x').startsWith(`HTTP/1.1 ${status} ${text}\r\n`));
    }
  });

  test('an error response parses back as a response head', () => {
    const text = buildErrorResponse(405, 'Only GET', [['Allow', 'GET']]);
    const result = new HttpHeadReader().push(latin1(text));
    assert.ok(result !== null);
    const res = parseResponseHead(result.head);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET');
    assert.equal(Number(res.headers.get('content-length')), result.rest.length);
  });
});

describe('a whole handshake through the core', () => {
  test('client request → server validation → response → client validation, at every split', () => {
    const key = generateKey();
    const request = latin1(
      buildClientRequest({
        host: 'example.com:8080',
        path: '/ws',
        key,
        protocols: ['v1', 'v2'],
        headers: validateUserHeaders([['Origin', 'https://example.com']]),
      }),
    );
    for (const chunks of everySplit(request)) {
      const reader = new HttpHeadReader();
      let result: { head: string; rest: Uint8Array } | null = null;
      for (const c of chunks) result ??= reader.push(c);
      assert.ok(result !== null);
      const head = parseRequestHead(result.head);
      const offer = validateClientRequest({
        method: head.method,
        httpVersion: head.httpVersion,
        header: (n) => head.headers.get(n),
        headerCount: (n) => head.headers.count(n),
      });
      assert.deepEqual(offer.protocols, ['v1', 'v2']);
      assert.equal(head.headers.get('origin'), 'https://example.com');
      const response = latin1(buildServerResponse({ key: offer.key, sha1Base64, protocol: 'v2' }));
      const resHead = new HttpHeadReader().push(concat(response, Uint8Array.of(0x81, 0)));
      assert.ok(resHead !== null);
      assertBytes(resHead.rest, Uint8Array.of(0x81, 0));
      assert.deepEqual(
        validateServerResponse(parseResponseHead(resHead.head), {
          key,
          sha1Base64,
          protocols: ['v1', 'v2'],
        }),
        {
          protocol: 'v2',
          extensions: '',
        },
      );
    }
  });
});
