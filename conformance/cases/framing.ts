/**
 * Category 1, framing (RFC 6455 5.2, 5.6): text and binary messages of every
 * length-form boundary, sent whole and in chops of 1 byte, echoed intact.
 */
import type { Case } from '../case.js';
import { Op, randomBytes, randomText } from '../wire.js';

const SIZES = [0, 125, 126, 127, 128, 65535, 65536, 16 * 1024 * 1024];
const MIB16 = 16 * 1024 * 1024;

/** Chop used over the wire for a size: 1 byte up to 64 KiB; 16 MiB in 1-byte writes would take hours, see docs/conformance.md. */
function chopFor(size: number): number {
  return size <= 65536 ? 1 : 1021;
}

function framingCase(
  group: number,
  n: number,
  opcode: number,
  size: number,
  chopped: boolean,
): Case {
  const kind = opcode === Op.TEXT ? 'text' : 'binary';
  const chop = chopFor(size);
  return {
    id: `1.${group}.${n}`,
    title: `${kind} message of ${size} bytes${chopped ? `, written in chops of ${chop} byte${chop === 1 ? '' : 's'}` : ', written whole'}`,
    rule:
      size < 126
        ? 'RFC 6455 5.2: payload length 0-125 in the 7-bit field'
        : size < 65536
          ? 'RFC 6455 5.2: "If 126, the following 2 bytes interpreted as a 16-bit unsigned integer are the payload length"'
          : 'RFC 6455 5.2: "If 127, the following 8 bytes interpreted as a 64-bit unsigned integer ... are the payload length"',
    expected: 'echo, then clean close 1000',
    timeout: size >= MIB16 ? 120_000 : 30_000,
    async run(peer) {
      const data = opcode === Op.TEXT ? randomText(size, size + 1) : randomBytes(size, size + 1);
      const frame = peer.frame(opcode, data);
      if (chopped) await peer.sendChopped(frame, chop);
      else await peer.send(frame);
      await peer.expectEcho(opcode, data, size >= MIB16 ? 60_000 : undefined);
      await peer.closeHandshake(1000);
    },
  };
}

export const framingCases: Case[] = [
  ...SIZES.map((s, i) => framingCase(1, i + 1, Op.TEXT, s, false)),
  ...SIZES.map((s, i) => framingCase(2, i + 1, Op.BINARY, s, false)),
  ...SIZES.map((s, i) => framingCase(3, i + 1, Op.TEXT, s, true)),
  ...SIZES.map((s, i) => framingCase(4, i + 1, Op.BINARY, s, true)),
  ...([16, 64] as const).map((form, i): Case => ({
    id: `1.5.${i + 1}`,
    title: `text message of 5 bytes with its length in the ${form}-bit form`,
    rule: 'RFC 6455 5.2: the sender "MUST" use the minimal length form; a receiver may accept a longer one (we do, as Autobahn expects for data frames)',
    expected: 'echo, then clean close 1000',
    async run(peer) {
      await peer.send(peer.frame(Op.TEXT, 'short', { lengthForm: form }));
      await peer.expectEcho(Op.TEXT, 'short');
      await peer.closeHandshake(1000);
    },
  })),
];
