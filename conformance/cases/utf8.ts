/**
 * Category 6, UTF-8 handling (RFC 6455 8.1, RFC 3629): valid and invalid
 * sequences (after Markus Kuhn's decoder stress test, as Autobahn), sent whole,
 * fragmented at every position, in 1-byte fragments, and fail-fast (the
 * implementation must fail before the rest of the message arrives).
 *
 * The expected verdict of every sequence comes from `TextDecoder('utf-8',
 * {fatal: true})`, not from the implementation's validator.
 */
import type { Case } from '../case.js';
import { bytes, concat, Op, utf8 } from '../wire.js';

const RULE =
  'RFC 6455 8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds that the byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket Connection_" (1007, 7.4.1)';

/** Named byte sequences. */
const SEQUENCES: Array<[string, Uint8Array]> = [
  // valid
  ['ASCII text', utf8('Hello, world')],
  ['Latin-1 and other 2-byte characters', utf8('Hello-µ@ßöäüàá-UTF-8!!')],
  ['Greek "κόσμε"', utf8('κόσμε')],
  ['U+0000', bytes(0x00)],
  ['U+007F, the last 1-byte character', bytes(0x7f)],
  ['U+0080, the first 2-byte character', bytes(0xc2, 0x80)],
  ['U+07FF, the last 2-byte character', bytes(0xdf, 0xbf)],
  ['U+0800, the first 3-byte character', bytes(0xe0, 0xa0, 0x80)],
  ['U+D7FF, just below the surrogates', bytes(0xed, 0x9f, 0xbf)],
  ['U+E000, just above the surrogates', bytes(0xee, 0x80, 0x80)],
  ['U+FEFF, a byte order mark', bytes(0xef, 0xbb, 0xbf)],
  ['U+FFFD, the replacement character', bytes(0xef, 0xbf, 0xbd)],
  ['U+FFFE, a noncharacter (valid UTF-8)', bytes(0xef, 0xbf, 0xbe)],
  ['U+FFFF, the last 3-byte character', bytes(0xef, 0xbf, 0xbf)],
  ['U+10000, the first 4-byte character', bytes(0xf0, 0x90, 0x80, 0x80)],
  ['U+1F600, an emoji', utf8('\u{1F600}')],
  ['U+10FFFF, the last code point', bytes(0xf4, 0x8f, 0xbf, 0xbf)],
  ['mixed 1- to 4-byte characters', utf8('a\u00e9\u20ac\u{10348}z')],
  // invalid: overlong forms
  ['overlong "/" in 2 bytes', bytes(0xc0, 0xaf)],
  ['overlong "/" in 3 bytes', bytes(0xe0, 0x80, 0xaf)],
  ['overlong "/" in 4 bytes', bytes(0xf0, 0x80, 0x80, 0xaf)],
  ['overlong U+007F (C1 BF)', bytes(0xc1, 0xbf)],
  ['overlong U+07FF in 3 bytes', bytes(0xe0, 0x9f, 0xbf)],
  ['overlong U+FFFF in 4 bytes', bytes(0xf0, 0x8f, 0xbf, 0xbf)],
  ['overlong NUL in 2 bytes', bytes(0xc0, 0x80)],
  // invalid: surrogates
  ['high surrogate U+D800', bytes(0xed, 0xa0, 0x80)],
  ['high surrogate U+DBFF', bytes(0xed, 0xaf, 0xbf)],
  ['low surrogate U+DC00', bytes(0xed, 0xb0, 0x80)],
  ['low surrogate U+DFFF', bytes(0xed, 0xbf, 0xbf)],
  ['surrogate pair U+D800 U+DC00 (CESU-8)', bytes(0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80)],
  [
    'text then a surrogate: "κόσμε" U+D800 "edited"',
    concat([utf8('κόσμε'), bytes(0xed, 0xa0, 0x80), utf8('edited')]),
  ],
  // invalid: beyond U+10FFFF
  ['U+110000 (F4 90 80 80)', bytes(0xf4, 0x90, 0x80, 0x80)],
  ['F5 lead byte', bytes(0xf5, 0x80, 0x80, 0x80)],
  ['F7 BF BF BF (U+1FFFFF)', bytes(0xf7, 0xbf, 0xbf, 0xbf)],
  ['5-byte sequence F8 88 80 80 80', bytes(0xf8, 0x88, 0x80, 0x80, 0x80)],
  ['6-byte sequence FC 84 80 80 80 80', bytes(0xfc, 0x84, 0x80, 0x80, 0x80, 0x80)],
  ['FE', bytes(0xfe)],
  ['FF', bytes(0xff)],
  // invalid: misplaced and missing bytes
  ['lone continuation byte 80', bytes(0x80)],
  ['lone continuation byte BF', bytes(0xbf)],
  ['continuation bytes after ASCII', concat([utf8('abc'), bytes(0x80, 0xbf)])],
  ['2-byte lead followed by ASCII', bytes(0xc2, 0x41)],
  ['3-byte lead followed by ASCII', bytes(0xe0, 0xa0, 0x41)],
  ['truncated 2-byte sequence at the end', bytes(0xc2)],
  ['truncated 3-byte sequence at the end', bytes(0xe0, 0xa0)],
  ['truncated 4-byte sequence at the end', bytes(0xf0, 0x90, 0x80)],
  ['text then a truncated sequence: "κόσμε" CE', concat([utf8('κόσμε'), bytes(0xce)])],
];

