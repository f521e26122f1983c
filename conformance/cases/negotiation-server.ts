/**
 * Category 12, negotiation against our server: a raw client offers
 * permessage-deflate with invalid, repeated, unknown and quoted parameters,
 * several offers in one field line and over several, and checks the answer
 * field exactly, `extensions` in the server's `opened`, and then that
 * messages flow compressed with the agreed windows (the peer inflates with
 * exactly the window the server agreed to) or, when nothing was agreed,
 * uncompressed.
 */
import type { Case } from '../case.js';
import { expectAgreed, expectCompressedFlow, expectUncompressedFlow } from '../negotiation.js';

const DECLINE =
  'RFC 7692 7: "A server MUST decline an extension negotiation offer for this extension if ... The negotiation offer contains an extension parameter not defined for use in an offer ... an extension parameter with an invalid value ... multiple extension parameters with the same name"';
const CHOOSE =
  'RFC 7692 5: a client may offer several configurations in order of preference and the server accepts one of them; RFC 7230 3.2.2: several field lines form one comma-separated list';
const QUOTED =
  'RFC 6455 9.1: a parameter value may be a quoted-string, and "the value after quoted-string unescaping MUST conform to the token ABNF"';
const ANSWER =
  'RFC 7692 7.1: the response carries server_no_context_takeover when offered, window bits equal to or smaller than offered, and client_max_window_bits only when offered';

/** A second offer that every case below may fall back to, and what it is answered with. */
const FALLBACK = 'permessage-deflate; server_max_window_bits=10';
const FALLBACK_ANSWER = 'permessage-deflate; server_max_window_bits=10';

/** Offers the server must decline, each with the reason. `malformed`: the whole header breaks the grammar. */
const BAD_OFFERS: Array<{ offer: string; what: string; malformed?: boolean }> = [
  { offer: 'permessage-deflate; foo', what: 'an unknown parameter' },
  { offer: 'permessage-deflate; x-webkit-foo=1', what: 'an unknown parameter with a value' },
  {
    offer: 'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
    what: 'server_no_context_takeover twice',
  },
  {
    offer: 'permessage-deflate; client_max_window_bits=10; client_max_window_bits=10',
    what: 'client_max_window_bits twice',
  },
  {
    offer: 'permessage-deflate; client_max_window_bits; client_max_window_bits=10',
    what: 'client_max_window_bits twice, bare then with a value',
  },
  ...['7', '16', '0', 'abc', '010', '09', '-9'].flatMap((v) => [
    {
      offer: `permessage-deflate; server_max_window_bits=${v}`,
      what: `server_max_window_bits=${v}`,
    },
    {
      offer: `permessage-deflate; client_max_window_bits=${v}`,
      what: `client_max_window_bits=${v}`,
    },
  ]),
  { offer: 'permessage-deflate; server_max_window_bits="16"', what: 'a quoted 16' },
  {
    offer: 'permessage-deflate; server_max_window_bits',
    what: 'server_max_window_bits with no value',
  },
  {
    offer: 'permessage-deflate; server_no_context_takeover=1',
    what: 'a value on server_no_context_takeover',
  },
  {
    offer: 'permessage-deflate; client_no_context_takeover="1"',
    what: 'a quoted value on client_no_context_takeover',
  },
  { offer: 'permessage-deflate; server_max_window_bits=', what: 'an empty value', malformed: true },
  { offer: 'permessage-deflate; client_max_window_bits=', what: 'an empty value', malformed: true },
  {
    offer: 'permessage-deflate; client_max_window_bits="1 0"',
    what: 'a quoted value that is no token',
    malformed: true,
  },
  {
    offer: 'permessage-deflate; client_max_window_bits="10',
    what: 'an unterminated quote',
    malformed: true,
  },
  { offer: 'permessage-deflate;;', what: 'an empty parameter', malformed: true },
];

