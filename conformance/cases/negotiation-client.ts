/**
 * Category 12, negotiation against our client: a raw server answers the
 * client's permessage-deflate offer with what the client did not offer,
 * parameters that are unknown, repeated, out of range or malformed, and with
 * valid answers. A bad answer must fail the connection with a WebSocketError
 * that names the parameter at fault, and nothing may escape the handshake
 * (undici's CVE-2026-2229 crashed the process on server_max_window_bits=16);
 * a valid one must be taken as answered, with messages flowing compressed
 * with the agreed windows both ways.
 */
import type { Case } from '../case.js';
import {
  expectAgreed,
  expectAnswerRefused,
  expectCompressedFlow,
  expectUncompressedFlow,
} from '../negotiation.js';
import { ExpectationError } from '../peer.js';
import type { TargetOptions } from '../targets.js';

const FAIL =
  'RFC 7692 7: "A client MUST _Fail the WebSocket Connection_ if the peer server accepted an extension negotiation offer for this extension with an extension negotiation response meeting any of the following conditions: The negotiation response contains an extension parameter not defined for use in a response ... an extension parameter with an invalid value ... multiple extension parameters with the same name ... The client does not support the configuration that the response represents"';
const UNOFFERED =
  'RFC 6455 4.1: if the response "indicates the use of an extension that was not present in the client\'s handshake", "the client MUST _Fail the WebSocket Connection_"';

const HEADER = 'Sec-WebSocket-Extensions';

/** Answers the client must refuse: the answer, the client's options, the strings the error names. */
const BAD_ANSWERS: Array<{
  answer: string | string[];
  what: string;
  names: string[];
  rule?: string;
  options?: TargetOptions;
}> = [
  { answer: 'x-unknown', what: 'an extension not offered', names: ['x-unknown'], rule: UNOFFERED },
  {
    answer: 'permessage-deflate, x-unknown',
    what: 'permessage-deflate and an extension not offered',
    names: ['x-unknown'],
    rule: UNOFFERED,
  },
  {
    answer: 'permessage-deflate',
    what: 'permessage-deflate to a client that offered no compression',
    names: ['permessage-deflate'],
    rule: UNOFFERED,
    options: { perMessageDeflate: false },
  },
  {
    answer: 'permessage-deflate, permessage-deflate',
    what: 'permessage-deflate twice in one line',
    names: ['permessage-deflate', 'more than once'],
  },
  {
    answer: ['permessage-deflate', 'permessage-deflate; server_max_window_bits=10'],
    what: 'permessage-deflate twice over two field lines',
    names: ['permessage-deflate', 'more than once'],
  },
  { answer: 'permessage-deflate; foo', what: 'an unknown parameter', names: ['foo'] },
  {
    answer: 'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
    what: 'a repeated parameter',
    names: ['server_no_context_takeover'],
  },
  {
    answer: 'permessage-deflate; client_max_window_bits=10; client_max_window_bits=9',
    what: 'a repeated parameter with values',
    names: ['client_max_window_bits'],
  },
  ...['16', '7', '0', 'abc', '010', '"16"'].map((v) => ({
    answer: `permessage-deflate; server_max_window_bits=${v}`,
    what: `server_max_window_bits=${v}${v === '16' ? " (undici's CVE-2026-2229)" : ''}`,
    names: ['server_max_window_bits'],
  })),
  ...['16', '7', 'abc', '09'].map((v) => ({
    answer: `permessage-deflate; client_max_window_bits=${v}`,
    what: `client_max_window_bits=${v}`,
    names: ['client_max_window_bits'],
  })),
  {
    answer: 'permessage-deflate; client_max_window_bits',
    what: 'client_max_window_bits with no value (a value is required in a response)',
    names: ['client_max_window_bits'],
  },
  {
    answer: 'permessage-deflate; server_max_window_bits',
    what: 'server_max_window_bits with no value',
    names: ['server_max_window_bits'],
  },
  {
    answer: 'permessage-deflate; server_no_context_takeover=1',
    what: 'a value on server_no_context_takeover',
    names: ['server_no_context_takeover'],
  },
  {
    answer: 'permessage-deflate; client_no_context_takeover="1"',
    what: 'a quoted value on client_no_context_takeover',
    names: ['client_no_context_takeover'],
  },
  {
    answer: 'permessage-deflate; server_max_window_bits=12',
    what: 'server_max_window_bits above the 10 offered',
    names: ['server_max_window_bits'],
    options: { perMessageDeflate: { serverMaxWindowBits: 10 } },
  },
  {
    answer: 'permessage-deflate',
    what: 'no server_max_window_bits, which was offered',
    names: ['server_max_window_bits'],
    options: { perMessageDeflate: { serverMaxWindowBits: 10 } },
  },
  {
    answer: 'permessage-deflate; client_max_window_bits=11',
    what: 'client_max_window_bits above the 10 offered',
    names: ['client_max_window_bits'],
    options: { perMessageDeflate: { clientMaxWindowBits: 10 } },
  },
  {
    answer: 'permessage-deflate',
    what: 'no server_no_context_takeover, which was offered',
    names: ['server_no_context_takeover'],
    options: { perMessageDeflate: { serverNoContextTakeover: true } },
  },
  // Malformed headers: the error names the field and the parameter where there is one.
  {
    answer: 'permessage-deflate;;',
    what: 'an empty parameter',
    names: [HEADER, 'extension "permessage-deflate"'],
  },
  { answer: '=', what: 'a lone "="', names: [HEADER] },
  {
    answer: 'permessage-deflate; server_max_window_bits="10',
    what: 'an unterminated quote',
    names: [HEADER, 'parameter "server_max_window_bits"'],
  },
  {
    answer: 'permessage-deflate; server_max_window_bits=',
    what: 'an empty value',
    names: [HEADER, 'parameter "server_max_window_bits"'],
  },
  {
    answer: 'permessage-deflate; server_max_window_bits="1 0"',
    what: 'a quoted value that is no token',
    names: [HEADER, 'parameter "server_max_window_bits"'],
  },
  {
    answer: 'permessage-deflate server_max_window_bits=10',
    what: 'a missing ";"',
    names: [HEADER, 'extension "permessage-deflate"'],
  },
];

