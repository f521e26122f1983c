/**
 * Category 9, limits: messages near and over `maxMessageSize`, frame floods
 * against `maxFragments`, lengths no implementation can hold, many messages.
 */
import type { Case } from '../case.js';
import type { Peer } from '../peer.js';
import { concat, Op, randomBytes, randomText } from '../wire.js';

const MIB = 1024 * 1024;
const LIMIT = { maxMessageSize: MIB };
const SIZE_RULE =
  'RFC 6455 10.4: "implementations SHOULD impose a limit on frame sizes and the total message size"; 7.4.1: 1009 "a message that is too big for it to process"';

/**
 * One message of `data.length` frames of 1 byte each, built directly (a
 * million frame objects would cost more than the case).
 */
function oneByteFrames(peer: Peer, opcode: number, data: Uint8Array): Uint8Array {
  const masked = peer.masks;
  const size = masked ? 7 : 3;
  const out = new Uint8Array(data.length * size);
  const key = [0x11, 0x22, 0x33, 0x44];
  for (let i = 0, at = 0; i < data.length; i++, at += size) {
    out[at] = (i === data.length - 1 ? 0x80 : 0) | (i === 0 ? opcode : 0);
    if (masked) {
      out[at + 1] = 0x81;
      out.set(key, at + 2);
      out[at + 6] = data[i]! ^ key[0]!;
    } else {
      out[at + 1] = 0x01;
      out[at + 2] = data[i]!;
    }
  }
  return out;
}

/** One message split into frames of `size` bytes (the last may be shorter). */
function sizedFrames(peer: Peer, opcode: number, data: Uint8Array, size: number): Uint8Array {
  const frames: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += size) {
    const end = Math.min(i + size, data.length);
    frames.push(
      peer.frame(i === 0 ? opcode : Op.CONT, data.subarray(i, end), { fin: end === data.length }),
    );
  }
  return concat(frames);
}

/** A frame header declaring `length` payload bytes, with no payload. */
function headerOnly(peer: Peer, opcode: number, length: bigint): Uint8Array {
  return peer.frame(opcode, new Uint8Array(0), { declaredLength: length, lengthForm: 64 });
}

