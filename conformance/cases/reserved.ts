/**
 * Category 3, reserved bits (RFC 6455 5.2), and category 4, reserved opcodes.
 * Each bad frame follows a message that must be echoed first and is followed
 * by a Ping that must not be answered: the connection fails at that frame.
 */
import type { Case } from '../case.js';
import { Op } from '../wire.js';

const OPCODES: Array<[string, number]> = [
  ['text', Op.TEXT],
  ['binary', Op.BINARY],
  ['continuation', Op.CONT],
  ['ping', Op.PING],
  ['pong', Op.PONG],
  ['close', Op.CLOSE],
];

function rsvCase(n: number, rsv: number, name: string, opcode: number): Case {
  const bits = [4, 2, 1]
    .filter((b) => (rsv & b) !== 0)
    .map((b) => `RSV${b === 4 ? 1 : b === 2 ? 2 : 3}`)
    .join('+');
  return {
    id: `3.${n}`,
    title: `${bits} set on a ${name} frame`,
    rule: 'RFC 6455 5.2: "If a nonzero value is received and none of the negotiated extensions defines the meaning of such a nonzero value, the receiving endpoint MUST _Fail the WebSocket Connection_"',
    expected: 'fail 1002 (after echoing the message before it), no Pong for the Ping after it',
    async run(peer) {
      await peer.send(peer.frame(Op.TEXT, 'before'));
      await peer.expectEcho(Op.TEXT, 'before');
      const bad =
        opcode === Op.CONT
          ? [peer.frame(Op.TEXT, 'start', { fin: false }), peer.frame(Op.CONT, 'end', { rsv })]
          : [peer.frame(opcode, opcode === Op.CLOSE ? Uint8Array.of(3, 232) : 'payload', { rsv })];
      await peer.send(...bad, peer.frame(Op.PING, 'after'));
      await peer.expectFail(1002);
    },
  };
}

function opcodeCase(n: number, opcode: number, withPayload: boolean): Case {
  return {
    id: `4.${n}`,
    title: `Reserved ${opcode < 8 ? 'data' : 'control'} opcode ${opcode} ${withPayload ? 'with a payload' : 'with no payload'}`,
    rule: 'RFC 6455 5.2: opcodes %x3-7 and %xB-F "are reserved"; "If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket Connection_"',
    expected: 'fail 1002 (after echoing the message before it), no Pong for the Ping after it',
    async run(peer) {
      await peer.send(peer.frame(Op.TEXT, 'before'));
      await peer.expectEcho(Op.TEXT, 'before');
      await peer.send(
        peer.frame(opcode, withPayload ? 'reserved' : ''),
        peer.frame(Op.PING, 'after'),
      );
      await peer.expectFail(1002);
    },
  };
}

export const reservedBitsCases: Case[] = [];
{
  let n = 1;
  for (const [name, opcode] of OPCODES) {
    for (let rsv = 1; rsv <= 7; rsv++) reservedBitsCases.push(rsvCase(n++, rsv, name, opcode));
  }
}

export const reservedOpcodeCases: Case[] = [];
{
  let n = 1;
  for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
    reservedOpcodeCases.push(opcodeCase(n++, opcode, false));
    reservedOpcodeCases.push(opcodeCase(n++, opcode, true));
  }
}
