/**
 * Category 5, fragmentation (RFC 6455 5.4).
 */
import type { Case } from '../case.js';
import { concat, Op, randomBytes, utf8 } from '../wire.js';

const FRAG_RULE =
  'RFC 6455 5.4: "a single message ... fragmented ... consists of a single frame with the FIN bit clear and an opcode other than 0, followed by zero or more frames with the FIN bit clear and the opcode set to 0, and terminated by a single frame with the FIN bit set and an opcode of 0"';
const INTERLEAVE_RULE =
  'RFC 6455 5.4: "The fragments of one message MUST NOT be interleaved between the fragments of another message"';
const CONTROL_RULE =
  'RFC 6455 5.4: "Control frames ... MAY be injected in the middle of a fragmented message"';

/** Splits `data` into frames of `size` bytes: first with `opcode`, the rest continuations. */
function fragments(
  frame: (op: number, d: Uint8Array, o: { fin: boolean }) => Uint8Array,
  opcode: number,
  data: Uint8Array,
  size: number,
): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i === 0 || i < data.length; i += size) {
    const end = Math.min(i + size, data.length);
    out.push(
      frame(i === 0 ? opcode : Op.CONT, data.subarray(i, end), { fin: end === data.length }),
    );
  }
  return out;
}

export const fragmentationCases: Case[] = [
  {
    id: '5.1',
    title: 'Ping in two fragments',
    rule: 'RFC 6455 5.5: control frames "MUST NOT be fragmented"',
    expected: 'fail 1002',
    async run(peer) {
      await peer.send(peer.frame(Op.PING, 'frag', { fin: false }), peer.frame(Op.CONT, 'ment'));
      await peer.expectFail(1002);
    },
  },
  {
    id: '5.2',
    title: 'Pong in two fragments',
    rule: 'RFC 6455 5.5: control frames "MUST NOT be fragmented"',
    expected: 'fail 1002',
    async run(peer) {
      await peer.send(peer.frame(Op.PONG, 'frag', { fin: false }), peer.frame(Op.CONT, 'ment'));
      await peer.expectFail(1002);
    },
  },
  {
    id: '5.3',
    title: 'Text message in two fragments',
    rule: FRAG_RULE,
    expected: 'echo of the whole message',
    async run(peer) {
      await peer.send(peer.frame(Op.TEXT, 'frag', { fin: false }), peer.frame(Op.CONT, 'ment'));
      await peer.expectEcho(Op.TEXT, 'fragment');
      await peer.closeHandshake();
    },
  },
  {
    id: '5.4',
    title: 'Binary message in three fragments, the middle one empty',
    rule: FRAG_RULE,
    expected: 'echo of the whole message',
    async run(peer) {
      const a = randomBytes(100, 1);
      const b = randomBytes(50, 2);
      await peer.send(
        peer.frame(Op.BINARY, a, { fin: false }),
        peer.frame(Op.CONT, '', { fin: false }),
        peer.frame(Op.CONT, b),
      );
      await peer.expectEcho(Op.BINARY, concat([a, b]));
      await peer.closeHandshake();
    },
  },
  {
    id: '5.5',
    title: 'Text message made of empty fragments only',
    rule: FRAG_RULE,
    expected: 'echo of an empty text message',
    async run(peer) {
      await peer.send(
        peer.frame(Op.TEXT, '', { fin: false }),
        peer.frame(Op.CONT, '', { fin: false }),
        peer.frame(Op.CONT, ''),
      );
      await peer.expectEcho(Op.TEXT, '');
      await peer.closeHandshake();
    },
  },
  {
    id: '5.6',
    title: 'Text message in fragments of 1 byte',
    rule: FRAG_RULE,
    expected: 'echo of the whole message',
    async run(peer) {
      const text = utf8('Hello, fragmented world! κόσμε');
      await peer.send(...fragments((o, d, f) => peer.frame(o, d, f), Op.TEXT, text, 1));
      await peer.expectEcho(Op.TEXT, text);
      await peer.closeHandshake();
    },
  },
  {
    id: '5.7',
    title: 'Binary message of 1000 bytes in fragments of 1 byte, written in chops of 1 byte',
    rule: FRAG_RULE,
    expected: 'echo of the whole message',
    async run(peer) {
      const data = randomBytes(1000, 5);
      await peer.sendChopped(
        concat(fragments((o, d, f) => peer.frame(o, d, f), Op.BINARY, data, 1)),
        1,
      );
      await peer.expectEcho(Op.BINARY, data);
      await peer.closeHandshake();
    },
  },
  {
    id: '5.8',
    title: 'Ping between fragments',
    rule: CONTROL_RULE,
    expected: 'Pong, then the echo',
    async run(peer) {
      await peer.send(
        peer.frame(Op.TEXT, 'frag', { fin: false }),
        peer.frame(Op.PING, 'p'),
        peer.frame(Op.CONT, 'ment'),
      );
      await peer.expectPong('p');
      await peer.expectEcho(Op.TEXT, 'fragment');
      await peer.closeHandshake();
    },
  },
  {
    id: '5.9',
    title: 'Unsolicited Pong between fragments',
    rule: CONTROL_RULE,
    expected: 'the echo, nothing for the Pong',
    async run(peer) {
      await peer.send(
        peer.frame(Op.TEXT, 'frag', { fin: false }),
        peer.frame(Op.PONG, 'p'),
        peer.frame(Op.CONT, 'ment'),
      );
      await peer.expectEcho(Op.TEXT, 'fragment');
      await peer.closeHandshake();
    },
  },
  {
    id: '5.10',
    title: 'Ping between fragments, everything written in chops of 1 byte',
    rule: CONTROL_RULE,
    expected: 'Pong, then the echo',
    async run(peer) {
      await peer.sendChopped(
        concat([
          peer.frame(Op.TEXT, 'frag', { fin: false }),
          peer.frame(Op.PING, 'p'),
          peer.frame(Op.CONT, 'ment'),
        ]),
        1,
      );
      await peer.expectPong('p');
      await peer.expectEcho(Op.TEXT, 'fragment');
      await peer.closeHandshake();
    },
  },
  {
    id: '5.11',
    title: 'Close between fragments',
    rule: 'RFC 6455 5.4 and 5.5.1: a Close may be injected; after it no more data is processed',
    expected: 'Close echo 1000, the unfinished message is never echoed',
    async run(peer) {
      await peer.send(
        peer.frame(Op.TEXT, 'frag', { fin: false }),
        peer.closeFrame(1000),
        peer.frame(Op.CONT, 'ment'),
      );
      await peer.expectCloseEcho(1000);
    },
  },
  {
    id: '5.12',
    title: 'Continuation frame (FIN set) with no message started',
    rule: FRAG_RULE,
    expected: 'fail 1002',
    async run(peer) {
      await peer.send(peer.frame(Op.CONT, 'orphan'));
      await peer.expectFail(1002);
    },
  },
  {
    id: '5.13',
    title: 'Continuation frame (FIN clear) with no message started',
    rule: FRAG_RULE,
    expected: 'fail 1002',
    async run(peer) {
      await peer.send(peer.frame(Op.CONT, 'orphan', { fin: false }), peer.frame(Op.CONT, 'end'));
      await peer.expectFail(1002);
    },
  },
  {
    id: '5.14',
    title: 'Continuation frame after a complete message',
    rule: FRAG_RULE,
    expected: 'echo of the message (same write), then fail 1002',
    async run(peer) {
      // One write: the message and the orphan continuation arrive in the same read.
      await peer.send(concat([peer.frame(Op.TEXT, 'whole'), peer.frame(Op.CONT, 'orphan')]));
      await peer.expectEcho(Op.TEXT, 'whole');
      await peer.expectFail(1002);
    },
  },
  {
    id: '5.15',
    title: 'Text frame inside an unfinished binary message',
    rule: INTERLEAVE_RULE,
    expected: 'fail 1002',
    async run(peer) {
      await peer.send(
        peer.frame(Op.BINARY, randomBytes(10), { fin: false }),
        peer.frame(Op.TEXT, 'intruder'),
        peer.frame(Op.CONT, randomBytes(10)),
      );
      await peer.expectFail(1002);
    },
  },
  {
    id: '5.16',
    title: 'Binary frame inside an unfinished text message',
    rule: INTERLEAVE_RULE,
    expected: 'fail 1002',
    async run(peer) {
      await peer.send(
        peer.frame(Op.TEXT, 'start', { fin: false }),
        peer.frame(Op.BINARY, randomBytes(10)),
      );
      await peer.expectFail(1002);
    },
  },
  {
    id: '5.17',
    title: 'Text frame (FIN clear) inside an unfinished text message',
    rule: INTERLEAVE_RULE,
    expected: 'fail 1002',
    async run(peer) {
      await peer.send(
        peer.frame(Op.TEXT, 'one', { fin: false }),
        peer.frame(Op.TEXT, 'two', { fin: false }),
      );
      await peer.expectFail(1002);
    },
  },
  {
    id: '5.18',
    title: 'Two fragmented messages in a row, each with a Ping in the middle',
    rule: `${FRAG_RULE}; ${CONTROL_RULE}`,
    expected: 'Pong, echo, Pong, echo',
    async run(peer) {
      for (const m of ['first', 'second']) {
        await peer.send(
          peer.frame(Op.TEXT, `${m}-a`, { fin: false }),
          peer.frame(Op.PING, m),
          peer.frame(Op.CONT, `-b`),
        );
        await peer.expectPong(m);
        await peer.expectEcho(Op.TEXT, `${m}-a-b`);
      }
      await peer.closeHandshake();
    },
  },
];
