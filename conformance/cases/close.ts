/**
 * Category 7, the closing handshake (RFC 6455 5.5.1, 7.1, 7.4).
 */
import type { Case } from '../case.js';
import { bytes, closeCodeOf, closePayload, concat, Op, utf8 } from '../wire.js';

const ECHO_RULE =
  'RFC 6455 5.5.1: "If an endpoint receives a Close frame and did not previously send a Close frame, the endpoint MUST send a Close frame in response. (When sending a Close frame in response, the endpoint typically echos the status code it received.)"';
const CODE_RULE =
  'RFC 6455 7.4: codes 0-999 and 1004-1006, 1015, 1016-2999 (unassigned) and 5000+ may not appear in a Close frame';

/** Every close code allowed on the wire: 1000-1003, 1007-1014 (RFC 6455 7.4.1 and IANA), 3000-4999 (7.4.2). */
export const VALID_CODES: number[] = [];
for (let c = 1000; c <= 1003; c++) VALID_CODES.push(c);
for (let c = 1007; c <= 1014; c++) VALID_CODES.push(c);
for (let c = 3000; c <= 4999; c++) VALID_CODES.push(c);

/** Invalid codes put on the wire: the boundaries of every forbidden range. */
export const INVALID_WIRE_CODES = [
  0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 5001, 10000, 65535,
];