/** Whether `data` is valid UTF-8, by TextDecoder. */
function isValid(data: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(data);
    return true;
  } catch {
    return false;
  }
}

/**
 * Length of the shortest prefix that no continuation can make valid (the
 * byte where a streaming decoder fails), or -1 if every prefix could still
 * become valid (a truncated sequence: only its end shows it).
 */
function failPoint(data: Uint8Array): number {
  for (let k = 1; k <= data.length; k++) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(0, k), { stream: true });
    } catch {
      return k;
    }
  }
  return -1;
}

const VALID = SEQUENCES.filter(([, d]) => isValid(d));
const INVALID = SEQUENCES.filter(([, d]) => !isValid(d));

function verdict(valid: boolean): string {
  return valid ? 'echo of the same bytes as text' : 'fail 1007';
}

export const utf8Cases: Case[] = [];

// 6.1 valid, 6.2 invalid: one frame.
for (const [group, list] of [
  [1, VALID],
  [2, INVALID],
] as const) {
  list.forEach(([name, data], i) => {
    utf8Cases.push({
      id: `6.${group}.${i + 1}`,
      title: `${group === 1 ? 'Valid' : 'Invalid'} UTF-8 in one text frame: ${name}`,
      rule: RULE,
      expected: verdict(group === 1),
      async run(peer) {
        await peer.send(peer.frame(Op.TEXT, data));
        if (group === 1) {
          await peer.expectEcho(Op.TEXT, data);
          await peer.closeHandshake();
        } else {
          await peer.expectFail(1007);
        }
      },
    });
  });
}

// 6.3 valid, 6.4 invalid: two fragments, split at every position.
for (const [group, list] of [
  [3, VALID],
  [4, INVALID],
] as const) {
  list.forEach(([name, data], i) => {
    for (let p = 1; p < data.length; p++) {
      utf8Cases.push({
        id: `6.${group}.${i + 1}.${p}`,
        title: `${group === 3 ? 'Valid' : 'Invalid'} UTF-8 in two fragments split after byte ${p}: ${name}`,
        rule: `${RULE}; validity is a property of the message, not of its fragments (5.6)`,
        expected: verdict(group === 3),
        async run(peer) {
          await peer.send(
            peer.frame(Op.TEXT, data.subarray(0, p), { fin: false }),
            peer.frame(Op.CONT, data.subarray(p)),
          );
          if (group === 3) {
            await peer.expectEcho(Op.TEXT, data);
            await peer.closeHandshake();
          } else {
            await peer.expectFail(1007);
          }
        },
      });
    }
  });
}

// 6.5: every sequence in 1-byte fragments, written in chops of 1 byte.
SEQUENCES.forEach(([name, data], i) => {
  const valid = isValid(data);
  utf8Cases.push({
    id: `6.5.${i + 1}`,
    title: `${valid ? 'Valid' : 'Invalid'} UTF-8 in 1-byte fragments, written in chops of 1 byte: ${name}`,
    rule: RULE,
    expected: verdict(valid),
    async run(peer) {
      const frames: Uint8Array[] = [];
      for (let b = 0; b < data.length; b++) {
        frames.push(
          peer.frame(b === 0 ? Op.TEXT : Op.CONT, data.subarray(b, b + 1), {
            fin: b === data.length - 1,
          }),
        );
      }
      await peer.sendChopped(concat(frames), 1);
      if (valid) {
        await peer.expectEcho(Op.TEXT, data);
        await peer.closeHandshake();
      } else {
        await peer.expectFail(1007);
      }
    },
  });
});

// 6.6 fail fast in one frame, 6.7 fail fast across fragments: only the bytes
// up to the first invalid one are sent; the rest of the message never comes.
const FAST = INVALID.filter(([, d]) => failPoint(d) > 0);
FAST.forEach(([name, data], i) => {
  const k = failPoint(data);
  const padded = concat([data, utf8('A'.repeat(64))]);
  utf8Cases.push({
    id: `6.6.${i + 1}`,
    title: `Fail fast inside one frame: ${name}, only the first ${k} of ${padded.length} declared bytes sent`,
    rule: `${RULE}; the prefix is already invalid, so the connection fails before the frame completes`,
    expected: 'fail 1007 before the rest of the frame is sent',
    async run(peer) {
      const frame = peer.frame(Op.TEXT, padded);
      const header = frame.length - padded.length;
      await peer.send(frame.subarray(0, header + k));
      await peer.expectFail(1007);
    },
  });
  utf8Cases.push({
    id: `6.7.${i + 1}`,
    title: `Fail fast across fragments: ${name}, first fragment of ${k} bytes, the rest never sent`,
    rule: `${RULE}; the prefix is already invalid, so the connection fails before the message completes`,
    expected: 'fail 1007 before the next fragment is sent',
    async run(peer) {
      await peer.send(peer.frame(Op.TEXT, data.subarray(0, k), { fin: false }));
      await peer.expectFail(1007);
    },
  });
});