export const limitCases: Case[] = [
  {
    id: '9.1.1',
    title: 'Binary message of exactly maxMessageSize (1 MiB)',
    rule: SIZE_RULE,
    expected: 'echo',
    options: LIMIT,
    async run(peer) {
      const data = randomBytes(MIB, 91);
      await peer.send(peer.frame(Op.BINARY, data));
      await peer.expectEcho(Op.BINARY, data);
      await peer.closeHandshake();
    },
  },
  {
    id: '9.1.2',
    title: 'Text message of exactly maxMessageSize (1 MiB) in 16 fragments',
    rule: SIZE_RULE,
    expected: 'echo',
    options: LIMIT,
    async run(peer) {
      const data = randomText(MIB, 92);
      const frames: Uint8Array[] = [];
      for (let i = 0; i < 16; i++) {
        frames.push(
          peer.frame(i === 0 ? Op.TEXT : Op.CONT, data.subarray(i * 65536, (i + 1) * 65536), {
            fin: i === 15,
          }),
        );
      }
      await peer.send(...frames);
      await peer.expectEcho(Op.TEXT, data);
      await peer.closeHandshake();
    },
  },
  {
    id: '9.1.3',
    title: 'Binary frame declaring maxMessageSize + 1 bytes, header only',
    rule: `${SIZE_RULE}; checked from the header, before any payload is buffered`,
    expected: 'fail 1009 before the payload is sent',
    options: LIMIT,
    async run(peer) {
      await peer.send(headerOnly(peer, Op.BINARY, BigInt(MIB + 1)));
      await peer.expectFail(1009);
    },
  },
  {
    id: '9.1.4',
    title: 'Text message of maxMessageSize + 1 bytes in two fragments (1 MiB, then 1 byte)',
    rule: SIZE_RULE,
    expected: 'fail 1009',
    options: LIMIT,
    async run(peer) {
      await peer.send(
        peer.frame(Op.TEXT, randomText(MIB, 3), { fin: false }),
        peer.frame(Op.CONT, 'x'),
      );
      await peer.expectFail(1009);
    },
  },
  {
    id: '9.1.5',
    title: 'Binary message of maxMessageSize + 1 bytes in one frame, sent whole',
    rule: SIZE_RULE,
    expected: 'fail 1009',
    options: LIMIT,
    async run(peer) {
      await peer.send(peer.frame(Op.BINARY, randomBytes(MIB + 1, 4)));
      await peer.expectFail(1009);
    },
  },
  {
    id: '9.2.1',
    title: 'Default limit: binary frame declaring 64 MiB + 1 bytes, header only',
    rule: SIZE_RULE,
    expected: 'fail 1009 before the payload is sent',
    async run(peer) {
      await peer.send(headerOnly(peer, Op.BINARY, BigInt(64 * MIB + 1)));
      await peer.expectFail(1009);
    },
  },
  {
    id: '9.2.2',
    title: 'Default limit: binary message of exactly 64 MiB',
    rule: SIZE_RULE,
    expected: 'echo',
    slow: true,
    timeout: 120_000,
    async run(peer) {
      const data = randomBytes(64 * MIB, 5);
      await peer.send(peer.frame(Op.BINARY, data));
      await peer.expectEcho(Op.BINARY, data, 60_000);
      await peer.closeHandshake();
    },
  },
  {
    id: '9.2.3',
    title: 'Frame declaring 2^63 - 1 bytes',
    rule: `${SIZE_RULE}; no memory is allocated for it`,
    expected: 'fail 1009',
    async run(peer) {
      await peer.send(headerOnly(peer, Op.BINARY, 2n ** 63n - 1n));
      await peer.expectFail(1009);
    },
  },
  {
    id: '9.2.4',
    title: 'Frame declaring 2^63 bytes (most significant bit set)',
    rule: 'RFC 6455 5.2: in the 64-bit length "the most significant bit MUST be 0"',
    expected: 'fail 1002',
    async run(peer) {
      await peer.send(headerOnly(peer, Op.BINARY, 2n ** 63n));
      await peer.expectFail(1002);
    },
  },
  {
    id: '9.2.5',
    title: 'Text frame declaring 2^53 bytes',
    rule: SIZE_RULE,
    expected: 'fail 1009',
    async run(peer) {
      await peer.send(headerOnly(peer, Op.TEXT, 2n ** 53n));
      await peer.expectFail(1009);
    },
  },
  {
    id: '9.3.1',
    title: 'Binary message of 1 M frames of 1 byte (maxFragments raised to 2^20)',
    rule: 'RFC 6455 5.4: any number of fragments is a valid message',
    expected: 'echo of the 1 MiB message',
    options: { maxFragments: 1 << 20 },
    timeout: 60_000,
    async run(peer) {
      const data = randomBytes(1 << 20, 6);
      await peer.send(oneByteFrames(peer, Op.BINARY, data));
      await peer.expectEcho(Op.BINARY, data, 30_000);
      await peer.closeHandshake();
    },
  },
  {
    id: '9.3.2',
    title: 'Text message of 1 M frames of 1 byte (maxFragments raised to 2^20)',
    rule: 'RFC 6455 5.4, 8.1: UTF-8 validity is checked across all fragments',
    expected: 'echo of the 1 MiB message',
    options: { maxFragments: 1 << 20 },
    timeout: 60_000,
    async run(peer) {
      const data = randomText(1 << 20, 7);
      await peer.send(oneByteFrames(peer, Op.TEXT, data));
      await peer.expectEcho(Op.TEXT, data, 30_000);
      await peer.closeHandshake();
    },
  },
  {
    id: '9.3.3',
    title: 'Binary message of 2^20 + 1 frames of 1 byte, default maxFragments (2^20)',
    rule: 'maxFragments: a message that never ends is refused at last; 7.4.1: 1009',
    expected: 'fail 1009',
    timeout: 60_000,
    async run(peer) {
      await peer.send(oneByteFrames(peer, Op.BINARY, randomBytes((1 << 20) + 1, 8)));
      await peer.expectFail(1009, 30_000);
    },
  },
  {
    id: '9.3.4',
    title: 'Binary message of 4 MiB in 64-byte fragments (65,536 frames), default limits',
    rule: 'RFC 6455 5.4: a message may be fragmented; fragments cost only their bytes here',
    expected: 'echo of the 4 MiB message',
    timeout: 60_000,
    async run(peer) {
      const data = randomBytes(4 * MIB, 9);
      await peer.send(sizedFrames(peer, Op.BINARY, data, 64));
      await peer.expectEcho(Op.BINARY, data, 30_000);
      await peer.closeHandshake();
    },
  },
  {
    id: '9.3.5',
    title: 'Text message of 4 MiB in 256-byte fragments (16,384 frames), default limits',
    rule: 'RFC 6455 5.4, 8.1: UTF-8 validity is checked across fragments, split anywhere',
    expected: 'echo of the 4 MiB message',
    timeout: 60_000,
    async run(peer) {
      const data = randomText(4 * MIB, 10);
      await peer.send(sizedFrames(peer, Op.TEXT, data, 256));
      await peer.expectEcho(Op.TEXT, data, 30_000);
      await peer.closeHandshake();
    },
  },
  {
    id: '9.4.1',
    title: '10,000 one-byte binary messages in one write',
    rule: 'RFC 6455 5.6: every message is delivered, in order',
    expected: '10,000 echoes in order',
    timeout: 60_000,
    async run(peer) {
      await manyMessages(peer, 10_000, 1);
    },
  },
  {
    id: '9.4.2',
    title: '200 binary messages of 64 KiB in one write',
    rule: 'RFC 6455 5.6: every message is delivered, in order (the implementation applies backpressure while it echoes)',
    expected: '200 echoes in order',
    timeout: 60_000,
    async run(peer) {
      await manyMessages(peer, 200, 65536);
    },
  },
  {
    id: '9.4.3',
    title: '1,000,000 one-byte binary messages in one write',
    rule: 'RFC 6455 5.6: every message is delivered, in order',
    expected: '1,000,000 echoes in order',
    slow: true,
    timeout: 300_000,
    async run(peer) {
      await manyMessages(peer, 1_000_000, 1, 120_000);
    },
  },
];

async function manyMessages(peer: Peer, count: number, size: number, wait?: number): Promise<void> {
  const all = randomBytes(count * size, count + size);
  const frames: Uint8Array[] = [];
  for (let i = 0; i < count; i++)
    frames.push(peer.frame(Op.BINARY, all.subarray(i * size, (i + 1) * size)));
  const sending = peer.send(concat(frames));
  for (let i = 0; i < count; i++) {
    await peer.expectEcho(Op.BINARY, all.subarray(i * size, (i + 1) * size), wait);
  }
  await sending;
  await peer.closeHandshake();
}
