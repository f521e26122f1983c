/**
 * Category 2, Ping and Pong (RFC 6455 5.5.2, 5.5.3).
 */
import type { Case } from '../case.js';
import { concat, Op, randomBytes, utf8 } from '../wire.js';

const PING_RULE =
  'RFC 6455 5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in response"; 5.5.3: "identical Application data"';

export const pingPongCases: Case[] = [
  {
    id: '2.1',
    title: 'Ping with an empty payload',
    rule: PING_RULE,
    expected: 'Pong with an empty payload, then clean close 1000',
    async run(peer) {
      await peer.send(peer.frame(Op.PING));
      await peer.expectPong();
      await peer.closeHandshake();
    },
  },
  {
    id: '2.2',
    title: 'Ping with a 125-byte text payload',
    rule: PING_RULE,
    expected: 'Pong with the same payload',
    async run(peer) {
      const data = utf8('P'.repeat(125));
      await peer.send(peer.frame(Op.PING, data));
      await peer.expectPong(data);
      await peer.closeHandshake();
    },
  },
  {
    id: '2.3',
    title: 'Ping with a binary payload of every byte value',
    rule: PING_RULE,
    expected: 'Pong with the same payload',
    async run(peer) {
      const data = Uint8Array.from({ length: 125 }, (_, i) => 255 - i);
      await peer.send(peer.frame(Op.PING, data));
      await peer.expectPong(data);
      await peer.closeHandshake();
    },
  },
  {
    id: '2.4',
    title: 'Pings with payloads of every length 0 to 125, one after the other',
    rule: PING_RULE,
    expected: "126 Pongs, each with its Ping's payload, in order",
    async run(peer) {
      for (let n = 0; n <= 125; n++) {
        const data = randomBytes(n, n + 7);
        await peer.send(peer.frame(Op.PING, data));
        await peer.expectPong(data);
      }
      await peer.closeHandshake();
    },
  },
  {
    id: '2.5',
    title: 'Ping with a 126-byte payload',
    rule: 'RFC 6455 5.5: "All control frames MUST have a payload length of 125 bytes or less"',
    expected: 'fail 1002, no Pong',
    async run(peer) {
      await peer.send(peer.frame(Op.PING, randomBytes(126)));
      await peer.expectFail(1002);
    },
  },
  {
    id: '2.6',
    title: 'Ping with a 125-byte payload declared in the 16-bit length form',
    rule: 'RFC 6455 5.2: "the minimal number of bytes MUST be used to encode the length"; 5.5: a control frame\'s 7-bit length is at most 125',
    expected: 'fail 1002 (the length byte 126 alone marks a too-long control frame)',
    async run(peer) {
      await peer.send(peer.frame(Op.PING, randomBytes(125, 3), { lengthForm: 16 }));
      await peer.expectFail(1002);
    },
  },
  {
    id: '2.7',
    title: 'Unsolicited Pong with no payload, then a Ping',
    rule: 'RFC 6455 5.5.3: "A response to an unsolicited Pong frame is not expected"',
    expected: 'nothing for the Pong; a Pong for the Ping',
    async run(peer) {
      await peer.send(peer.frame(Op.PONG), peer.frame(Op.PING, 'after'));
      await peer.expectPong('after');
      await peer.closeHandshake();
    },
  },
  {
    id: '2.8',
    title: 'Unsolicited Pong with a payload, then a Ping',
    rule: 'RFC 6455 5.5.3: "A Pong frame MAY be sent unsolicited"',
    expected: 'nothing for the Pong; a Pong for the Ping',
    async run(peer) {
      await peer.send(peer.frame(Op.PONG, 'unsolicited'), peer.frame(Op.PING, 'ping'));
      await peer.expectPong('ping');
      await peer.closeHandshake();
    },
  },
  {
    id: '2.9',
    title: '10 Pings in a row, in one write',
    rule: PING_RULE,
    expected: '10 Pongs, in order',
    async run(peer) {
      const pings: Uint8Array[] = [];
      for (let i = 0; i < 10; i++) pings.push(peer.frame(Op.PING, `ping ${i}`));
      await peer.send(concat(pings));
      for (let i = 0; i < 10; i++) await peer.expectPong(`ping ${i}`);
      await peer.closeHandshake();
    },
  },
  {
    id: '2.10',
    title: '10 Pings in a row, written in chops of 1 byte',
    rule: PING_RULE,
    expected: '10 Pongs, in order',
    async run(peer) {
      const pings: Uint8Array[] = [];
      for (let i = 0; i < 10; i++) pings.push(peer.frame(Op.PING, `ping ${i}`));
      await peer.sendChopped(concat(pings), 1);
      for (let i = 0; i < 10; i++) await peer.expectPong(`ping ${i}`);
      await peer.closeHandshake();
    },
  },
  {
    id: '2.11',
    title: 'Ping between the fragments of a text message',
    rule: 'RFC 6455 5.4: "Control frames ... MAY be injected in the middle of a fragmented message"',
    expected: 'Pong, then the echo of the whole message',
    async run(peer) {
      await peer.send(
        peer.frame(Op.TEXT, 'frag1 ', { fin: false }),
        peer.frame(Op.PING, 'between'),
        peer.frame(Op.CONT, 'frag2', { fin: true }),
      );
      await peer.expectPong('between');
      await peer.expectEcho(Op.TEXT, 'frag1 frag2');
      await peer.closeHandshake();
    },
  },
  {
    id: '2.12',
    title: 'Ping, Pong and Ping between each fragment of a binary message',
    rule: 'RFC 6455 5.4: control frames may be injected between fragments',
    expected: 'a Pong for each Ping, then the echo',
    async run(peer) {
      const parts = [randomBytes(10, 1), randomBytes(20, 2), randomBytes(30, 3)];
      await peer.send(
        peer.frame(Op.BINARY, parts[0], { fin: false }),
        peer.frame(Op.PING, 'a'),
        peer.frame(Op.PONG, 'b'),
        peer.frame(Op.CONT, parts[1], { fin: false }),
        peer.frame(Op.PING, 'c'),
        peer.frame(Op.CONT, parts[2], { fin: true }),
      );
      await peer.expectPong('a');
      await peer.expectPong('c');
      await peer.expectEcho(Op.BINARY, concat(parts));
      await peer.closeHandshake();
    },
  },
  {
    id: '2.13',
    title: 'Ping after Close',
    rule: 'RFC 6455 5.5.2: a Pong is sent "unless it already received a Close frame"',
    expected: 'Close echo 1000, no Pong',
    async run(peer) {
      await peer.send(peer.closeFrame(1000), peer.frame(Op.PING, 'late'));
      await peer.expectCloseEcho(1000);
    },
  },
  {
    id: '2.14',
    title: 'Fragmented Ping (FIN clear)',
    rule: 'RFC 6455 5.5: "Control frames ... MUST NOT be fragmented"',
    expected: 'fail 1002',
    async run(peer) {
      await peer.send(peer.frame(Op.PING, 'half', { fin: false }), peer.frame(Op.CONT, 'rest'));
      await peer.expectFail(1002);
    },
  },
];