export const closeCases: Case[] = [
  {
    id: '7.1.1',
    title: 'Close with no payload',
    rule: `${ECHO_RULE}; 7.1.5: no status code means 1005 for the application`,
    expected: 'Close echo with no payload, clean close 1005',
    async run(peer) {
      await peer.send(peer.closeFrame());
      await peer.expectCloseEcho(1005);
    },
  },
  {
    id: '7.1.2',
    title: 'Close 1000 after a message was echoed',
    rule: ECHO_RULE,
    expected: 'echo, then Close echo 1000',
    async run(peer) {
      await peer.send(peer.frame(Op.TEXT, 'bye'));
      await peer.expectEcho(Op.TEXT, 'bye');
      await peer.send(peer.closeFrame(1000));
      await peer.expectCloseEcho(1000);
    },
  },
  {
    id: '7.1.8',
    title: 'A message and Close 1000 in the same write',
    rule: `${ECHO_RULE}; 5.5.1: the Close is answered "as soon as practical", after which no data frame may be sent`,
    expected:
      'Close echo 1000, preceded by the echo only if the application wrote it before the Close was answered (see docs/conformance.md)',
    async run(peer) {
      await peer.send(peer.frame(Op.TEXT, 'bye'), peer.closeFrame(1000));
      const first = await peer.read();
      if (first.opcode === Op.TEXT) {
        if (Buffer.from(first.payload).toString() !== 'bye') throw new Error('Wrong echo');
        await peer.expectCloseEcho(1000);
        return;
      }
      if (first.opcode !== Op.CLOSE || closeCodeOf(first.payload) !== 1000) {
        throw new Error(`Expected the echo or Close 1000, got opcode ${first.opcode}`);
      }
      if (peer.under === 'client') peer.socket.end();
      await peer.expectTcpClose();
      await peer.expectOutcome({ clean: true, code: 1000 });
    },
  },
  {
    id: '7.1.3',
    title: 'Data after Close is ignored',
    rule: 'RFC 6455 1.4: "After sending a Close frame ... no further data"; data after the peer\'s Close is not processed',
    expected: 'Close echo 1000, no echo of the later message',
    async run(peer) {
      await peer.send(peer.closeFrame(1000), peer.frame(Op.TEXT, 'after close'));
      await peer.expectCloseEcho(1000);
    },
  },
  {
    id: '7.1.4',
    title: 'Close after Close',
    rule: `${ECHO_RULE}; a second Close is never answered`,
    expected: 'one Close echo 1000',
    async run(peer) {
      await peer.send(peer.closeFrame(1000), peer.closeFrame(1001));
      await peer.expectCloseEcho(1000);
    },
  },
  {
    id: '7.1.5',
    title: 'Ping after Close',
    rule: 'RFC 6455 5.5.2: a Pong is sent "unless it already received a Close frame"',
    expected: 'Close echo 1000, no Pong',
    async run(peer) {
      await peer.send(peer.closeFrame(1000), peer.frame(Op.PING, 'late'));
      await peer.expectCloseEcho(1000);
    },
  },
  {
    id: '7.1.6',
    title: 'Close in the middle of a fragmented message, then its last fragment',
    rule: ECHO_RULE,
    expected: 'Close echo 1000, the message is never echoed',
    async run(peer) {
      await peer.send(
        peer.frame(Op.TEXT, 'unfinished', { fin: false }),
        peer.closeFrame(1000),
        peer.frame(Op.CONT, ' message'),
      );
      await peer.expectCloseEcho(1000);
    },
  },
  {
    id: '7.1.7',
    title: 'Close written in chops of 1 byte',
    rule: ECHO_RULE,
    expected: 'Close echo 1000',
    async run(peer) {
      await peer.sendChopped(peer.closeFrame(1000, 'slowly'), 1);
      await peer.expectCloseEcho(1000);
    },
  },
  {
    id: '7.3.1',
    title: 'Close with a 1-byte payload',
    rule: 'RFC 6455 5.5.1: "If there is a body, the first two bytes of the body MUST be a 2-byte unsigned integer"',
    expected: 'fail 1002',
    async run(peer) {
      await peer.send(peer.frame(Op.CLOSE, bytes(0x03)));
      await peer.expectFail(1002);
    },
  },
  {
    id: '7.3.2',
    title: 'Close with code 1000 and a 123-byte reason (a 125-byte payload)',
    rule: ECHO_RULE,
    expected: 'Close echo 1000, clean close',
    async run(peer) {
      await peer.send(peer.frame(Op.CLOSE, closePayload(1000, 'r'.repeat(123))));
      await peer.expectCloseEcho(1000);
    },
  },
  {
    id: '7.3.3',
    title: 'Close with a 124-byte reason (a 126-byte payload)',
    rule: 'RFC 6455 5.5: "All control frames MUST have a payload length of 125 bytes or less"',
    expected: 'fail 1002',
    async run(peer) {
      await peer.send(peer.frame(Op.CLOSE, closePayload(1000, 'r'.repeat(124))));
      await peer.expectFail(1002);
    },
  },
  {
    id: '7.5.1',
    title: 'Close 1000 with a valid UTF-8 reason',
    rule: 'RFC 6455 5.5.1: the reason is UTF-8',
    expected: 'Close echo 1000, the application sees the reason',
    async run(peer) {
      await peer.send(peer.frame(Op.CLOSE, closePayload(1000, 'Hello κόσμε \u{1F600}')));
      await peer.expectClose(1000);
      if (peer.under === 'client') peer.socket.end();
      await peer.expectTcpClose();
      const outcome = await peer.expectOutcome({ clean: true, code: 1000 });
      if (outcome.clean && outcome.reason !== 'Hello κόσμε \u{1F600}') {
        throw new Error(`The application saw reason ${JSON.stringify(outcome.reason)}`);
      }
    },
  },
  {
    id: '7.5.2',
    title: 'Close 1000 with an invalid UTF-8 reason (a lone surrogate)',
    rule: 'RFC 6455 5.5.1: the reason "is not guaranteed to be human readable" but is UTF-8; 8.1: invalid UTF-8 fails the connection',
    expected: 'fail 1007',
    async run(peer) {
      await peer.send(
        peer.frame(Op.CLOSE, closePayload(1000, concat([utf8('bad '), bytes(0xed, 0xa0, 0x80)]))),
      );
      await peer.expectFail(1007);
    },
  },
  {
    id: '7.5.3',
    title: 'Close 1000 with a reason truncated inside a UTF-8 sequence',
    rule: 'RFC 6455 8.1: invalid UTF-8 fails the connection',
    expected: 'fail 1007',
    async run(peer) {
      await peer.send(
        peer.frame(Op.CLOSE, closePayload(1000, concat([utf8('κόσμ'), bytes(0xce)]))),
      );
      await peer.expectFail(1007);
    },
  },
];

VALID_CODES.forEach((code, i) => {
  closeCases.push({
    id: `7.7.${i + 1}`,
    title: `Close with valid code ${code}`,
    rule: `${ECHO_RULE}; 7.4`,
    expected: `Close echo ${code}, clean close ${code}`,
    async run(peer) {
      await peer.send(peer.closeFrame(code, 'code'));
      await peer.expectCloseEcho(code);
    },
  });
});

INVALID_WIRE_CODES.forEach((code, i) => {
  closeCases.push({
    id: `7.9.${i + 1}`,
    title: `Close with invalid code ${code}`,
    rule: CODE_RULE,
    expected: 'fail 1002',
    async run(peer) {
      await peer.send(peer.frame(Op.CLOSE, closePayload(code, 'invalid')));
      await peer.expectFail(1002);
    },
  });
});
