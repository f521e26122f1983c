/**
 * Category 3, reserved bits (RFC 6455 5.2), and category 4, reserved opcodes.
 * Each bad frame follows a message in the same write and is followed by a
 * Ping that must not be answered. Input is processed strictly in order: the
 * message before the bad frame is echoed, then the connection fails at that
 * frame (Autobahn's "strict" outcome for these cases).
 */
import type { Case } from '../case.js';
import { concat, Op } from '../wire.js';

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
    expected:
      'echo of the message before it (same write), then fail 1002; no Pong for the Ping after it',
    async run(peer) {
      const bad =
        opcode === Op.CONT
          ? [peer.frame(Op.TEXT, 'start', { fin: false }), peer.frame(Op.CONT, 'end', { rsv })]
          : [peer.frame(opcode, opcode === Op.CLOSE ? Uint8Array.of(3, 232) : 'payload', { rsv })];
      // One write: the message and the violation reach the implementation in the same read.
      await peer.send(
        concat([peer.frame(Op.TEXT, 'before'), ...bad, peer.frame(Op.PING, 'after')]),
      );
      await peer.expectEcho(Op.TEXT, 'before');
      await peer.expectFail(1002);
    },
  };
}

function opcodeCase(n: number, opcode: number, withPayload: boolean): Case {
  return {
    id: `4.${n}`,
    title: `Reserved ${opcode < 8 ? 'data' : 'control'} opcode ${opcode} ${withPayload ? 'with a payload' : 'with no payload'}`,
    rule: 'RFC 6455 5.2: opcodes %x3-7 and %xB-F "are reserved"; "If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket Connection_"',
    expected:
      'echo of the message before it (same write), then fail 1002; no Pong for the Ping after it',
    async run(peer) {
      await peer.send(
        concat([
          peer.frame(Op.TEXT, 'before'),
          peer.frame(opcode, withPayload ? 'reserved' : ''),
          peer.frame(Op.PING, 'after'),
        ]),
      );
      await peer.expectEcho(Op.TEXT, 'before');
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