const NO_CONTEXT = [
  { title: 'context takeover both ways', params: '' },
  { title: 'server_no_context_takeover', params: '; server_no_context_takeover' },
  { title: 'client_no_context_takeover', params: '; client_no_context_takeover' },
  {
    title: 'no context takeover both ways',
    params: '; server_no_context_takeover; client_no_context_takeover',
  },
];

function cases(): Case[] {
  const out: Case[] = [];
  let n = 0;
  const add = (c: Omit<Case, 'id' | 'targets'>): void => {
    out.push({ ...c, id: `12.51.${++n}`, targets: ['client'] });
  };
  for (const { answer, what, names, rule, options } of BAD_ANSWERS) {
    add({
      title: `answer with ${what}: ${JSON.stringify(answer)}`,
      rule: rule ?? FAIL,
      expected: `opened and closed reject with a WebSocketError (1006) naming ${names.join(' and ')}; TCP dropped; nothing escapes`,
      options: { ...options, peerExtensions: answer, answerOnly: true },
      run: (peer) => expectAnswerRefused(peer, names),
    });
  }
  for (const bits of [9, 15]) {
    for (const { title, params } of NO_CONTEXT) {
      const answer = `permessage-deflate${params}; server_max_window_bits=${bits}; client_max_window_bits=${bits}`;
      add({
        title: `valid answer, window bits ${bits} both ways, ${title}`,
        rule: 'RFC 7692 7.1: a response within the offer is accepted and its parameters are used',
        expected: `extensions "${answer}" in opened, messages flow compressed with those windows`,
        options: { peerExtensions: answer },
        async run(peer) {
          await expectAgreed(peer, answer);
          await expectCompressedFlow(peer);
        },
      });
    }
  }
  // Window bits 8, each way.
  for (const [answer, title, rule] of [
    [
      'permessage-deflate; client_max_window_bits=8',
      'valid answer, client_max_window_bits=8 (the client compresses with zlib at 9, within 250 bytes)',
      'RFC 7692 7.1.2.2: the server may answer client_max_window_bits from 8 to 15 to a bare offer',
    ],
    [
      'permessage-deflate; server_max_window_bits=8; client_max_window_bits=9',
      'valid answer, server_max_window_bits=8 (the peer compresses with 8, zlib: 9)',
      'RFC 7692 7.1.2.1: server_max_window_bits may be 8 to 15; the client inflates whatever window the server uses up to it',
    ],
  ] as const) {
    add({
      title,
      rule,
      expected: `extensions "${answer}" in opened, messages flow compressed with those windows`,
      options: { peerExtensions: answer },
      async run(peer) {
        await expectAgreed(peer, answer);
        await expectCompressedFlow(peer);
      },
    });
  }
  add({
    title: 'valid answer with quoted values, over a field line of its own after an empty one',
    rule: 'RFC 6455 9.1: a quoted value counts as its token; RFC 7230 7: empty list elements are ignored',
    expected:
      'extensions "permessage-deflate; server_max_window_bits=10; client_max_window_bits=11" in opened, messages flow compressed',
    options: {
      peerExtensions: [
        '',
        'permessage-deflate; server_max_window_bits="10"; client_max_window_bits="11"',
      ],
    },
    async run(peer) {
      const opened = await peer.opened;
      const want = 'permessage-deflate; server_max_window_bits=10; client_max_window_bits=11';
      if ('error' in opened || opened.extensions !== want)
        throw new ExpectationError(
          `opened gave ${JSON.stringify(opened)}, expected extensions "${want}"`,
        );
      await expectCompressedFlow(peer);
    },
  });
  add({
    title: 'no answer: the server declined, messages flow uncompressed',
    rule: 'RFC 7692 5: a server declines by not including the extension in its response',
    expected: 'extensions "" in opened, messages flow uncompressed, RSV1 fails with 1002',
    options: {},
    async run(peer) {
      await expectAgreed(peer, null);
      await expectUncompressedFlow(peer);
    },
  });
  return out;
}

export const clientNegotiationCases: Case[] = cases();
