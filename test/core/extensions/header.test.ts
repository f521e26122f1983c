import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatExtension, parseExtensions } from '../../../src/core/extensions/header.js';

function ok(value: string) {
  const r = parseExtensions(value);
  assert.ok(r.ok, `expected ${JSON.stringify(value)} to parse: ${r.ok ? '' : r.error}`);
  return r.extensions;
}

describe('Sec-WebSocket-Extensions grammar', () => {
  test('one extension with bare and valued parameters', () => {
    assert.deepEqual(ok('permessage-deflate; client_max_window_bits; server_max_window_bits=10'), [
      {
        name: 'permessage-deflate',
        params: [
          { name: 'client_max_window_bits', value: null },
          { name: 'server_max_window_bits', value: '10' },
        ],
      },
    ]);
  });

  test('several offers, as several header lines joined with ", "', () => {
    const list = ok('permessage-deflate; server_max_window_bits=10, permessage-deflate,x-foo;a=b');
    assert.deepEqual(
      list.map((e) => [e.name, e.params.length]),
      [
        ['permessage-deflate', 1],
        ['permessage-deflate', 0],
        ['x-foo', 1],
      ],
    );
  });

  test('quoted values are unquoted, escapes included', () => {
    assert.deepEqual(ok('permessage-deflate; server_max_window_bits="10"')[0]!.params, [
      { name: 'server_max_window_bits', value: '10' },
    ]);
    assert.equal(ok('e; p="a\\bc"')[0]!.params[0]!.value, 'abc');
  });

  test('names are case-insensitive and white space around separators is optional', () => {
    assert.deepEqual(ok('Permessage-Deflate ;\tClient_Max_Window_Bits = 9 ,,  '), [
      { name: 'permessage-deflate', params: [{ name: 'client_max_window_bits', value: '9' }] },
    ]);
  });

  test('an empty value or one of only empty elements is an empty list', () => {
    assert.deepEqual(ok(''), []);
    assert.deepEqual(ok(' , ,'), []);
  });

  const malformed: [string, RegExp][] = [
    [';', /extension name/],
    ['permessage-deflate;', /parameter name/],
    ['permessage-deflate; =10', /parameter name/],
    ['permessage-deflate; a=', /value for parameter "a"/],
    ['permessage-deflate; a="10', /closing quote/],
    ['permessage-deflate; a="1 0"', /not a token/],
    ['permessage-deflate; a=""', /not a token/],
    ['permessage-deflate a', /"," or ";"/],
    ['permessage-deflate; a=1 2', /"," or ";"/],
    ['permessage-deflate; a="\u0001"', /closing quote/],
    ['perm\u00e9ssage', /"," or ";"/],
  ];
  for (const [value, error] of malformed) {
    test(`malformed ${JSON.stringify(value)} is a value, never an exception`, () => {
      const r = parseExtensions(value);
      assert.equal(r.ok, false);
      assert.match(r.ok ? '' : r.error, error);
    });
  }

  test('a long hostile header parses in linear time', () => {
    const value = 'a; b="' + '\\x'.repeat(200_000) + '"';
    const t = performance.now();
    assert.equal(parseExtensions(value).ok, true);
    assert.equal(parseExtensions('a;'.repeat(100_000)).ok, false);
    assert.ok(performance.now() - t < 2000);
  });

  test('formatExtension writes what parseExtensions reads', () => {
    const text = 'permessage-deflate; server_no_context_takeover; client_max_window_bits=10';
    assert.equal(formatExtension(ok(text)[0]!), text);
  });
});