/** Offers the server accepts, with the exact answer. */
const GOOD_OFFERS: Array<{
  offer: string | string[];
  answer: string;
  title: string;
  rule: string;
}> = [
  {
    title: "the browsers' offer",
    offer: 'permessage-deflate; client_max_window_bits',
    answer: 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12',
    rule: ANSWER,
  },
  {
    title: 'no parameters: client_max_window_bits not offered, so not answered',
    offer: 'permessage-deflate',
    answer: 'permessage-deflate; server_max_window_bits=12',
    rule: ANSWER,
  },
  {
    title: 'window bits 9 both ways',
    offer: 'permessage-deflate; server_max_window_bits=9; client_max_window_bits=9',
    answer: 'permessage-deflate; server_max_window_bits=9; client_max_window_bits=9',
    rule: ANSWER,
  },
  {
    title: 'server_max_window_bits=8: the server compresses with zlib at 9, within 250 bytes',
    offer: 'permessage-deflate; server_max_window_bits=8',
    answer: 'permessage-deflate; server_max_window_bits=8',
    rule: ANSWER,
  },
  {
    title: 'client_max_window_bits=8: the client compresses with 8 (zlib: 9)',
    offer: 'permessage-deflate; client_max_window_bits=8',
    answer: 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=8',
    rule: ANSWER,
  },
  {
    title: 'both no-context-takeover parameters',
    offer: 'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    answer:
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12',
    rule: ANSWER,
  },
  {
    title: 'quoted values',
    offer: 'permessage-deflate; server_max_window_bits="10"; client_max_window_bits="11"',
    answer: 'permessage-deflate; server_max_window_bits=10; client_max_window_bits=11',
    rule: QUOTED,
  },
  {
    title: 'upper case names and spaces around the separators',
    offer: 'Permessage-Deflate ;  Server_Max_Window_Bits=11 ;Client_Max_Window_Bits',
    answer: 'permessage-deflate; server_max_window_bits=11; client_max_window_bits=12',
    rule: 'RFC 7230 3.2.6 / RFC 6455 9.1: tokens and optional white space around ";"',
  },
  {
    title: 'several offers in one line: another extension, an invalid offer, then a valid one',
    offer:
      'x-unknown, permessage-deflate; server_max_window_bits=16, permessage-deflate; client_max_window_bits=10',
    answer: 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=10',
    rule: CHOOSE,
  },
  {
    title: 'the same offers over three field lines',
    offer: [
      'x-unknown',
      'permessage-deflate; server_max_window_bits=16',
      'permessage-deflate; client_max_window_bits=10',
    ],
    answer: 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=10',
    rule: CHOOSE,
  },
  {
    title: 'two valid offers over two field lines: the first is taken',
    offer: ['permessage-deflate; server_max_window_bits=9', 'permessage-deflate'],
    answer: 'permessage-deflate; server_max_window_bits=9',
    rule: CHOOSE,
  },
  {
    title: 'empty list elements are skipped',
    offer: ', ,permessage-deflate; server_max_window_bits=11,,',
    answer: 'permessage-deflate; server_max_window_bits=11',
    rule: 'RFC 7230 7: a recipient MUST accept and ignore empty list elements',
  },
];

/** Offers none of which the server can accept: no extension in the answer. */
const NONE_ACCEPTABLE: Array<{ offer: string | string[]; title: string }> = [
  {
    title: 'another extension and two invalid offers in one line',
    offer: 'x-unknown, permessage-deflate; foo, permessage-deflate; server_max_window_bits=16',
  },
  {
    title: 'the same over three field lines',
    offer: [
      'x-unknown',
      'permessage-deflate; foo',
      'permessage-deflate; server_max_window_bits=16',
    ],
  },
];

function cases(): Case[] {
  const out: Case[] = [];
  let n = 0;
  const add = (c: Omit<Case, 'id' | 'targets'>): void => {
    out.push({ ...c, id: `12.50.${++n}`, targets: ['server'] });
  };
  for (const { offer, answer, title, rule } of GOOD_OFFERS) {
    add({
      title: `offer ${JSON.stringify(offer)}: ${title}`,
      rule,
      expected: `answer exactly "${answer}", messages flow compressed with those windows`,
      options: { peerExtensions: offer },
      async run(peer) {
        await expectAgreed(peer, answer);
        await expectCompressedFlow(peer);
      },
    });
  }
  for (const { offer, what, malformed } of BAD_OFFERS) {
    add({
      title: `offer with ${what}: ${JSON.stringify(offer)}`,
      rule: DECLINE,
      expected:
        'no Sec-WebSocket-Extensions in the answer, messages flow uncompressed, RSV1 fails with 1002',
      options: { peerExtensions: offer },
      async run(peer) {
        await expectAgreed(peer, null);
        await expectUncompressedFlow(peer);
      },
    });
    if (malformed === true) {
      add({
        title: `a malformed header (${what}) declines every offer in it: ${JSON.stringify(`${offer}, ${FALLBACK}`)}`,
        rule: 'RFC 6455 9.1 / RFC 7230 7: a field value outside the list grammar is invalid as a whole; the server answers without extensions',
        expected: 'no Sec-WebSocket-Extensions in the answer, messages flow uncompressed',
        options: { peerExtensions: `${offer}, ${FALLBACK}` },
        async run(peer) {
          await expectAgreed(peer, null);
          await expectUncompressedFlow(peer);
        },
      });
    } else {
      add({
        title: `offer with ${what}, then a valid offer: the valid one is taken`,
        rule: `${DECLINE}; ${CHOOSE}`,
        expected: `answer exactly "${FALLBACK_ANSWER}", messages flow compressed`,
        options: { peerExtensions: `${offer}, ${FALLBACK}` },
        async run(peer) {
          await expectAgreed(peer, FALLBACK_ANSWER);
          await expectCompressedFlow(peer);
        },
      });
    }
  }
  for (const { offer, title } of NONE_ACCEPTABLE) {
    add({
      title: `no acceptable offer, ${title}: ${JSON.stringify(offer)}`,
      rule: DECLINE,
      expected:
        'no Sec-WebSocket-Extensions in the answer, messages flow uncompressed, RSV1 fails with 1002',
      options: { peerExtensions: offer },
      async run(peer) {
        await expectAgreed(peer, null);
        await expectUncompressedFlow(peer);
      },
    });
  }
  add({
    title: "compression turned off on the server: the browsers' offer is not answered",
    rule: 'RFC 6455 9.1: the server answers only the extensions it accepts',
    expected:
      'no Sec-WebSocket-Extensions in the answer, messages flow uncompressed, RSV1 fails with 1002',
    options: {
      peerExtensions: 'permessage-deflate; client_max_window_bits',
      perMessageDeflate: false,
    },
    async run(peer) {
      await expectAgreed(peer, null);
      await expectUncompressedFlow(peer);
    },
  });
  return out;
}

export const serverNegotiationCases: Case[] = cases();
