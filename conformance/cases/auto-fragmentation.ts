/**
 * Category 10, auto-fragmentation: with `fragmentSize` set, the
 * implementation splits its outgoing messages into frames of at most that
 * many payload bytes, and the result is a valid fragmented message.
 */
import type { Case } from '../case.js';
import { ExpectationError, type Peer } from '../peer.js';
import { Op, randomBytes, randomText, sameBytes, utf8 } from '../wire.js';

const SIZE = 1000;
const RULE =
  'RFC 6455 5.4: "a single message ... fragmented ... a single frame with the FIN bit clear and an opcode other than 0, followed by zero or more frames with the FIN bit clear and the opcode set to 0, and terminated by a single frame with the FIN bit set and an opcode of 0"';

async function expectFragmented(peer: Peer, opcode: number, data: Uint8Array): Promise<void> {
  const m = await peer.readMessage();
  const want = Math.max(1, Math.ceil(data.length / SIZE));
  if (m.opcode !== opcode) throw new ExpectationError(`Expected opcode ${opcode}, got ${m.opcode}`);
  if (!sameBytes(m.data, data)) throw new ExpectationError('The reassembled message differs');
  if (m.frames.length !== want) {
    throw new ExpectationError(
      `Expected ${want} frames of at most ${SIZE} bytes, got ${m.frames.length}`,
    );
  }
  for (const f of m.frames) {
    if (f.payload.length > SIZE)
      throw new ExpectationError(`A frame carries ${f.payload.length} bytes`);
  }
}

function autoCase(n: number, title: string, opcode: number, data: Uint8Array): Case {
  return {
    id: `10.${n}`,
    title: `${title} (fragmentSize ${SIZE})`,
    rule: RULE,
    expected: `echo in ${Math.max(1, Math.ceil(data.length / SIZE))} frame(s) of at most ${SIZE} bytes`,
    options: { fragmentSize: SIZE },
    async run(peer) {
      await peer.send(peer.frame(opcode, data));
      await expectFragmented(peer, opcode, data);
      await peer.closeHandshake();
    },
  };
}

export const autoFragmentationCases: Case[] = [
  autoCase(1, 'Binary message of 64 KiB', Op.BINARY, randomBytes(65536, 10)),
  autoCase(2, 'Text message of 64 KiB (ASCII)', Op.TEXT, randomText(65536, 11)),
  autoCase(
    3,
    'Text message of 4-byte characters, split inside them',
    Op.TEXT,
    utf8('\u{1F600}'.repeat(1000)),
  ),
  autoCase(4, 'Binary message of exactly fragmentSize', Op.BINARY, randomBytes(SIZE, 12)),
  autoCase(5, 'Binary message of fragmentSize + 1', Op.BINARY, randomBytes(SIZE + 1, 13)),
  autoCase(6, 'Binary message smaller than fragmentSize', Op.BINARY, randomBytes(10, 14)),
  autoCase(7, 'Empty binary message', Op.BINARY, new Uint8Array(0)),
  autoCase(8, 'Binary message of 1 MiB', Op.BINARY, randomBytes(1 << 20, 15)),
];
