import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CloseCode,
  encodeClosePayload,
  isValidWireCloseCode,
  MAX_CLOSE_REASON_BYTES,
  parseClosePayload,
  utf8Length,
} from '../../src/core/close.js';
import { assertBytes, utf8 } from './helpers.js';

const INVALID_ON_WIRE = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
const VALID_ON_WIRE = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014];
const VALID_APPLICATION = [3000, 3999, 4000, 4999];

function closePayload(code: number, reason: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(2 + reason.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(reason, 2);
  return out;
}

describe('CloseCode', () => {
  test('holds the RFC 6455 7.4.1 and IANA values', () => {
    assert.deepEqual(
      { ...CloseCode },
      {
        NORMAL_CLOSURE: 1000,
        GOING_AWAY: 1001,
        PROTOCOL_ERROR: 1002,
        UNSUPPORTED_DATA: 1003,
        NO_STATUS_RECEIVED: 1005,
        ABNORMAL_CLOSURE: 1006,
        INVALID_FRAME_PAYLOAD_DATA: 1007,
        POLICY_VIOLATION: 1008,
        MESSAGE_TOO_BIG: 1009,
        MANDATORY_EXTENSION: 1010,
        INTERNAL_ERROR: 1011,
        SERVICE_RESTART: 1012,
        TRY_AGAIN_LATER: 1013,
        BAD_GATEWAY: 1014,
        TLS_HANDSHAKE: 1015,
      },
    );
    assert.equal(MAX_CLOSE_REASON_BYTES, 123);
  });
});

describe('isValidWireCloseCode', () => {
  test('is true exactly for 1000-1003, 1007-1014 and 3000-4999 over all 16-bit codes', () => {
    for (let code = 0; code <= 0xffff; code++) {
      const expected =
        (code >= 1000 && code <= 1003) ||
        (code >= 1007 && code <= 1014) ||
        (code >= 3000 && code <= 4999);
      assert.equal(isValidWireCloseCode(code), expected, `code ${code}`);
    }
  });

  test('1005, 1006 and 1015 may never be sent (RFC 6455 7.4.1)', () => {
    for (const code of [1005, 1006, 1015]) assert.equal(isValidWireCloseCode(code), false);
  });

  test('non-integers, NaN and out-of-range numbers are not close codes', () => {
    for (const code of [1000.5, 3000.25, Number.NaN, -1000, 65536, Infinity]) {
      assert.equal(isValidWireCloseCode(code), false, `code ${code}`);
    }
  });
});

describe('parseClosePayload', () => {
  test('an empty payload means no status: 1005 with an empty reason', () => {
    assert.deepEqual(parseClosePayload(new Uint8Array(0)), {
      ok: true,
      code: 1005,
      reason: '',
    });
  });

  test('a 1-byte payload: CLOSE_PAYLOAD_TOO_SHORT', () => {
    for (const b of [0x03, 0xe8, 0x00]) {
      assert.deepEqual(parseClosePayload(Uint8Array.of(b)), {
        ok: false,
        error: 'CLOSE_PAYLOAD_TOO_SHORT',
      });
    }
  });

  for (const code of INVALID_ON_WIRE) {
    test(`code ${code} on the wire: INVALID_CLOSE_CODE`, () => {
      assert.deepEqual(parseClosePayload(closePayload(code)), {
        ok: false,
        error: 'INVALID_CLOSE_CODE',
      });
      assert.deepEqual(parseClosePayload(closePayload(code, utf8('why'))), {
        ok: false,
        error: 'INVALID_CLOSE_CODE',
      });
    });
  }

  test('valid codes are returned with their reason', () => {
    for (const code of [...VALID_ON_WIRE, ...VALID_APPLICATION]) {
      assert.deepEqual(parseClosePayload(closePayload(code)), { ok: true, code, reason: '' });
      assert.deepEqual(parseClosePayload(closePayload(code, utf8('bye ☃'))), {
        ok: true,
        code,
        reason: 'bye ☃',
      });
    }
  });

  test('a reason of 123 bytes, the most a control frame can carry, is accepted', () => {
    const reason = 'é'.repeat(61) + 'x';
    assert.equal(utf8(reason).length, 123);
    assert.deepEqual(parseClosePayload(closePayload(1000, utf8(reason))), {
      ok: true,
      code: 1000,
      reason,
    });
  });

  test('a leading U+FEFF in the reason is preserved', () => {
    const parsed = parseClosePayload(closePayload(1000, utf8('\uFEFFbye')));
    assert.deepEqual(parsed, { ok: true, code: 1000, reason: '\uFEFFbye' });
  });

  const badReasons: Array<[string, number[]]> = [
    ['overlong', [0xc0, 0xaf]],
    ['surrogate', [0xed, 0xa0, 0x80]],
    ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['truncated at the end', [0x61, 0xe2, 0x82]],
    ['invalid continuation', [0xe2, 0x28, 0xa1]],
    ['stray continuation', [0x80]],
  ];
  for (const [name, bytes] of badReasons) {
    test(`a reason that is not UTF-8 (${name}): INVALID_CLOSE_REASON`, () => {
      assert.deepEqual(parseClosePayload(closePayload(1000, Uint8Array.from(bytes))), {
        ok: false,
        error: 'INVALID_CLOSE_REASON',
      });
    });
  }

  test('the code is checked before the reason', () => {
    assert.deepEqual(parseClosePayload(closePayload(1005, Uint8Array.of(0xff))), {
      ok: false,
      error: 'INVALID_CLOSE_CODE',
    });
  });

  test('reads the code from a view at a non-zero byte offset', () => {
    const backing = Uint8Array.of(0xff, 0xff, 0x0b, 0xb8, 0x68, 0x69);
    assert.deepEqual(parseClosePayload(backing.subarray(2)), {
      ok: true,
      code: 3000,
      reason: 'hi',
    });
  });
});

describe('encodeClosePayload', () => {
  test('no code gives an empty payload', () => {
    assert.equal(encodeClosePayload(undefined).length, 0);
  });

  test('the code in network byte order followed by the UTF-8 reason', () => {
    assertBytes(encodeClosePayload(1000), Uint8Array.of(0x03, 0xe8));
    assertBytes(encodeClosePayload(4999, 'ok'), Uint8Array.of(0x13, 0x87, 0x6f, 0x6b));
    assertBytes(encodeClosePayload(3000, '☃'), Uint8Array.of(0x0b, 0xb8, 0xe2, 0x98, 0x83));
  });

  test('round-trips through parseClosePayload', () => {
    for (const code of [...VALID_ON_WIRE, ...VALID_APPLICATION]) {
      for (const reason of ['', 'x', '\uFEFF', 'déjà vu \u{1F44B}']) {
        assert.deepEqual(parseClosePayload(encodeClosePayload(code, reason)), {
          ok: true,
          code,
          reason,
        });
      }
    }
  });
});

describe('utf8Length', () => {
  test('equals the length of TextEncoder output, including for lone surrogates', () => {
    const texts = [
      '',
      'abc',
      'é',
      '€',
      '\u{1F600}',
      'a\uD800',
      '\uD800a',
      '\uDC00',
      '\uD800\uD800\uDC00',
      '\uDBFF\uDFFF',
      '\uD83D',
      'mixed é € \u{1F600} \uDC00 end',
      '\u07FF\u0800\uFFFF',
    ];
    for (const t of texts) assert.equal(utf8Length(t), utf8(t).length, JSON.stringify(t));
  });

  test('equals TextEncoder on every single UTF-16 code unit and every pair from a sample', () => {
    const sample = [
      0x0, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xffff,
    ];
    for (let u = 0; u <= 0xffff; u++) {
      const s = String.fromCharCode(u);
      if (utf8Length(s) !== utf8(s).length) assert.fail(`unit ${u.toString(16)}`);
    }
    for (const a of sample) {
      for (const b of sample) {
        const s = String.fromCharCode(a, b);
        assert.equal(utf8Length(s), utf8(s).length, `${a.toString(16)} ${b.toString(16)}`);
      }
    }
  });
});
