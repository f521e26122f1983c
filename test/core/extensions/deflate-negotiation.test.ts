import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  acceptOffer,
  clientOffer,
  validateAnswer,
  validateDeflateOptions,
} from '../../../src/core/extensions/deflate-negotiation.js';

describe('client offer', () => {
  test('default is what browsers send', () => {
    assert.equal(clientOffer(), 'permessage-deflate; client_max_window_bits');
  });
  test('every option appears as its parameter', () => {
    assert.equal(
      clientOffer({
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 9,
      }),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9',
    );
  });
  test('options out of range throw RangeError', () => {
    for (const o of [
      { serverMaxWindowBits: 7 },
      { clientMaxWindowBits: 16 },
      { serverMaxWindowBits: 12.5 },
      { memLevel: 0 },
      { memLevel: 10 },
      { level: -1 },
      { level: 10 },
      { threshold: -1 },
      { threshold: Number.NaN },
    ]) {
      assert.throws(() => validateDeflateOptions(o), RangeError, JSON.stringify(o));
    }
    validateDeflateOptions({
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 15,
      memLevel: 1,
      level: 0,
      threshold: 0,
    });
  });
});

describe('server accepts the first acceptable offer (RFC 7692 7.1)', () => {
  test('a browser offer gets window bits 12 both ways', () => {
    const r = acceptOffer('permessage-deflate; client_max_window_bits');
    assert.deepEqual(r, {
      header: 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12',
      params: {
        serverNoContextTakeover: false,
        clientNoContextTakeover: false,
        serverMaxWindowBits: 12,
        clientMaxWindowBits: 12,
      },
    });
  });
  test('without client_max_window_bits in the offer, the answer must not carry it and the client keeps 15', () => {
    const r = acceptOffer('permessage-deflate')!;
    assert.equal(r.header, 'permessage-deflate; server_max_window_bits=12');
    assert.equal(r.params.clientMaxWindowBits, 15);
  });
  test('window bits 15 configured: nothing to announce for the server', () => {
    const r = acceptOffer('permessage-deflate', { serverMaxWindowBits: 15 })!;
    assert.equal(r.header, 'permessage-deflate');
    assert.equal(r.params.serverMaxWindowBits, 15);
  });
  test('offered window bits are honoured (the smaller of offer and configuration)', () => {
    const r = acceptOffer(
      'permessage-deflate; server_max_window_bits=10; client_max_window_bits=9',
    )!;
    assert.equal(
      r.header,
      'permessage-deflate; server_max_window_bits=10; client_max_window_bits=9',
    );
    const s = acceptOffer(
      'permessage-deflate; server_max_window_bits=15; client_max_window_bits=15',
      {
        serverMaxWindowBits: 15,
        clientMaxWindowBits: 15,
      },
    )!;
    assert.equal(
      s.header,
      'permessage-deflate; server_max_window_bits=15; client_max_window_bits=15',
    );
  });
  test('no-context-takeover offered is echoed; configured is added', () => {
    assert.equal(
      acceptOffer('permessage-deflate; server_no_context_takeover; client_no_context_takeover')!
        .header,
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12',
    );
    const r = acceptOffer('permessage-deflate', {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
    })!;
    assert.equal(r.params.serverNoContextTakeover, true);
    assert.equal(r.params.clientNoContextTakeover, true);
  });
  test('quoted values count as their token', () => {
    assert.equal(
      acceptOffer('permessage-deflate; server_max_window_bits="10"')!.params.serverMaxWindowBits,
      10,
    );
  });

  const declined: [string, string][] = [
    ['unknown parameter', 'permessage-deflate; foo'],
    ['repeated parameter', 'permessage-deflate; client_max_window_bits; client_max_window_bits'],
    [
      'repeated no-context-takeover',
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
    ],
    ['value on server_no_context_takeover', 'permessage-deflate; server_no_context_takeover=1'],
    ['value on client_no_context_takeover', 'permessage-deflate; client_no_context_takeover="x"'],
    ['server_max_window_bits without a value', 'permessage-deflate; server_max_window_bits'],
    [
      'server_max_window_bits=16 (undici CVE-2026-2229)',
      'permessage-deflate; server_max_window_bits=16',
    ],
    ['server_max_window_bits=7', 'permessage-deflate; server_max_window_bits=7'],
    ['server_max_window_bits=0', 'permessage-deflate; server_max_window_bits=0'],
    ['leading zero', 'permessage-deflate; server_max_window_bits=09'],
    ['not a number', 'permessage-deflate; client_max_window_bits=abc'],
    ['huge number', 'permessage-deflate; client_max_window_bits=99999999999999999999'],
    ['client_max_window_bits=16', 'permessage-deflate; client_max_window_bits=16'],
  ];
  for (const [what, header] of declined) {
    test(`declines an offer with ${what}`, () => {
      assert.equal(acceptOffer(header), null);
    });
    test(`after declining an offer with ${what}, takes the next one`, () => {
      const r = acceptOffer(`${header}, permessage-deflate; server_max_window_bits=11`);
      assert.equal(r?.params.serverMaxWindowBits, 11);
    });
  }
  test('takes the first acceptable of several offers, skipping other extensions', () => {
    const r = acceptOffer(
      'x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=10; client_max_window_bits, permessage-deflate',
    )!;
    assert.equal(
      r.header,
      'permessage-deflate; server_max_window_bits=10; client_max_window_bits=12',
    );
  });
  test('a malformed header or one with no offer means no compression, never an exception', () => {
    for (const h of [
      '',
      'x-foo',
      'permessage-deflate;',
      'permessage-deflate; a="',
      ',;,',
      '\u0000',
    ]) {
      assert.equal(acceptOffer(h), null, JSON.stringify(h));
    }
  });
  test('client_max_window_bits=8 offered: answered with the value offered (the client compresses with 8 or less)', () => {
    const r = acceptOffer('permessage-deflate; client_max_window_bits=8')!;
    assert.equal(r.params.clientMaxWindowBits, 8);
    assert.equal(
      r.header,
      'permessage-deflate; server_max_window_bits=12; client_max_window_bits=8',
    );
  });

  test('server_max_window_bits=8 offered: accepted with 8 (the server compresses with zlib at 9, within 250 bytes)', () => {
    const r = acceptOffer('permessage-deflate; server_max_window_bits=8')!;
    assert.equal(r.params.serverMaxWindowBits, 8);
    assert.equal(r.header, 'permessage-deflate; server_max_window_bits=8');
    // As an option too.
    validateDeflateOptions({ serverMaxWindowBits: 8, clientMaxWindowBits: 8 });
  });
});

describe('client validates the answer', () => {
  const offer = { serverMaxWindowBits: 10, serverNoContextTakeover: true };
  test('client_max_window_bits=8 answered: accepted (ws lets a server ask for it)', () => {
    const r = validateAnswer('permessage-deflate; client_max_window_bits=8');
    assert.equal(r.ok, true);
    assert.equal(r.ok && r.params?.clientMaxWindowBits, 8);
  });
  test('no answer, or an empty one: no compression', () => {
    assert.deepEqual(validateAnswer(undefined), { ok: true, params: null, header: '' });
    assert.deepEqual(validateAnswer('  '), { ok: true, params: null, header: '' });
  });
  test('a valid answer gives the parameters in force', () => {
    const r = validateAnswer(
      'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12',
    );
    assert.deepEqual(r, {
      ok: true,
      header: 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12',
      params: {
        serverNoContextTakeover: false,
        clientNoContextTakeover: false,
        serverMaxWindowBits: 12,
        clientMaxWindowBits: 12,
      },
    });
    const s = validateAnswer('permessage-deflate');
    assert.ok(
      s.ok &&
        s.params !== null &&
        s.params.serverMaxWindowBits === 15 &&
        s.params.clientMaxWindowBits === 15,
    );
    const t = validateAnswer('permessage-deflate; client_no_context_takeover');
    assert.ok(t.ok && t.params?.clientNoContextTakeover === true);
  });

  const errors: [string, string, Parameters<typeof validateAnswer>[1], string][] = [
    ['an unknown parameter', 'permessage-deflate; foo=1', {}, 'foo'],
    [
      'a repeated parameter',
      'permessage-deflate; server_max_window_bits=10; server_max_window_bits=10',
      {},
      'server_max_window_bits',
    ],
    [
      'server_max_window_bits=16',
      'permessage-deflate; server_max_window_bits=16',
      {},
      'server_max_window_bits',
    ],
    [
      'server_max_window_bits=7',
      'permessage-deflate; server_max_window_bits=7',
      {},
      'server_max_window_bits',
    ],
    [
      'server_max_window_bits with no value',
      'permessage-deflate; server_max_window_bits',
      {},
      'server_max_window_bits',
    ],
    [
      'client_max_window_bits with no value',
      'permessage-deflate; client_max_window_bits',
      {},
      'client_max_window_bits',
    ],
    [
      'client_max_window_bits=16',
      'permessage-deflate; client_max_window_bits=16',
      {},
      'client_max_window_bits',
    ],
    [
      'client_max_window_bits above the offer',
      'permessage-deflate; client_max_window_bits=12',
      { clientMaxWindowBits: 10 },
      'client_max_window_bits',
    ],
    [
      'server_max_window_bits above the offer',
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=11',
      offer,
      'server_max_window_bits',
    ],
    [
      'server_max_window_bits offered but not confirmed',
      'permessage-deflate; server_no_context_takeover',
      offer,
      'server_max_window_bits',
    ],
    [
      'server_no_context_takeover offered but not confirmed',
      'permessage-deflate; server_max_window_bits=10',
      offer,
      'server_no_context_takeover',
    ],
    [
      'a value on server_no_context_takeover',
      'permessage-deflate; server_no_context_takeover=yes',
      {},
      'server_no_context_takeover',
    ],
    [
      'a value on client_no_context_takeover',
      'permessage-deflate; client_no_context_takeover=1',
      {},
      'client_no_context_takeover',
    ],
    ['an extension that was not offered', 'x-foo', {}, 'x-foo'],
    [
      'permessage-deflate twice',
      'permessage-deflate, permessage-deflate',
      {},
      'permessage-deflate',
    ],
    [
      'a malformed header',
      'permessage-deflate; server_max_window_bits="1',
      {},
      'Sec-WebSocket-Extensions',
    ],
  ];
  for (const [what, header, o, param] of errors) {
    test(`fails on ${what}, naming ${param}`, () => {
      const r = validateAnswer(header, o);
      assert.equal(r.ok, false);
      if (!r.ok) {
        assert.equal(r.param, param);
        assert.ok(r.message.includes(param), r.message);
      }
    });
  }

  test('every server answer to every offer validates on the client side', () => {
    for (const o of [
      {},
      { serverMaxWindowBits: 9 },
      { clientMaxWindowBits: 10 },
      { serverNoContextTakeover: true },
      { clientNoContextTakeover: true },
    ]) {
      for (const s of [
        {},
        { serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
        { serverNoContextTakeover: true },
      ]) {
        const accepted = acceptOffer(clientOffer(o), s)!;
        const r = validateAnswer(accepted.header, o);
        assert.ok(r.ok, JSON.stringify([o, s, accepted.header]));
        assert.deepEqual(r.params, accepted.params, JSON.stringify([o, s]));
      }
    }
  });
});
